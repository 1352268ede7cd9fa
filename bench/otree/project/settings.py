# The oTree project `npm run bench:otree` plays: one 2-player game over 3 rounds with a wait page
# each round and one number field per round, deterministic given the answers. Kept tiny on
# purpose: the bench measures how fast pages get played, not what a game does.
from os import environ

SESSION_CONFIGS = [
    dict(
        name="bench_pairs",
        display_name="Bench: pairs, 3 rounds, wait pages",
        app_sequence=["bench_pairs"],
        num_demo_participants=2,
    ),
]

SESSION_CONFIG_DEFAULTS = dict(real_world_currency_per_point=1.00, participation_fee=0.00, doc="")

PARTICIPANT_FIELDS = []
SESSION_FIELDS = []

LANGUAGE_CODE = "en"
REAL_WORLD_CURRENCY_CODE = "USD"
USE_POINTS = True

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = environ.get("OTREE_ADMIN_PASSWORD")

DEMO_PAGE_INTRO_HTML = ""

# A bench project: the key only signs cookies of a throw-away local server.
SECRET_KEY = "silico-bench-project-not-secret"
