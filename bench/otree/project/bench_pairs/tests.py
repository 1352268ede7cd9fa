from otree.api import Bot, expect

from . import Results, Send


class PlayerBot(Bot):
    # Each player sends id_in_group + round points: the pot is 3 + 2 × round.
    def play_round(self):
        amount = self.player.id_in_group + self.round_number
        yield Send, dict(amount=amount)
        expect(self.group.pot, 3 + 2 * self.round_number)
        expect(self.player.payoff, 10 - amount + self.group.pot)
        yield Results
