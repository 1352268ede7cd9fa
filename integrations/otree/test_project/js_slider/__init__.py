from otree.api import *

doc = """
A page whose answer is set by JavaScript: a range input without a name writes the hidden
IntegerField `give` when the participant moves it. A plain HTTP bot sees no field to answer;
a browser bot moves the slider. Then a page with a 2-second timer and a back button, to tell a bot's own
timeout submit (its note is kept) from the page's script submitting on its own (no note).
"""


class C(BaseConstants):
    NAME_IN_URL = "js_slider"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    give = models.IntegerField(min=0, max=100)
    note = models.StringField(label="Anything to add?", blank=True)
    timed_out = models.BooleanField(initial=False)


class Slider(Page):
    form_model = "player"
    form_fields = ["give"]


class Timed(Page):
    form_model = "player"
    form_fields = ["note"]
    timeout_seconds = 2
    allow_back_button = True

    @staticmethod
    def before_next_page(player: Player, timeout_happened):
        player.timed_out = timeout_happened


class Results(Page):
    pass


page_sequence = [Slider, Timed, Results]
