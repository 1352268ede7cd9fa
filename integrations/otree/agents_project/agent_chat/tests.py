import asyncio
import os

from otree.api import Bot, expect

from . import Chat, Message

# `otree test` has no silico serve: point the helper at a closed port, so every turn takes the
# fallback path (the page must keep working without the service).
if not os.environ.get("SILICO_SERVE_URL"):
    os.environ["SILICO_SERVE_URL"] = "http://127.0.0.1:9"


async def _drain(generator):
    return [item async for item in generator]


def call_live_method(method, **kwargs):
    # In oTree 6.0.15 a live method called from a bot is an async generator: drain it.
    out = asyncio.run(_drain(method(1, dict(type="say", text="Hello there"))))
    expect(out[0][1]["type"], "typing")
    expect(out[1][1]["type"], "reply")
    history = asyncio.run(_drain(method(1, dict(type="load"))))
    expect(len(history[0][1]["messages"]), 2)


class PlayerBot(Bot):
    def play_round(self):
        yield Chat
        messages = sorted(Message.filter(player=self.player), key=lambda m: m.seq)
        expect([m.role for m in messages], ["user", "assistant"])
        expect(messages[1].ok, False)
        # Done is the last page (no button): the bot stops there.
