from otree.api import *

doc = """
A linear public goods game: each of 4 players gets 20 points per round and decides how many to put
into a group account. The account is multiplied (session config `multiplier`, default 1.6) and
split equally among the group.
"""


class C(BaseConstants):
    NAME_IN_URL = "public_goods"
    PLAYERS_PER_GROUP = 4
    NUM_ROUNDS = 3
    ENDOWMENT = 20


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    total_contribution = models.IntegerField()
    individual_share = models.FloatField()


class Player(BasePlayer):
    contribution = models.IntegerField(
        label="How many of your 20 points do you put into the group account?",
        min=0,
        max=C.ENDOWMENT,
    )


def multiplier(group: Group):
    return group.session.config.get("multiplier", 1.6)


def set_payoffs(group: Group):
    players = group.get_players()
    group.total_contribution = sum(p.contribution for p in players)
    group.individual_share = group.total_contribution * multiplier(group) / C.PLAYERS_PER_GROUP
    for p in players:
        p.payoff = C.ENDOWMENT - p.contribution + group.individual_share


class Introduction(Page):
    @staticmethod
    def is_displayed(player: Player):
        return player.round_number == 1

    @staticmethod
    def vars_for_template(player: Player):
        return dict(multiplier=multiplier(player.group))


class Contribute(Page):
    form_model = "player"
    form_fields = ["contribution"]

    @staticmethod
    def vars_for_template(player: Player):
        previous = player.in_previous_rounds()[-1] if player.round_number > 1 else None
        return dict(multiplier=multiplier(player.group), previous=previous)


class ResultsWaitPage(WaitPage):
    after_all_players_arrive = set_payoffs
    body_text = "Waiting for the other members of your group to decide."


class Results(Page):
    pass


page_sequence = [Introduction, Contribute, ResultsWaitPage, Results]
