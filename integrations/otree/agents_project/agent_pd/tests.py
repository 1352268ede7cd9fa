import asyncio
import os

from otree.api import Bot, expect

from . import COOPERATE, DEFECT, Decide, Results

# `otree test` has no silico serve: point the helper at a closed port, so the agent's move is
# the fallback (the game must go on without the service).
if not os.environ.get("SILICO_SERVE_URL"):
    os.environ["SILICO_SERVE_URL"] = "http://127.0.0.1:9"


async def _drain(generator):
    return [item async for item in generator]


def call_live_method(method, **kwargs):
    # In oTree 6.0.15 a live method called from a bot is an async generator: drain it.
    out = asyncio.run(_drain(method(1, dict(type="load"))))
    expect(out[-1][1]["status"], "ready")


class PlayerBot(Bot):
    def play_round(self):
        mine = COOPERATE if self.round_number % 2 else DEFECT
        yield Decide, dict(choice=mine)
        expect(self.player.agent_source, "fallback")
        expect(self.player.agent_choice, COOPERATE)
        expect(self.player.payoff, 20 if mine == COOPERATE else 28)
        yield Results
