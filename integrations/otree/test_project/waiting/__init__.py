from otree.api import *

doc = "Two players contribute over 3 rounds; a wait page pays both once both have answered."


class C(BaseConstants):
    NAME_IN_URL = "waiting"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 3


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    total = models.IntegerField()


class Player(BasePlayer):
    contribution = models.IntegerField(label="How much do you contribute (0 to 10)?", min=0, max=10)


def set_payoffs(group: Group):
    group.total = sum(p.contribution for p in group.get_players())
    for p in group.get_players():
        p.payoff = 10 - p.contribution + group.total * 0.75


class Contribute(Page):
    form_model = "player"
    form_fields = ["contribution"]


class ResultsWaitPage(WaitPage):
    after_all_players_arrive = set_payoffs
    body_text = "Waiting for the other participant to decide."


class Results(Page):
    pass


page_sequence = [Contribute, ResultsWaitPage, Results]
