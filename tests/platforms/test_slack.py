"""The Slack adapter over real HTTP: Bolt verifies every request, the core does the work, and a
fake Slack Web API on loopback records every call and refuses invalid Block Kit."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.compose import actions
from bot.config import Settings
from bot.domain import DeliveryStatus, Role
from bot.inbox import worker as inbox_worker
from bot.ratelimit import Pacer
from bot.services.content import add_content
from bot.services.digests import add_digest
from bot.services.members import add_member, find_member
from bot.services.permissions import OPERATOR
from bot.storage.models import Delivery, Feedback, Member, Suggestion
from bot.web import build_web_app
from tests.inbox_support import inbox_settled
from tests.slack_support import (
    IDEAS_CHANNEL,
    SlackStack,
    slack_stack,
    view_submission,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def slack(settings: Settings) -> AsyncIterator[SlackStack]:
    async with slack_stack(settings) as stack:
        yield stack


async def count(stack: SlackStack, model: type) -> int:
    async with stack.app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def add(
    stack: SlackStack,
    user: str,
    role: Role = Role.EMPLOYEE,
    team: str = "Support",
    manager: str | None = None,
) -> None:
    async with stack.app.db.transaction() as session:
        await add_member(
            session,
            OPERATOR,
            "slack",
            user,
            name=user.title(),
            team=team,
            role=role,
            manager_user_id=manager,
        )


def payload_texts(stack: SlackStack) -> str:
    """Everything the bot sent to Slack, as one string."""
    return "\n".join(json.dumps(call.args) for call in stack.fake.calls)


# ----- verification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "forgery",
    [
        {"secret": "wrong-secret"},
        {"timestamp": int(time.time()) - 6 * 60},
        {"signed": False},
    ],
    ids=["wrong-signature", "stale", "unsigned"],
)
async def test_forged_or_stale_requests_get_401_and_change_nothing(
    slack: SlackStack, forgery: dict
) -> None:
    from urllib.parse import urlencode

    body = urlencode(
        {
            "command": "/suggest",
            "text": "forged idea",
            "user_id": "UEVE",
            "team_id": "T0001",
            "trigger_id": "t",
            "response_url": "http://x",
        }
    )
    status, _ = await slack.post(body, "application/x-www-form-urlencoded", **forgery)
    await slack.settle()
    assert status == 401
    assert await count(slack, Suggestion) == 0 and await count(slack, Member) == 0


# ----- suggestions --------------------------------------------------------------------------


async def test_suggest_files_an_idea_posts_it_for_votes_and_escapes_it(slack: SlackStack) -> None:
    slack.fake.add_user("UALICE", real_name="Alice Martin", tz="Europe/Paris")
    # Slack's wire format: "&", "<" and ">" as entities, a typed @channel as <!channel>.
    status, body = await slack.command(
        "/suggest", "Ping <!channel> &amp; <@U999> for Q&amp;A &lt;b&gt;reviews&lt;/b&gt;", "UALICE"
    )
    assert status == 200 and body == ""
    await slack.settle()
    assert await count(slack, Suggestion) == 1
    async with slack.app.db.transaction() as session:
        alice = await find_member(session, "slack", "UALICE")
    assert alice is not None and alice.display_name == "Alice Martin"
    assert alice.timezone == "Europe/Paris"
    [receipt] = slack.fake.calls_to("response_url")
    assert receipt.args["response_type"] == "ephemeral"
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert idea.text == "Ping @channel & @U999 for Q&A <b>reviews</b>"  # as typed
    [posted] = slack.fake.messages[IDEAS_CHANNEL]
    sent = json.dumps(posted["blocks"])
    assert "Ping @channel &amp; @U999 for Q&amp;A &lt;b&gt;reviews&lt;/b&gt;" in sent
    assert "&amp;amp;" not in sent and "&amp;lt;" not in sent  # escaped once, not twice
    raw = payload_texts(slack)
    assert "<!channel>" not in raw and "<@U999>" not in raw


async def test_suggest_alone_opens_a_modal_that_files_anonymously(slack: SlackStack) -> None:
    await slack.command("/suggest", "", "UBOB")
    await slack.settle()
    [opened] = slack.fake.opened_views
    assert opened["callback_id"] == actions.FORM_SUGGEST
    assert [b["block_id"] for b in opened["blocks"]] == ["text", "objective", "anonymous"]
    status, body = await slack.interaction(
        view_submission("UBOB", opened, {"text": "Fewer meetings", "anonymous": True})
    )
    assert status == 200 and body == ""
    await slack.settle()
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert idea.anonymous and idea.author_id is None
    dm = [c for c in slack.fake.calls_to("chat.postMessage") if c.args["channel"] == "UBOB"]
    assert dm and "anonymously" in dm[0].args["text"]


async def test_a_modal_mistake_is_shown_in_the_modal(slack: SlackStack) -> None:
    await slack.command("/suggest", "", "UBOB")
    await slack.settle()
    [opened] = slack.fake.opened_views
    status, body = await slack.interaction(view_submission("UBOB", opened, {"text": " "}))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and "empty" in answer["errors"]["text"]
    assert await count(slack, Suggestion) == 0


# ----- digests and feedback -----------------------------------------------------------------


async def deliver_digest(slack: SlackStack, *users: str) -> dict[str, dict]:
    for user in users:
        await add(slack, user)
    async with slack.app.db.transaction() as session:
        await add_content(
            session,
            OPERATOR,
            "https://example.com/a",
            title="Read <this>",
            share_text="Share & enjoy",
        )
        digest = await add_digest(
            session,
            OPERATOR,
            "weekly",
            kind="content",
            audience="all",
            cron="0 9 * * mon",
            timezone="UTC",
        )
    from bot.services.digest_runs import start_run

    async with slack.app.db.transaction() as session:
        await start_run(session, slack.app.sealer, digest, actor=OPERATOR)
    await slack.settle()
    return {f"D{user}": slack.fake.messages[f"D{user}"][0] for user in users}


async def test_digests_arrive_as_block_kit_dms_with_feedback_share_and_suggest(
    slack: SlackStack,
) -> None:
    posted = await deliver_digest(slack, "UALICE", "UBOB")
    message = posted["DUALICE"]
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    labels = [b["text"]["text"] for b in buttons]
    assert labels[:2] == ["Useful", "Not relevant"]
    assert "Share on LinkedIn ↗" in labels and "Suggest an idea" in labels
    share = next(b["url"] for b in buttons if b["text"]["text"] == "Share on LinkedIn ↗")
    assert share.startswith("https://advocacy.example.com/s/")
    assert "Read &lt;this&gt;" in json.dumps(message["blocks"])
    async with slack.app.db.transaction() as session:
        statuses = list(await session.scalars(select(Delivery.status)))
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.SENT]


async def test_useful_counts_once_across_slack_retries_and_double_clicks(
    slack: SlackStack,
) -> None:
    message = (await deliver_digest(slack, "UALICE"))["DUALICE"]
    useful = next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Useful"
    )
    value = json.loads(useful["value"])
    press = {"channel": "DUALICE", "ts": message["ts"], "action_ts": "1700000001.000001"}
    await slack.press("UALICE", useful["action_id"], value, **press)
    await slack.press("UALICE", useful["action_id"], value, **press)  # Slack's retry
    await slack.press(
        "UALICE", useful["action_id"], value, channel="DUALICE", ts=message["ts"]
    )  # a double click
    await slack.settle()
    assert await count(slack, Feedback) == 1
    updated = slack.fake.messages["DUALICE"][0]
    assert "✓ Useful" in json.dumps(updated["blocks"], ensure_ascii=False)
    assert "You found this useful" in json.dumps(updated["blocks"])


async def test_reactions_on_bot_messages_are_feedback_once(slack: SlackStack) -> None:
    message = (await deliver_digest(slack, "UALICE"))["DUALICE"]
    reaction = {
        "type": "reaction_added",
        "user": "UALICE",
        "reaction": "tada",
        "item": {"type": "message", "channel": "DUALICE", "ts": message["ts"]},
        "item_user": slack.fake.bot_user_id,
        "event_ts": "1.2",
    }
    await slack.event(reaction, event_id="EvR1")
    await slack.event(
        reaction,
        event_id="EvR1",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    await slack.settle()
    async with slack.app.db.transaction() as session:
        kinds = list(await session.execute(select(Feedback.kind, Feedback.detail)))
    assert [tuple(k) for k in kinds] == [("reaction", "tada")]
    await slack.event({**reaction, "type": "reaction_removed"})
    await slack.settle()
    assert await count(slack, Feedback) == 0


# ----- strategists ----------------------------------------------------------------------------


async def test_a_strategist_schedules_a_digest_in_a_modal_and_sends_it_now(
    slack: SlackStack,
) -> None:
    await add(slack, "UDANA", Role.STRATEGIST, team="Marketing")
    await add(slack, "UALICE")
    await slack.command("/advocacy", "help", "UDANA")
    await slack.command("/advocacy", "content add https://example.com/new", "UDANA")
    await slack.settle()
    content_form = slack.fake.opened_views[-1]
    await slack.interaction(
        view_submission(
            "UDANA",
            content_form,
            {
                "url": "https://example.com/new",
                "title": "New post",
                "summary": "",
                "share_text": "",
            },
        )
    )
    await slack.command("/advocacy", "digest add", "UDANA")
    await slack.settle()
    digest_form = slack.fake.opened_views[-1]
    assert [b["block_id"] for b in digest_form["blocks"]] == [
        "name",
        "kind",
        "audience",
        "channel",
        "days",
        "time",
        "timezone",
        "clock",
    ]
    status, body = await slack.interaction(
        view_submission(
            "UDANA",
            digest_form,
            {
                "name": "Tuesday picks",
                "kind": "content",
                "audience": "all",
                "days": "tue",
                "time": "08:30",
                "timezone": "Europe/Paris",
                "clock": "local",
            },
        )
    )
    assert (status, body) == (200, "")
    await slack.command("/advocacy", "digest list", "UDANA")
    await slack.command("/advocacy", "digest run Tuesday picks", "UDANA")
    await slack.settle()
    replies = json.dumps([c.args for c in slack.fake.calls_to("response_url")])
    assert "/advocacy digest run NAME" in replies and "/content add" not in replies
    assert "Tuesday picks" in replies and "30 8 * * tue" in replies
    assert "on each recipient's own clock" in replies  # the digest form's "Whose clock" choice
    assert "on its way to 2 recipients" in replies
    assert len(slack.fake.messages["DUALICE"]) == 1
    assert "New post" in json.dumps(slack.fake.messages["DUALICE"][0]["blocks"])


async def test_employees_get_a_clear_refusal_for_strategist_commands(slack: SlackStack) -> None:
    await slack.command("/advocacy", "digest run weekly", "UALICE")
    await slack.settle()
    [reply] = slack.fake.calls_to("response_url")
    assert "Only strategists or admins can send digests" in reply.args["text"]


async def test_a_digest_for_a_channel_is_posted_once_and_shows_counts_not_names(
    slack: SlackStack,
) -> None:
    async with slack.app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/c", title="C")
        digest = await add_digest(
            session,
            OPERATOR,
            "team",
            kind="content",
            audience="channel:slack:CTEAM",
            cron="0 9 * * *",
            timezone="UTC",
        )
        from bot.services.digest_runs import start_run

        await start_run(session, slack.app.sealer, digest, actor=OPERATOR)
    await slack.settle()
    [message] = slack.fake.messages["CTEAM"]
    useful = next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Useful"
    )
    for user in ("UALICE", "UBOB"):
        await slack.press(
            user,
            useful["action_id"],
            json.loads(useful["value"]),
            channel="CTEAM",
            ts=message["ts"],
        )
    await slack.settle()
    blocks = json.dumps(slack.fake.messages["CTEAM"][0]["blocks"])
    assert "2 found this useful" in blocks and "You found" not in blocks
    assert (
        len(
            [
                c
                for c in slack.fake.calls_to("response_url")
                if c.args.get("response_type") == "ephemeral"
            ]
        )
        == 2
    )


# ----- votes, shortcut, home ------------------------------------------------------------------


async def test_colleagues_vote_once_on_ideas_in_the_suggestions_channel(slack: SlackStack) -> None:
    await slack.command("/suggest", "Weekend rota", "UALICE")
    await slack.settle()
    [posted] = slack.fake.messages[IDEAS_CHANNEL]
    vote = next(e for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"])
    for user in ("UBOB", "UBOB", "UCAROL"):
        await slack.press(
            user,
            vote["action_id"],
            json.loads(vote["value"]),
            channel=IDEAS_CHANNEL,
            ts=posted["ts"],
        )
    await slack.settle()
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert idea.vote_count == 2
    assert "*Votes*\\n2" in json.dumps(slack.fake.messages[IDEAS_CHANNEL][0]["blocks"])


async def test_web_api_calls_and_response_url_posts_share_kept_alive_connections(
    slack: SlackStack,
) -> None:
    """One HTTP session for the adapter: without it slack_sdk opens a new connection (a TLS
    handshake against slack.com) for every call and every response_url post."""
    await slack.command("/suggest", "Quieter standups", "UALICE")
    await slack.settle()
    [posted] = slack.fake.messages[IDEAS_CHANNEL]
    vote = next(e for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"])
    for n in range(6):
        await slack.press(
            f"UVOTER{n}",
            vote["action_id"],
            json.loads(vote["value"]),
            channel=IDEAS_CHANNEL,
            ts=posted["ts"],
        )
        await slack.settle()  # one call at a time: a kept-alive connection serves them all
    methods = [call.method for call in slack.fake.calls]
    assert methods.count("users.info") >= 6 and methods.count("chat.update") >= 6
    assert methods.count("response_url") >= 6
    assert len(methods) >= 20
    assert len(slack.fake.connections) <= 2


async def test_clicks_acknowledged_before_a_stop_are_handled_after_the_restart(
    slack: SlackStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack never resends an acknowledged click: work still in hand when the server stops (a
    deploy's SIGTERM) is left in the inbox and done by the next start, not lost."""
    await slack.command("/suggest", "Weekend rota", "UALICE")
    await slack.settle()
    [posted] = slack.fake.messages[IDEAS_CHANNEL]
    vote = next(e for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"])
    slack.fake.delays["users.info"] = 2.0  # each click's work outlasts the stop's grace
    monkeypatch.setattr(inbox_worker, "STOP_GRACE_SECONDS", 0.1)
    for user in ("UBOB", "UCAROL", "UDAVE"):
        status, _ = await slack.press(
            user,
            vote["action_id"],
            json.loads(vote["value"]),
            channel=IDEAS_CHANNEL,
            ts=posted["ts"],
        )
        assert status == 200
    await slack.server.close()  # what SIGTERM does: no new requests, the inbox worker stops
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert idea.vote_count < 3, "the stop should have left work for the next start"
    assert await slack.app.inbox.pending_count() == 3 - idea.vote_count
    slack.fake.delays["users.info"] = 0
    restarted = TestServer(build_web_app(slack.app, run_scheduler=False), host="127.0.0.1")
    await restarted.start_server()
    try:
        await inbox_settled(slack.app)
    finally:
        await restarted.close()
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert idea.vote_count == 3


async def test_turn_into_suggestion_files_a_message_with_a_link_back(slack: SlackStack) -> None:
    shortcut = {
        "type": "message_action",
        "callback_id": "turn_into_suggestion",
        "trigger_id": "trig.1",
        "team": {"id": "T0001"},
        "user": {"id": "UALICE"},
        "channel": {"id": "CSUPPORT", "name": "support"},
        "message": {
            "type": "message",
            "user": "UCUST",
            "ts": "1700000123.000200",
            "text": "Customer: <@U1> your export is broken <!here>",
        },
        "response_url": slack.fake.response_url("shortcut"),
    }
    await slack.interaction(shortcut)
    await slack.settle()
    [opened] = slack.fake.opened_views
    text_block = opened["blocks"][0]["element"]
    # The message as people read it, not Slack's markup.
    assert text_block["initial_value"] == "Customer: @U1 your export is broken @here"
    link = json.loads(opened["private_metadata"])["source_url"]
    assert link.endswith("/archives/CSUPPORT/p1700000123000200")
    await slack.interaction(
        view_submission("UALICE", opened, {"text": text_block["initial_value"], "anonymous": False})
    )
    await slack.settle()
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert not idea.anonymous and idea.source_url == link
    posted = json.dumps(slack.fake.messages[IDEAS_CHANNEL][0]["blocks"])
    assert "Original message" in posted and "broken @here" in posted and "<!here>" not in posted


async def test_an_anonymous_idea_from_ones_own_message_keeps_no_link_to_it(
    slack: SlackStack,
) -> None:
    """The link would open the message under its author's name: an anonymous idea drops it."""
    shortcut = {
        "type": "message_action",
        "callback_id": "turn_into_suggestion",
        "trigger_id": "trig.2",
        "team": {"id": "T0001"},
        "user": {"id": "UALICE"},
        "channel": {"id": "CSUPPORT", "name": "support"},
        "message": {
            "type": "message",
            "user": "UALICE",
            "ts": "1700000999.000100",
            "text": "We should staff the weekend queue",
        },
        "response_url": slack.fake.response_url("shortcut"),
    }
    await slack.interaction(shortcut)
    await slack.settle()
    [opened] = slack.fake.opened_views
    text = opened["blocks"][0]["element"]["initial_value"]
    await slack.interaction(view_submission("UALICE", opened, {"text": text, "anonymous": True}))
    await slack.settle()
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert idea.anonymous and idea.source_url is None
    posted = json.dumps(slack.fake.messages[IDEAS_CHANNEL][0]["blocks"])
    assert "weekend queue" in posted
    assert "Original message" not in posted and "1700000999" not in posted


async def test_a_manager_answers_from_the_home_tab_and_the_anonymous_author_is_told(
    slack: SlackStack,
) -> None:
    await add(slack, "UBOSS", Role.MANAGER)
    await add(slack, "UZED", manager="UBOSS")
    await slack.command("/suggest", "--anonymous Publish the on-call rota", "UZED")
    await slack.settle()
    await slack.event(
        {
            "type": "app_home_opened",
            "user": "UBOSS",
            "tab": "home",
            "channel": "DUBOSS",
            "event_ts": "1.0",
        }
    )
    await slack.settle()
    home = slack.fake.published_views["UBOSS"]
    assert home["type"] == "home" and len(home["blocks"]) <= 100
    shown = json.dumps(home)
    assert all(f"*By {by}*" in shown for by in ("objective", "team", "status"))
    answer = next(
        e
        for b in home["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Answer / set status"
    )
    await slack.press(
        "UBOSS",
        answer["action_id"],
        json.loads(answer["value"]),
        view={"id": home.get("id", "VHOME"), "type": "home"},
    )
    await slack.settle()
    modal = slack.fake.opened_views[-1]
    assert modal["callback_id"] == actions.FORM_ANSWER
    await slack.interaction(
        view_submission("UBOSS", modal, {"status": "planned", "text": "Yes, from January"})
    )
    await slack.settle()
    [to_author] = [
        c for c in slack.fake.calls_to("chat.postMessage") if c.args["channel"] == "UZED"
    ]
    assert "Your anonymous suggestion #1 is now planned" in to_author.args["text"]
    assert "Yes, from January" in json.dumps(to_author.args["blocks"])
    # Nothing the manager was shown names the author.
    seen_by_manager = [
        *[
            c.args
            for c in slack.fake.calls
            if c.args.get("user_id") == "UBOSS" or c.args.get("channel") in ("UBOSS", "DUBOSS")
        ],
        *slack.fake.opened_views,
        slack.fake.published_views["UBOSS"],
    ]
    assert "UZED" not in json.dumps(seen_by_manager) and "Uzed" not in json.dumps(seen_by_manager)
    # The Home tab was refreshed: the idea no longer waits for an answer.
    assert (
        len([c for c in slack.fake.calls_to("views.publish") if c.args["user_id"] == "UBOSS"]) == 2
    )
    refreshed = json.dumps(slack.fake.published_views["UBOSS"])
    assert "Answer / set status" not in refreshed and "Waiting for an answer" in refreshed


# ----- directory, sending, OAuth --------------------------------------------------------------


async def test_members_sync_imports_every_human_across_pages(slack: SlackStack) -> None:
    from bot.platform import DirectorySync

    for n in range(450):
        slack.fake.add_user(f"U{n:04d}", real_name=f"Person {n}", tz="Asia/Tokyo")
    slack.fake.add_user("UBOT9", is_bot=True)
    slack.fake.add_user("UGONE1", deleted=True)
    slack.fake.add_user("UGUEST", is_restricted=True)
    slack.fake.add_user("UGUEST2", is_ultra_restricted=True)
    slack.fake.fail_next("users.list", status=429, retry_after=1)
    adapter = slack.app.adapters["slack"]
    assert isinstance(adapter, DirectorySync)
    [(team, report)] = await adapter.sync_workspaces()  # type: ignore[attr-defined]
    assert team == "" and report.pages == 3 and report.seen == 454
    assert dict(report.skipped) == {"bots": 1, "deleted": 1, "guests": 2}
    assert report.imported is not None and report.imported.created == 450
    # Read with the adapter's own token (its client), not one of the command's.
    assert {c.token for c in slack.fake.calls_to("users.list")} == {slack.fake.bot_token}
    async with slack.app.db.transaction() as session:
        person = await find_member(session, "slack", "U0449")
    assert person is not None and person.display_name == "Person 449"
    assert person.timezone == "Asia/Tokyo"
    again = await adapter.sync_directory()
    assert again.unchanged == 450


async def test_sending_honours_retry_after_retries_5xx_and_dead_letters_refusals(
    slack: SlackStack,
) -> None:
    pacer = slack.app.adapters["slack"]._per_workspace  # type: ignore[attr-defined]
    if isinstance(pacer, Pacer):  # in memory (SQLite); the shared one is tested on its own
        pacer.clock = lambda: 1000.0  # stopped, so what the 429 did to it can be read
    slack.fake.fail_next("chat.postMessage", status=429, retry_after=30)
    await slack.command("/suggest", "Idea one", "UALICE")
    await slack.settle()
    async with slack.app.db.transaction() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert delivery.status == DeliveryStatus.PENDING and "429" in (delivery.last_error or "")
    from bot.storage.types import utcnow

    assert (delivery.next_attempt_at - utcnow()).total_seconds() > 28
    if isinstance(pacer, Pacer):
        # Slack's count and ours disagreed: the workspace's pacer gave back its burst credit.
        assert pacer.delay(delivery.workspace) == pytest.approx(1 / pacer.rate)
        pacer.clock = time.monotonic
    async with slack.app.db.transaction() as session:
        delivery.next_attempt_at = utcnow()
        await session.merge(delivery)
    slack.fake.fail_next("chat.postMessage", status=503)
    await slack.settle()
    async with slack.app.db.transaction() as session:
        await session.execute(Delivery.__table__.update().values(next_attempt_at=utcnow()))
    await slack.settle()
    async with slack.app.db.transaction() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3
    assert len(slack.fake.messages[IDEAS_CHANNEL]) == 1
    await add(slack, "UGONE7")
    async with slack.app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/z", title="Z")
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        from bot.services.digest_runs import start_run

        await start_run(session, slack.app.sealer, digest, actor=OPERATOR)
    await slack.settle()
    async with slack.app.db.transaction() as session:
        dead = (await session.scalars(select(Delivery).where(Delivery.recipient == "UGONE7"))).one()
    assert dead.status == DeliveryStatus.DEAD and "user_not_found" in (dead.last_error or "")


async def test_oauth_install_stores_the_workspace_and_serves_it(settings: Settings) -> None:
    import re

    from tests.slack_support import TEAM

    async with slack_stack(
        settings, SLACK_BOT_TOKEN="", SLACK_CLIENT_ID="123.456", SLACK_CLIENT_SECRET="shh"
    ) as slack:
        base = f"http://127.0.0.1:{slack.server.port}"
        async with slack.session.get(f"{base}/slack/install", allow_redirects=False) as page:
            assert page.status in (200, 302)
            html = await page.text()
            cookie = page.headers.get("Set-Cookie", "").split(";")[0]
        state = re.search(r"state=([\w-]+)", html or page.headers.get("Location", "")).group(1)
        slack.fake.tokens.add("xoxb-installed")
        slack.fake.oauth_codes["CODE1"] = {
            "app_id": "A0001",
            "access_token": "xoxb-installed",
            "token_type": "bot",
            "scope": "chat:write,commands",
            "bot_user_id": "UBOT",
            "team": {"id": TEAM, "name": "Fake team"},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "UINSTALLER"},
        }
        redirect = f"{base}/slack/oauth_redirect?code=CODE1&state={state}"
        async with slack.session.get(redirect, headers={"Cookie": cookie}) as done:
            assert done.status == 200, await done.text()
        dump = json.dumps([c.args for c in slack.fake.calls])
        async with slack.app.db.transaction() as session:
            from sqlalchemy import text

            rows = (await session.execute(text("SELECT * FROM adapter_records"))).all()
        assert any(TEAM in str(row) for row in rows)
        assert "xoxb-installed" not in str(rows)  # the token is sealed at rest
        await slack.command("/suggest", "Installed idea", "UALICE")
        await slack.settle()
        async with slack.app.db.transaction() as session:
            member = await find_member(session, "slack", "UALICE", TEAM)
        assert member is not None  # with OAuth, identities carry the workspace
        posted = [c for c in slack.fake.calls_to("chat.postMessage")]
        assert posted and all(c.token == "xoxb-installed" for c in posted)
        assert "xoxb-installed" not in dump


# ----- rendering and the manifest -------------------------------------------------------------


def test_a_long_digest_is_cut_to_slacks_limit_with_links_to_the_rest() -> None:
    from adapters.slack.blocks import render_blocks
    from bot.messages import Button, Card, LinkButton, Message
    from tests.slack_fake import check_blocks

    cards = tuple(
        Card(
            title=f"Item {i} <!channel>",
            text="x" * 5000,
            buttons=(
                Button("Useful", "feedback.useful", {"subject": f"content:{i}"}),
                LinkButton("Read", f"https://example.com/{i}"),
            ),
        )
        for i in range(40)
    )
    blocks = render_blocks(Message("digest", cards))
    assert len(blocks) <= 50
    check_blocks(blocks, limit=50)  # what Slack accepts, per slack_sdk's models and the limits
    note = blocks[-1]["elements"][0]["text"]
    assert note.startswith("…and ") and "<https://example.com/39|Item 39 &lt;!channel&gt;>" in note


def test_the_manifest_declares_what_the_adapter_uses() -> None:
    from pathlib import Path

    import yaml

    from adapters.slack.adapter import SHORTCUT_CALLBACK
    from adapters.slack.config import BOT_SCOPES
    from adapters.slack.parse import COMMANDS

    manifest = yaml.safe_load(
        (Path(__file__).parents[2] / "adapters/slack/manifest.yaml").read_text()
    )
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == set(COMMANDS)
    assert manifest["features"]["shortcuts"][0]["callback_id"] == SHORTCUT_CALLBACK
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "message.im",
        "reaction_added",
        "reaction_removed",
    }


