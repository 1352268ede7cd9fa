from otree.api import *

from silico_agents import ask

doc = """A participant chats freely with an LLM agent answered by `silico serve`. The transcript is
kept in an ExtraModel (so a page refresh restores it) and exported with custom_export."""


class C(BaseConstants):
    NAME_IN_URL = "agent_chat"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1
    MAX_LENGTH = 2000


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    pass


class Message(ExtraModel):
    player = models.Link(Player)
    seq = models.IntegerField()
    role = models.StringField()  # "user" or "assistant"
    text = models.LongStringField()
    turn = models.StringField()  # the turn key sent to silico serve
    ok = models.BooleanField(initial=True)  # False: the service failed and this is the fallback text


def transcript(player):
    messages = sorted(Message.filter(player=player), key=lambda m: m.seq)
    return [dict(role=m.role, text=m.text, ok=m.ok) for m in messages]


class Chat(Page):
    # async + yield: oTree 6 runs this outside its global lock, so no one waits for the model.
    @staticmethod
    async def live_method(player, data):
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "load":
            # oTree replays nothing after a refresh: the page asks for the transcript.
            yield {player.id_in_group: dict(type="history", messages=transcript(player))}
            return
        if kind != "say":
            return
        text = str(data.get("text", "")).strip()[: C.MAX_LENGTH]
        if not text:
            return
        messages = Message.filter(player=player)
        turn = "m%d" % (sum(1 for m in messages if m.role == "user") + 1)
        Message.create(player=player, seq=len(messages) + 1, role="user", text=text, turn=turn)
        yield {player.id_in_group: dict(type="typing")}
        reply = await ask(
            player, "chat", text, turn=turn, vars=dict(treatment=player.session.config.get("treatment", "friendly"))
        )
        Message.create(
            player=player, seq=len(messages) + 2, role="assistant", text=reply["text"], turn=turn, ok=reply["ok"]
        )
        yield {player.id_in_group: dict(type="reply", text=reply["text"], ok=reply["ok"])}


class Done(Page):
    @staticmethod
    def vars_for_template(player):
        return dict(count=len(Message.filter(player=player)))


page_sequence = [Chat, Done]


def custom_export(players):
    yield ["session", "participant", "round", "seq", "role", "turn", "ok", "text"]
    for player in players:
        for m in sorted(Message.filter(player=player), key=lambda m: m.seq):
            yield [player.session.code, player.participant.code, player.round_number, m.seq, m.role, m.turn, m.ok, m.text]
