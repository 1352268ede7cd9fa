from otree.api import *

doc = (
    "The socket markup the page reader must find: a `{{ chat }}` page and a live page, for one "
    "participant. The chat and live games bots play are the apps `chat` and `live_bargain`."
)


class C(BaseConstants):
    NAME_IN_URL = "page_markup"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    pings = models.IntegerField(initial=0)


class Talk(Page):
    pass


def live_ping(player: Player, data):
    player.pings += 1
    return {player.id_in_group: dict(pong=player.pings)}


class Ping(Page):
    live_method = live_ping

    @staticmethod
    def error_message(player: Player, values):
        # A page without form fields still runs error_message on submit (shown in .otree-form-errors).
        if player.pings == 0:
            return "Send a ping first"


page_sequence = [Talk, Ping]
