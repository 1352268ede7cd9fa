from otree.api import Bot, expect

from . import C, Contribute, Introduction, Results


class PlayerBot(Bot):
    def play_round(self):
        if self.round_number == 1:
            yield Introduction
        # Players 1..4 put in 0, 5, 10 and 15 points: 30 in the account, 12 back to each at 1.6.
        contribution = (self.player.id_in_group - 1) * 5
        yield Contribute, dict(contribution=contribution)
        expect(self.group.total_contribution, 30)
        expect(self.player.payoff, C.ENDOWMENT - contribution + 12)
        yield Results
