from otree.api import *

doc = (
    "The widgets the `widgets` app leaves out: a DecimalField with a unit, numbers without a lower bound "
    "(min=None), an integer select whose labels differ from its values, horizontal radios of strings, "
    "and optional (blank=True) fields of every kind."
)


class C(BaseConstants):
    NAME_IN_URL = "more_widgets"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Euros(DecimalUnit):
    # Two places in and out: oTree renders a type=text input with inputmode="decimal" and a unit span.
    storage_places = 2
    input_places = 2
    input_unit_label = "EUR"
    output_min_places = 2
    output_max_places = 2


class Player(BasePlayer):
    price = models.DecimalField(unit=Euros, label="A fair price for a coffee", min=0, max=20)
    # oTree 6 gives numbers a minimum of 0 unless min=None is passed.
    balance = models.IntegerField(label="Your bank balance in euros (may be negative)", min=None)
    change = models.FloatField(label="Change in temperature since yesterday", min=None, max=10)
    size = models.IntegerField(label="Cup size", choices=[[1, "Small"], [2, "Medium"], [3, "Large"]])
    side = models.StringField(
        label="Which side of the room?",
        choices=[["L", "Left"], ["R", "Right"]],
        widget=widgets.RadioSelectHorizontal,
    )
    nickname = models.StringField(label="A nickname (optional)", blank=True)
    comment = models.LongStringField(label="Any comments? (optional)", blank=True)
    lucky = models.IntegerField(label="A lucky number (optional)", min=1, max=99, blank=True)
    tip = models.CurrencyField(label="A tip (optional)", blank=True)
    milk = models.BooleanField(label="Milk? (optional)", blank=True)
    topping = models.StringField(
        label="A topping (optional)",
        choices=[["c", "Cinnamon"], ["k", "Cocoa"]],
        blank=True,
    )
    sugar = models.BooleanField(label="Sugar", widget=widgets.CheckboxInput, blank=True)
    # Without blank=True a checkbox must be ticked: oTree renders `required` and refuses it unticked.
    consent = models.BooleanField(label="I have read the menu", widget=widgets.CheckboxInput)


class MoreWidgets(Page):
    form_model = "player"
    form_fields = [
        "price", "balance", "change", "size", "side",
        "nickname", "comment", "lucky", "tip", "milk", "topping", "sugar", "consent",
    ]


class Summary(Page):
    pass


page_sequence = [MoreWidgets, Summary]
