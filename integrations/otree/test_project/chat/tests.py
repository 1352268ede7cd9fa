from otree.api import Bot

from . import Chat


class PlayerBot(Bot):
    def play_round(self):
        # oTree's own bots cannot chat (no socket); they check the page renders and submits.
        yield Chat, dict(contribution=5)
        # Results is the last page and has nothing to submit.
