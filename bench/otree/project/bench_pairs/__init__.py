from otree.api import *

doc = "Two players send points to a common pot each round; the pot is doubled and split."


class C(BaseConstants):
    NAME_IN_URL = "bench_pairs"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 3
    ENDOWMENT = 10


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pot = models.IntegerField()


class Player(BasePlayer):
    amount = models.IntegerField(
        label="How many of your 10 points do you send to the pot? Answer with a number from 0 to 10.",
        min=0,
        max=C.ENDOWMENT,
    )


def split_pot(group: Group):
    players = group.get_players()
    group.pot = sum(p.amount for p in players)
    for p in players:
        p.payoff = C.ENDOWMENT - p.amount + group.pot * 2 / len(players)


class Send(Page):
    form_model = "player"
    form_fields = ["amount"]


class PotWaitPage(WaitPage):
    after_all_players_arrive = split_pot
    body_text = "Waiting for the other participant to decide."


class Results(Page):
    pass


page_sequence = [Send, PotWaitPage, Results]
