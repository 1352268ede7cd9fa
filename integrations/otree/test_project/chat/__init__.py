from otree.api import *

doc = "Two players chat ({{ chat }}), then each says how much they contribute; a results page follows."


class C(BaseConstants):
    NAME_IN_URL = "chat"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    contribution = models.IntegerField(label="After the chat: how much do you contribute (0 to 10)?", min=0, max=10)


class Chat(Page):
    form_model = "player"
    form_fields = ["contribution"]


class Results(Page):
    pass


page_sequence = [Chat, Results]
