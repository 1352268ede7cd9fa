from otree.api import *

doc = "A live page only the first participant sees (a bot without a live handler must stop there), then a plain question."


class C(BaseConstants):
    NAME_IN_URL = "unsupported"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    mood = models.StringField(label="How do you feel?", choices=["good", "bad"])


def live_ping(player: Player, data):
    return {player.id_in_group: dict(pong=data)}


class LivePing(Page):
    live_method = live_ping

    @staticmethod
    def is_displayed(player: Player):
        return player.id_in_subsession == 1


class Mood(Page):
    form_model = "player"
    form_fields = ["mood"]


page_sequence = [LivePing, Mood]
