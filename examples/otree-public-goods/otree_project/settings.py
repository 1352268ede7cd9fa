# The oTree project of silico's example examples/otree-public-goods: one public goods game for a
# group of 4, 3 rounds. A plain oTree 6 project: `otree devserver` and `otree test public_goods`
# work on it without silico.
from os import environ

SESSION_CONFIGS = [
    dict(
        name="public_goods",
        display_name="Public goods game (4 players, 3 rounds)",
        app_sequence=["public_goods"],
        num_demo_participants=4,
        # Each point in the group account is multiplied by this and shared equally among the 4
        # (a marginal per-capita return of multiplier / 4). silico's `session.modified_config` can change it.
        multiplier=1.6,
    ),
]

SESSION_CONFIG_DEFAULTS = dict(real_world_currency_per_point=0.05, participation_fee=0.00, doc="")

PARTICIPANT_FIELDS = []
SESSION_FIELDS = []

LANGUAGE_CODE = "en"
REAL_WORLD_CURRENCY_CODE = "USD"
USE_POINTS = True

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = environ.get("OTREE_ADMIN_PASSWORD")

DEMO_PAGE_INTRO_HTML = "A public goods game for a group of 4 over 3 rounds."

# An example on a local server: replace it (and set OTREE_ADMIN_PASSWORD) before any real use.
SECRET_KEY = environ.get("OTREE_SECRET_KEY", "silico-example-not-secret")
