from otree.api import *

doc = """
A page whose answer is set by JavaScript: a range input without a name writes the hidden
IntegerField `give` when the participant moves it. A plain HTTP bot sees no field to answer;
a browser bot moves the slider.
"""


class C(BaseConstants):
    NAME_IN_URL = "js_slider"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    give = models.IntegerField(min=0, max=100)


class Slider(Page):
    form_model = "player"
    form_fields = ["give"]


class Results(Page):
    pass


page_sequence = [Slider, Results]
