from otree.api import Bot, Submission, SubmissionMustFail, expect, cu

from . import Offer, Split, Widgets

WIDGET_ANSWERS = dict(
    age=30, height=1.75, temperature=-3.5, bid=cu(12), name="Ada", essay="Coffee, then work.",
    color="g", fruit="Banana", rating=4, likes_tea=True, agree=True,
)


class PlayerBot(Bot):
    def play_round(self):
        yield SubmissionMustFail(Widgets, dict(WIDGET_ANSWERS, age=12))
        yield Widgets, WIDGET_ANSWERS
        expect(self.player.fruit, "Banana")
        yield Submission(Offer, dict(accepted=True), check_html=False)
        expect(self.player.accepted, True)
        yield SubmissionMustFail(Split, dict(guess=3, share_a=50, share_b=50))
        yield SubmissionMustFail(Split, dict(guess=4, share_a=50, share_b=40))
        yield Split, dict(guess=4, share_a=60, share_b=40)
        # Results is the last page and has no button: the bot stops there.
        expect("60 points to A", "in", self.html)
