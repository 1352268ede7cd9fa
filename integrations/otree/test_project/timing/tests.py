from otree.api import Bot

from . import Quick


class PlayerBot(Bot):
    def play_round(self):
        yield Quick, dict(quick=3)
