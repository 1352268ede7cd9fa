import asyncio

from otree.api import Bot, expect

from . import Ping, Talk


async def drain(gen):
    # oTree 6.0.15's call_live_method returns an async generator that runs only when drained.
    async for _ in gen:
        pass


def call_live_method(method, **kwargs):
    asyncio.run(drain(method(1, {})))
    expect(kwargs["group"].get_player_by_id(1).pings, 1)


class PlayerBot(Bot):
    def play_round(self):
        expect("otree-chat", "in", self.html)
        yield Talk
        yield Ping
