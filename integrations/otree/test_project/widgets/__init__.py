from otree.api import *

doc = "Every standard oTree widget, a field-level and a page-level validation error, hand-written buttons."


class C(BaseConstants):
    NAME_IN_URL = "widgets"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    age = models.IntegerField(label="How old are you?", min=18, max=120)
    height = models.FloatField(label="Your height in metres")
    # A negative minimum changes the markup: oTree then renders inputmode="" instead of "decimal".
    temperature = models.FloatField(label="Temperature outside in Celsius", min=-50, max=50)
    bid = models.CurrencyField(label="Your bid", min=0, max=100)
    name = models.StringField(label="Your first name")
    essay = models.LongStringField(label="Describe your morning")
    color = models.StringField(
        label="Favourite colour",
        choices=[["r", "Red"], ["g", "Green"], ["b", "Blue"]],
    )
    fruit = models.StringField(
        label="Pick a fruit",
        choices=["Apple", "Banana", "Cherry"],
        widget=widgets.RadioSelect,
    )
    rating = models.IntegerField(
        label="Rate this survey",
        choices=[1, 2, 3, 4, 5],
        widget=widgets.RadioSelectHorizontal,
    )
    likes_tea = models.BooleanField(label="Do you like tea?")
    agree = models.BooleanField(label="I agree to the terms", widget=widgets.CheckboxInput, blank=True)
    accepted = models.BooleanField()
    guess = models.IntegerField(label="Guess an even number")
    share_a = models.IntegerField(label="Share for A", min=0, max=100)
    share_b = models.IntegerField(label="Share for B", min=0, max=100)


def guess_error_message(player: Player, value):
    if value % 2 != 0:
        return "The guess must be even"


class Widgets(Page):
    form_model = "player"
    form_fields = ["age", "height", "temperature", "bid", "name", "essay", "color", "fruit", "rating", "likes_tea", "agree"]


class Offer(Page):
    form_model = "player"
    form_fields = ["accepted"]


class Split(Page):
    form_model = "player"
    form_fields = ["guess", "share_a", "share_b"]

    @staticmethod
    def error_message(player: Player, values):
        if values["share_a"] + values["share_b"] != 100:
            return "The shares must add up to 100"


class Results(Page):
    pass


page_sequence = [Widgets, Offer, Split, Results]
