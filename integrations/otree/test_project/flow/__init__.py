from otree.api import *

doc = (
    "Page flow for bots: hand-written buttons with a field error, a back button, a timed page "
    "(session config `timed_seconds`, default 60) and a last page without a form."
)


class C(BaseConstants):
    NAME_IN_URL = "flow"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    door = models.IntegerField(choices=[[1, "Door A"], [2, "Door B"], [3, "Door C"]])
    guess = models.IntegerField(label="Guess a number from 0 to 100", min=0, max=100)
    sure = models.BooleanField(label="Are you sure?")
    quick = models.IntegerField(label="Quick: how many legs has a spider?", min=0, max=20)
    timed_out = models.BooleanField(initial=False)


def door_error_message(player: Player, value):
    if value == 3:
        return "Door C is locked"


class Door(Page):
    form_model = "player"
    form_fields = ["door"]


class Guess(Page):
    form_model = "player"
    form_fields = ["guess"]


class Confirm(Page):
    form_model = "player"
    form_fields = ["sure"]
    # oTree 6: the page that has `{{ back_button }}` must allow it; the button goes to the page before.
    allow_back_button = True


class Timed(Page):
    form_model = "player"
    form_fields = ["quick"]
    timeout_submission = dict(quick=0)

    @staticmethod
    def get_timeout_seconds(player: Player):
        return player.session.config.get("timed_seconds", 60)

    @staticmethod
    def before_next_page(player: Player, timeout_happened):
        player.timed_out = timeout_happened


class Thanks(Page):
    pass


page_sequence = [Door, Guess, Confirm, Timed, Thanks]
