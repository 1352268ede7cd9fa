from otree.api import *

doc = """
Two players split 100 points over a live page: either may propose how much they keep, the other
may accept the standing proposal. The page lets them go on once a deal is struck or after
MAX_OFFERS proposals without one. There is no history replay on a live socket, so a client sends
{"type": "load"} to get the current state.
"""


class C(BaseConstants):
    NAME_IN_URL = "live_bargain"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 1
    PIE = 100
    MAX_OFFERS = 6


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    num_offers = models.IntegerField(initial=0)
    # The standing proposal: who made it and how much the proposer keeps.
    offer_by = models.IntegerField(initial=0)
    offer_keep = models.IntegerField(initial=0)
    deal = models.BooleanField(initial=False)
    finished = models.BooleanField(initial=False)


class Player(BasePlayer):
    pass


def state_for(group: Group, player: Player):
    """What one player sees: the standing proposal from their own point of view."""
    standing = None
    if group.offer_by:
        mine = group.offer_by == player.id_in_group
        standing = dict(
            by="you" if mine else "other",
            you_get=group.offer_keep if mine else C.PIE - group.offer_keep,
            other_gets=C.PIE - group.offer_keep if mine else group.offer_keep,
        )
    return dict(
        type="state",
        standing_offer=standing,
        offers_made=group.num_offers,
        offers_left=C.MAX_OFFERS - group.num_offers,
        deal=group.deal,
        finished=group.finished,
        payoff=int(player.payoff) if group.finished else None,
    )


def everyone(group: Group):
    return {p.id_in_group: state_for(group, p) for p in group.get_players()}


def live_method(player: Player, data):
    group = player.group
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "load":
        return {player.id_in_group: state_for(group, player)}
    if group.finished:
        return {player.id_in_group: dict(state_for(group, player), error="the bargaining is over")}
    if kind == "offer":
        keep = data.get("keep")
        if not isinstance(keep, int) or isinstance(keep, bool) or not 0 <= keep <= C.PIE:
            return {player.id_in_group: dict(state_for(group, player), error=f"keep must be a whole number from 0 to {C.PIE}")}
        group.offer_by = player.id_in_group
        group.offer_keep = keep
        group.num_offers += 1
        if group.num_offers >= C.MAX_OFFERS:
            group.finished = True
        return everyone(group)
    if kind == "accept":
        if not group.offer_by or group.offer_by == player.id_in_group:
            return {player.id_in_group: dict(state_for(group, player), error="there is no proposal of the other player to accept")}
        group.deal = True
        group.finished = True
        for p in group.get_players():
            p.payoff = group.offer_keep if p.id_in_group == group.offer_by else C.PIE - group.offer_keep
        return everyone(group)
    return {player.id_in_group: dict(state_for(group, player), error='unknown message: send {"type": "offer", "keep": N} or {"type": "accept"}')}


class Bargain(Page):
    live_method = live_method

    @staticmethod
    def error_message(player: Player, values):
        if not player.group.finished:
            return "The bargaining is not over yet: strike a deal or make all proposals first."


class Results(Page):
    pass


page_sequence = [Bargain, Results]