def test_the_escaping_check_catches_raw_markup_in_mrkdwn_but_not_plain_text() -> None:
    from types import SimpleNamespace

    from tests.slack_fake import Call
    from tests.slack_support import unescaped_markup

    calls = [
        Call("chat.postMessage", {"text": "hi <!channel>", "blocks": []}, "t"),
        Call(
            "chat.postMessage",
            {
                "text": "ok",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "ping <@U1>"}},
                    {
                        "type": "header",
                        "text": {"type": "plain_text", "text": "<!here> is literal"},
                    },
                ],
            },
            "t",
        ),
    ]
    found = unescaped_markup(SimpleNamespace(fake=SimpleNamespace(calls=calls)))  # type: ignore[arg-type]
    assert found == ["hi <!channel>", "ping <@U1>"]


async def test_a_direct_message_to_the_bot_is_answered_in_the_dm(slack: SlackStack) -> None:
    await slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "DUALICE",
            "user": "UALICE",
            "text": "suggest Quieter open space for Q&amp;A calls",  # "&" as Slack sends it
            "ts": "1.1",
        }
    )
    await slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "DUALICE",
            "bot_id": "B0001",
            "text": "our own echo",
            "ts": "1.2",
        }
    )
    await slack.settle()
    async with slack.app.db.transaction() as session:
        [idea] = list(await session.scalars(select(Suggestion)))
    assert idea.text == "Quieter open space for Q&A calls"
    [reply] = [c for c in slack.fake.calls_to("chat.postMessage") if c.args["channel"] == "UALICE"]
    assert "Your suggestion #1 is filed" in reply.args["text"]


