from otree.api import *

doc = "A timed page (2 s): a slow bot's answer arrives after the timer ran out."


class C(BaseConstants):
    NAME_IN_URL = "timing"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    quick = models.IntegerField(label="Pick a number from 1 to 5", min=1, max=5)


class Quick(Page):
    form_model = "player"
    form_fields = ["quick"]
    timeout_seconds = 2


class Done(Page):
    pass


page_sequence = [Quick, Done]
