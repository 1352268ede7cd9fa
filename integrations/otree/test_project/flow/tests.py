from otree.api import Bot, Submission, SubmissionMustFail, expect

from . import Confirm, Door, Guess, Timed


class PlayerBot(Bot):
    def play_round(self):
        yield SubmissionMustFail(Door, dict(door=3), check_html=False)
        yield Submission(Door, dict(door=2), check_html=False)
        yield Guess, dict(guess=40)
        expect("You guessed 40", "in", self.html)
        yield Confirm, dict(sure=True)
        # The timer runs out: oTree fills the field from timeout_submission.
        yield Submission(Timed, dict(quick=8), timeout_happened=True)
        expect(self.player.timed_out, True)
        expect(self.player.quick, 8)
        expect(self.player.door, 2)
        expect("The time ran out", "in", self.html)
