"""silico_agents: LLM agents for human participants of an oTree experiment.

Written by `silico otree helper > silico_agents.py`; standard library only. It asks a running
`silico serve AGENTS_FILE` for an agent's turn, from an oTree page's ``async def live_method``
that yields (oTree 6 runs those outside its global lock):

    from silico_agents import ask

    async def live_method(player, data):
        yield {player.id_in_group: {"type": "typing"}}
        reply = await ask(player, "partner", data["text"], turn=f"m{n}")
        yield {player.id_in_group: {"type": "reply", "text": reply["text"]}}

Never call it from before_next_page, vars_for_template, after_all_players_arrive or a plain
``def live_method``: those run under oTree's global lock, so every participant's page would wait
for the model. ``ask`` never raises: when the service is down, slow or refuses the request, it
returns the fallback text with ``ok`` False and the reason in ``error``.

Settings (environment variables of the oTree server):
  SILICO_SERVE_URL      where silico serve listens (default http://127.0.0.1:8790)
  SILICO_SERVE_TOKEN    its bearer token, if it has one
  SILICO_SERVE_TIMEOUT  seconds to wait for one turn (default 60)
  SILICO_SERVE_THREADS  turns in flight at once from this oTree process (default 32)
"""

import asyncio
import json
import logging
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

SILICO_VERSION = "dev"
DEFAULT_FALLBACK = "Sorry, I cannot answer right now."

_log = logging.getLogger("silico_agents")
# A pool of its own: the event loop's default pool has few threads and would make concurrent
# conversations wait for each other.
_pool = ThreadPoolExecutor(
    max_workers=int(os.environ.get("SILICO_SERVE_THREADS", "32")),
    thread_name_prefix="silico-agents",
)


_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_LOOPBACK = ("http://127.", "http://localhost", "http://[::1]")


def _post(url, body, token, timeout):
    headers = {"content-type": "application/json", "x-silico-helper": SILICO_VERSION}
    if token:
        headers["authorization"] = "Bearer " + token
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        # A loopback service is reached directly, whatever proxy the environment names.
        opener = _direct if url.startswith(_LOOPBACK) else urllib.request.build_opener()
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _where(player):
    """What the service needs to know about the page, read in the event loop (not in a thread)."""
    participant = player.participant
    where = {
        "session": player.session.code,
        "participant": participant.code,
        "app": type(player).__module__.split(".")[0],
        "round": player.round_number,
    }
    group = getattr(player, "group", None)
    if group is not None:
        where["group"] = "%s-%s" % (where["app"], group.id_in_subsession)
    page = getattr(participant, "_current_page_name", None)
    if page:
        where["page"] = page
    return where


async def ask(player, agent, message=None, *, turn, transcript=None, vars=None, page=None,
              group=None, timeout=None, fallback=DEFAULT_FALLBACK):
    """One turn of `agent` (a name from the agents file), owned by this player or their group.

    Send `message` (silico keeps the agent's memory) or `transcript` (a list of
    {"role": "user"|"assistant", "content": text} ending with the user's message). `turn` is the
    turn key: asking again with the same key returns the same stored answer, never a second call.
    `vars` are template variables for the agent's prompts (treatment, payoffs so far …).
    An agent owned by a group is keyed by the app and the group's id_in_subsession (the same
    group across rounds with fixed matching); pass `group` to key it otherwise (e.g. per round).

    Returns a dict: text, value (parsed), valid, ok (False: the fallback text), error, replayed.
    """
    body = dict(_where(player), agent=agent, turn=str(turn))
    if page is not None:
        body["page"] = page
    if group is not None:
        body["group"] = str(group)
    if transcript is not None:
        body["transcript"] = transcript
    else:
        body["message"] = "" if message is None else str(message)
    if vars:
        body["vars"] = vars
    limit = float(timeout if timeout is not None else os.environ.get("SILICO_SERVE_TIMEOUT", "60"))
    url = os.environ.get("SILICO_SERVE_URL", "http://127.0.0.1:8790").rstrip("/") + "/v1/turn"
    token = os.environ.get("SILICO_SERVE_TOKEN")
    loop = asyncio.get_running_loop()
    try:
        data = json.dumps(body).encode("utf-8")
        status, raw = await asyncio.wait_for(
            loop.run_in_executor(_pool, _post, url, data, token, limit), limit + 1
        )
        reply = json.loads(raw.decode("utf-8") or "{}")
        if status != 200:
            raise RuntimeError("silico serve answered %s: %s" % (status, reply.get("error", raw[:200])))
        if reply.get("helper_warning"):
            _log.warning("%s", reply["helper_warning"])
        return {
            "text": reply.get("text", ""),
            "value": reply.get("value"),
            "valid": bool(reply.get("valid")),
            "ok": True,
            "error": None,
            "replayed": bool(reply.get("replayed")),
        }
    except Exception as e:  # never raise into oTree: the page must keep working
        if isinstance(e, asyncio.TimeoutError):
            error = "no answer within %s s" % limit
        else:
            error = str(e) or type(e).__name__
        _log.warning("silico agent %s, turn %s: %s; using the fallback text", agent, turn, error)
        return {"text": fallback, "value": None, "valid": False, "ok": False, "error": error,
                "replayed": False}
