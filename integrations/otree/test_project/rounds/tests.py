from otree.api import Bot, expect

from . import Bonus, Done, Guess, Welcome


class PlayerBot(Bot):
    def play_round(self):
        if self.round_number == 1:
            yield Welcome, dict(age=30)
        yield Guess, dict(guess=self.round_number)
        if self.round_number >= 2:
            yield Bonus, dict(bonus=10 - self.round_number)
            expect(self.player.bonus, 10 - self.round_number)
        yield Done
