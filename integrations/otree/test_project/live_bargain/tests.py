import asyncio

from otree.api import Bot, expect

from . import Bargain


def drain(method, id_in_group, data):
    """oTree 6.0.15 hands tests an async generator that does nothing until drained."""

    async def run():
        return [payload async for payload in method(id_in_group, data)]

    return asyncio.run(run())


def call_live_method(method, **kwargs):
    [loaded] = drain(method, 1, {"type": "load"})
    expect(loaded[1]["standing_offer"], None)
    [rejected] = drain(method, 1, {"type": "accept"})
    expect("error" in rejected[1], True)
    drain(method, 1, {"type": "offer", "keep": 70})
    [countered] = drain(method, 2, {"type": "offer", "keep": 55})
    expect(countered[1]["standing_offer"], dict(by="other", you_get=45, other_gets=55))
    [done] = drain(method, 1, {"type": "accept"})
    expect(done[2]["finished"], True)
    expect(done[2]["payoff"], 55)


class PlayerBot(Bot):
    def play_round(self):
        yield Bargain
        expect(self.group.deal, True)
        expect(self.player.payoff, 45 if self.player.id_in_group == 1 else 55)
        # Results is the last page and has nothing to submit.
