# Two oTree 6 apps where a human participant meets an LLM agent answered by `silico serve`:
# agent_chat (free chat) and agent_pd (the repeated prisoner's dilemma with an LLM partner).
from os import environ

SESSION_CONFIGS = [
    dict(
        name="agent_chat",
        display_name="Chat with an LLM agent",
        app_sequence=["agent_chat"],
        num_demo_participants=1,
        treatment="friendly",
    ),
    dict(
        name="agent_pd",
        display_name="Repeated prisoner's dilemma with an LLM partner",
        app_sequence=["agent_pd"],
        num_demo_participants=1,
    ),
]

SESSION_CONFIG_DEFAULTS = dict(real_world_currency_per_point=0.01, participation_fee=1.00, doc="")

PARTICIPANT_FIELDS = []
SESSION_FIELDS = []

LANGUAGE_CODE = "en"
REAL_WORLD_CURRENCY_CODE = "EUR"
USE_POINTS = True

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = environ.get("OTREE_ADMIN_PASSWORD")

DEMO_PAGE_INTRO_HTML = ""

# An example project: the key only signs cookies of a local server. Set your own for real use.
SECRET_KEY = environ.get("OTREE_SECRET_KEY", "silico-agents-example-not-secret")
