from otree.api import Bot, expect

from . import Contribute, Results


class PlayerBot(Bot):
    def play_round(self):
        yield Contribute, dict(contribution=self.player.id_in_group * 2)
        expect(self.group.total, 6)
        yield Results
