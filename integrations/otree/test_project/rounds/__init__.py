from otree.api import *

doc = "Three rounds of pages shown only in some rounds: a bot cannot count its round by the pages it saw."


class C(BaseConstants):
    NAME_IN_URL = "rounds"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 3


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    age = models.IntegerField(label="Your age?", min=18, max=99)
    guess = models.IntegerField(label="Guess a number from 0 to 10.", min=0, max=10)
    bonus = models.IntegerField(label="A bonus guess from 0 to 10.", min=0, max=10)


class Welcome(Page):
    form_model = "player"
    form_fields = ["age"]

    @staticmethod
    def is_displayed(player: Player):
        return player.round_number == 1


class Guess(Page):
    form_model = "player"
    form_fields = ["guess"]


class Bonus(Page):
    form_model = "player"
    form_fields = ["bonus"]

    @staticmethod
    def is_displayed(player: Player):
        return player.round_number >= 2


class Done(Page):
    pass


page_sequence = [Welcome, Guess, Bonus, Done]
