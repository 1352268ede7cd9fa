from otree.api import *

from silico_agents import ask

doc = """The repeated prisoner's dilemma of the alter_ego paper with an LLM partner answered by
`silico serve`. Each round the agent decides when the page opens, without knowing the human's
choice (the human does not see the agent's choice either): a simultaneous move. The agent's call
runs in an async live method, so nobody's page waits for the model."""

COOPERATE, DEFECT = "COOPERATE", "DEFECT"
# (my choice, other's choice) -> my points, as in the paper: 20/20, 0/28, 28/0, 8/8
PAYOFFS = {(COOPERATE, COOPERATE): 20, (COOPERATE, DEFECT): 0, (DEFECT, COOPERATE): 28, (DEFECT, DEFECT): 8}


class C(BaseConstants):
    NAME_IN_URL = "agent_pd"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 10
    # The agent's move when the service cannot give one (down, too slow, unusable answer).
    FALLBACK_CHOICE = COOPERATE


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    choice = models.StringField(choices=[[COOPERATE, "Cooperate"], [DEFECT, "Defect"]], widget=widgets.RadioSelect)
    agent_choice = models.StringField(blank=True)
    agent_text = models.LongStringField(blank=True)  # the agent's reply as written
    agent_source = models.StringField(blank=True)  # "model", or "fallback" with the reason in agent_error
    agent_error = models.LongStringField(blank=True)
    agent_payoff = models.CurrencyField()


def history_for_agent(player):
    """Earlier rounds from the agent's side: its choice, the human's, its points."""
    return [
        dict(round=p.round_number, you=p.agent_choice, other=p.choice, payoff=int(p.agent_payoff))
        for p in player.in_previous_rounds()
    ]


async def decide_for_agent(player):
    reply = await ask(
        player,
        "partner",
        "",
        turn="r%d" % player.round_number,
        vars=dict(rounds=C.NUM_ROUNDS, history=history_for_agent(player)),
    )
    player.agent_text = reply["text"]
    if reply["ok"] and reply["valid"] and reply["value"] in (COOPERATE, DEFECT):
        player.agent_choice, player.agent_source = reply["value"], "model"
    else:
        player.agent_choice, player.agent_source = C.FALLBACK_CHOICE, "fallback"
        player.agent_error = reply["error"] or "unusable answer: %s" % reply["text"][:200]


class Decide(Page):
    form_model = "player"
    form_fields = ["choice"]

    @staticmethod
    def vars_for_template(player):
        return dict(history=history_for_agent(player))

    @staticmethod
    async def live_method(player, data):
        if not player.field_maybe_none("agent_choice"):
            yield {player.id_in_group: dict(status="thinking")}
            await decide_for_agent(player)
        yield {player.id_in_group: dict(status="ready")}

    @staticmethod
    def before_next_page(player, timeout_happened):
        # Never an LLM call here (it would hold oTree's global lock): the fallback if the page's
        # live message never came (JavaScript off, a bot without call_live_method).
        if not player.field_maybe_none("agent_choice"):
            player.agent_choice, player.agent_source = C.FALLBACK_CHOICE, "fallback"
            player.agent_error = "the agent was not asked"
        player.payoff = PAYOFFS[(player.choice, player.agent_choice)]
        player.agent_payoff = PAYOFFS[(player.agent_choice, player.choice)]


class Results(Page):
    pass


page_sequence = [Decide, Results]
