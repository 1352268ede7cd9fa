from otree.api import Bot, Submission

from . import LivePing, Mood


class PlayerBot(Bot):
    def play_round(self):
        if self.player.id_in_subsession == 1:
            yield Submission(LivePing, check_html=False)
        yield Mood, dict(mood="good")
