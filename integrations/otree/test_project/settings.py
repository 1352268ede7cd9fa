# A small oTree 6 project written for silico's tests: every standard widget, validation errors,
# and a two-player game with a wait page. Not a game anyone should run for real.
from os import environ

SESSION_CONFIGS = [
    dict(name="widgets", display_name="Every widget", app_sequence=["widgets"], num_demo_participants=1),
    dict(name="waiting", display_name="Two players, wait page, 3 rounds", app_sequence=["waiting"], num_demo_participants=2),
]

# otreeapps (issue 11): the widgets `widgets` leaves out, page flow (buttons, back, timer, end), and
# a multi-app tour for two participants through all of them and the wait pages of `waiting`.
SESSION_CONFIGS += [
    dict(name="more_widgets", display_name="Decimal, negative, optional widgets", app_sequence=["more_widgets"], num_demo_participants=1),
    dict(name="flow", display_name="Buttons, back, a timer, an end page", app_sequence=["flow"], num_demo_participants=1, timed_seconds=60),
    dict(name="page_markup", display_name="Chat and live markup for the page reader", app_sequence=["page_markup"], num_demo_participants=1),
    dict(name="tour", display_name="Every app in one session", app_sequence=["more_widgets", "waiting", "flow"], num_demo_participants=2, timed_seconds=60),
]

# otreesockets: chat and live pages (websockets).
SESSION_CONFIGS += [
    dict(name="chat", display_name="Two players chat, then contribute", app_sequence=["chat"], num_demo_participants=2),
    dict(name="live_bargain", display_name="Two players bargain on a live page", app_sequence=["live_bargain"], num_demo_participants=2),
]

# otreebrowser: a page whose only input is set by JavaScript (a slider writing a hidden field).
SESSION_CONFIGS += [
    dict(name="js_slider", display_name="A slider set by JavaScript", app_sequence=["js_slider"], num_demo_participants=1),
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

# A test project: the key only signs cookies of a throw-away local server.
SECRET_KEY = "silico-test-project-not-secret"

# otreecore (silico's kind: otree tests): a session over two apps, and a live page the first
# participant meets without a live handler (that bot stops while the other finishes), a timed page.
SESSION_CONFIGS += [
    dict(name="two_apps", display_name="Wait page game, then every widget", app_sequence=["waiting", "widgets"], num_demo_participants=2),
    dict(name="unsupported", display_name="A live page for seat 1 only", app_sequence=["unsupported", "widgets"], num_demo_participants=2),
    dict(name="timing", display_name="A 2-second page", app_sequence=["timing"], num_demo_participants=1),
]

# otreeseats (issue 11): pages shown only in some rounds, then the wait-page game: rounds from the
# page index (production servers have no debug panel).
SESSION_CONFIGS += [
    dict(name="rounds", display_name="Pages shown in some rounds, then the wait-page game", app_sequence=["rounds", "waiting"], num_demo_participants=2),
]
