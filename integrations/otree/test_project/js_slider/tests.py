from otree.api import Bot, Submission, SubmissionMustFail, expect

from . import Slider, Timed


class PlayerBot(Bot):
    def play_round(self):
        # The hidden field is empty until the slider moves: submitting it untouched must fail.
        yield SubmissionMustFail(Slider, dict(), check_html=False)
        yield Submission(Slider, dict(give=70), check_html=False)
        expect(self.player.give, 70)
        yield Submission(Timed, dict(note="late"), timeout_happened=True)
        expect(self.player.timed_out, True)
        expect("You gave 70 points", "in", self.html)
        expect("Timed out: yes. Note: [late]", "in", self.html)
