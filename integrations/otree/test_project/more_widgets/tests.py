from decimal import Decimal

from otree.api import Bot, SubmissionMustFail, expect

from . import MoreWidgets, Summary

REQUIRED = dict(price="2.50", balance=-250, change=-1.5, size=2, side="R", consent=True)


class PlayerBot(Bot):
    def play_round(self):
        # A required field left out, and a value above its maximum, are both refused.
        yield SubmissionMustFail(MoreWidgets, dict(REQUIRED, side=""))
        yield SubmissionMustFail(MoreWidgets, dict(REQUIRED, price="25"))
        # An unticked checkbox is left out of the post. (Posting "False" would tick it: wtforms counts
        # only a missing value, "false" and "" as unticked.)
        yield SubmissionMustFail(MoreWidgets, {k: v for k, v in REQUIRED.items() if k != "consent"})
        # Only the required fields: every optional one may stay empty.
        yield MoreWidgets, REQUIRED
        expect(Decimal(self.player.price), Decimal("2.50"))
        expect(self.player.balance, -250)
        expect(self.player.size, 2)
        expect(self.player.nickname, "")
        expect(self.player.field_maybe_none("lucky"), None)
        expect(self.player.field_maybe_none("milk"), None)
        expect(self.player.sugar, False)
        expect(self.player.consent, True)
        expect("A Medium coffee", "in", self.html)
        yield Summary