async def test_a_vote_from_the_home_tab_refreshes_it(slack: SlackStack) -> None:
    await slack.command("/suggest", "Standing desks", "UBOB")
    await slack.settle()  # Slack's requests are handled concurrently: let the idea land first
    await slack.event(
        {"type": "app_home_opened", "user": "UALICE", "tab": "home", "event_ts": "1.0"}
    )
    await slack.settle()
    home = slack.fake.published_views["UALICE"]
    vote = next(
        e
        for b in home["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Vote"
    )
    await slack.press(
        "UALICE",
        vote["action_id"],
        json.loads(vote["value"]),
        view={"id": home.get("id", "V"), "type": "home"},
    )
    await slack.settle()
    refreshed = json.dumps(slack.fake.published_views["UALICE"], ensure_ascii=False)
    assert "✓ Voted" in refreshed
    assert not [c for c in slack.fake.calls_to("chat.postMessage") if c.args["channel"] == "UALICE"]


async def test_a_modal_is_acknowledged_before_a_slow_slack_answers(slack: SlackStack) -> None:
    opened = await slack.open_suggest_form("UNEWCOMER")
    slack.fake.delays["users.info"] = 4.0
    slack.fake.answered.clear()
    listener = slack.app.adapters["slack"]
    listener._known_users.clear()  # the submitter must be looked up again, slowly
    status, body = await slack.interaction(view_submission("UNEWCOMER", opened, {"text": "Idea"}))
    assert (status, body) == (200, "")
    assert "users.info" not in slack.fake.answered  # acknowledged while Slack was still busy
    await slack.settle()
    assert "users.info" in slack.fake.answered and await count(slack, Suggestion) == 1


async def test_a_form_that_cannot_open_in_time_asks_the_person_to_try_again(
    slack: SlackStack,
) -> None:
    """Slack lets a trigger open a modal for 3 seconds. A /suggest handled later (a burst, a
    restart) cannot open its form: the person is told, rather than left with nothing."""
    slack.fake.delays["users.info"] = 3.5  # the first contact outlasts the trigger
    status, _ = await slack.command("/suggest", "", "UNEWCOMER")
    assert status == 200
    await slack.settle()
    assert slack.fake.opened_views == []
    [answer] = [c.args for c in slack.fake.calls_to("response_url") if c.args]
    assert "could not open in time; please try again" in json.dumps(answer)


async def test_the_board_turns_pages_in_place_in_its_ephemeral_message(slack: SlackStack) -> None:
    await add(slack, "UALICE")
    await slack.command("/suggest", "--anonymous Rotate on-call <!here>", "UALICE")
    for n in range(1, 6):
        await slack.command("/suggest", f"Idea {n}", "UALICE")
    await slack.settle()
    await slack.command("/advocacy", "suggestions", "UBOB")
    await slack.settle()
    board = slack.fake.calls_to("response_url")[-1].args
    assert board["response_type"] == "ephemeral"
    first = json.dumps(board["blocks"])
    assert "Page 1 of 2, 6 ideas" in first and "Idea 5" in first
    assert "Rotate on-call" not in first  # the oldest idea is on page 2
    [following] = [
        element
        for block in board["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["text"]["text"] == "Next page ▶"
    ]
    press = {
        "type": "block_actions",
        "user": {"id": "UBOB", "team_id": slack.fake.team_id},
        "team": {"id": slack.fake.team_id, "domain": "fake"},
        "api_app_id": "A0001",
        "trigger_id": "1.2.3",
        "container": {
            "type": "message",
            "message_ts": "1.000001",
            "channel_id": "DBOB",
            "is_ephemeral": True,
        },
        "channel": {"id": "DBOB"},
        "response_url": slack.fake.response_url("board"),
        "actions": [{**following, "block_id": "b", "action_ts": f"{time.time():.6f}"}],
    }
    status, _ = await slack.interaction(press)
    assert status == 200
    await slack.settle()
    [turned] = [c.args for c in slack.fake.calls_to("response_url") if c.hook == "board"]
    assert turned["replace_original"] is True
    second = json.dumps(turned["blocks"])
    assert "Page 2 of 2, 6 ideas" in second and "Rotate on-call @here" in second
    assert "Ualice" in first and "Ualice" not in second  # the anonymous idea shows no author


async def _advocacy(settings: Settings, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """The real CLI in a child process, while the fake Slack answers in this one."""
    import asyncio
    import os
    import sys

    from tests.conftest import SECRET

    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MICROSOFT_", "GOOGLE_"))
    }
    child_env.update(
        DATABASE_URL=settings.database_url,
        DATABASE_SCHEMA=settings.database_schema or "",
        ADVOCACY_SECRET_KEY=SECRET,
        ADVOCACY_DATA_DIR=str(settings.data_dir),
        **env,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=child_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_members_sync_slack_runs_through_the_enabled_adapter(settings: Settings) -> None:
    from tests.slack_fake import FakeSlack
    from tests.slack_support import SIGNING_SECRET

    async with FakeSlack() as fake:
        fake.add_user("UANNA1", real_name="Anna")
        fake.add_user("UBOT9", is_bot=True)
        # Not enabled: no signing secret means no Slack adapter, and the command says so.
        code, _, err = await _advocacy(
            settings,
            {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.api_url},
            "members",
            "sync",
            "slack",
        )
        assert code != 0 and "SLACK_SIGNING_SECRET is not set" in err
        assert not fake.calls_to("users.list")
        fake.fail_next("users.list", status=429, retry_after=1)
        code, out, err = await _advocacy(
            settings,
            {
                "SLACK_BOT_TOKEN": fake.bot_token,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": fake.api_url,
            },
            "members",
            "sync",
            "slack",
            "--json",
        )
    assert code == 0, err
    [record] = json.loads(out)
    assert record["accounts"] == 2 and record["created"] == 1
    assert record["skipped"] == {"bots": 1}
    # The adapter started (auth.test), then read the directory with its token, waiting out
    # the 429 it was given.
    methods = [c.method for c in fake.calls]
    assert methods.index("auth.test") < methods.index("users.list")
    assert len(fake.calls_to("users.list")) == 2


async def test_a_reply_waits_out_a_short_429_and_a_long_one_drops_only_that_part(
    slack: SlackStack,
) -> None:
    """Slack's failures reach show_reply as DeliveryError: a 429 asking for a second is waited
    out and the answer arrives once; one asking for a minute is not (the next click would
    wait behind it), and the suggestion is filed all the same."""
    slack.fake.fail_next("response_url", status=429, retry_after=1)
    assert (await slack.command("/suggest", "Idea one", "UALICE"))[0] == 200
    await slack.settle()
    attempts = slack.fake.calls_to("response_url")
    assert len(attempts) == 2 and attempts[0].args == attempts[1].args
    slack.fake.fail_next("response_url", status=429, retry_after=60)
    assert (await slack.command("/suggest", "Idea two", "UALICE"))[0] == 200
    await slack.settle()
    assert len(slack.fake.calls_to("response_url")) == 3
    assert await count(slack, Suggestion) == 2
