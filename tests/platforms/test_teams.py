"""The Teams adapter over real HTTP: activities shaped as Teams sends them, botbuilder's own
CloudAdapter, and a fake Bot Connector service on loopback that refuses invalid cards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.teams.deferred import DeferredTeamsAdapter, loaded
from bot.config import Settings
from bot.domain import DeliveryStatus, Role
from bot.inbox import RetryLater
from bot.ratelimit import Pacer
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.members import add_member, find_member
from bot.services.permissions import OPERATOR
from bot.storage.models import Delivery, Feedback, Suggestion
from tests.botframework_identity import BOT_FRAMEWORK_SCOPE
from tests.inbox_support import inbox_settled
from tests.teams_fake import FakeConnector, adaptive_card_error
from tests.teams_support import (
    APP_ID,
    TENANT,
    TeamsStack,
    TeamsUser,
    action,
    actions_in,
    authenticated_teams_stack,
    cards_in,
    install_in_team,
    teams_stack,
    user,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ALICE, BOB, BOSS, DANA = user("Alice"), user("Bob"), user("Boss"), user("Dana")


@pytest.fixture
async def teams(settings: Settings) -> AsyncIterator[TeamsStack]:
    async with teams_stack(settings) as stack:
        yield stack


async def count(stack: TeamsStack, model: type) -> int:
    async with stack.app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def add(
    stack: TeamsStack,
    person: TeamsUser,
    role: Role = Role.EMPLOYEE,
    manager: TeamsUser | None = None,
) -> None:
    async with stack.app.db.transaction() as session:
        await add_member(
            session,
            OPERATOR,
            "teams",
            person.aad,
            name=person.name,
            team="Support",
            role=role,
            workspace=TENANT,
            manager_user_id=manager.aad if manager else None,
        )


def sent_to(stack: TeamsStack, person: TeamsUser) -> list[dict]:
    return stack.connector.activities.get(person.conversation, [])


def all_cards(stack: TeamsStack) -> list[dict]:
    return [
        card for acts in stack.connector.activities.values() for a in acts for card in cards_in(a)
    ]


async def run_digest(stack: TeamsStack, title: str = "Read <b>this</b> [now](http://evil)") -> None:
    async with stack.app.db.transaction() as session:
        await add_content(
            session,
            OPERATOR,
            "https://example.com/a",
            title=title,
            summary="**bold** <at>Everyone</at> & co",
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
        await start_run(session, stack.app.sealer, digest, actor=OPERATOR)
    await stack.settle()


# ----- conversations and digests ------------------------------------------------------------


async def test_a_digest_reaches_someone_who_wrote_to_the_bot_even_after_a_restart(
    settings: Settings,
) -> None:
    async with FakeConnector() as connector:
        async with teams_stack(settings, connector) as stack:
            status, _ = await stack.say(ALICE, "help")
            assert status in (200, 201)
            await stack.settle()
            [help_reply] = sent_to(stack, ALICE)
            assert "What you can do here" in json.dumps(cards_in(help_reply))
            async with stack.app.db.transaction() as session:
                alice = await find_member(session, "teams", ALICE.aad, TENANT)
            assert alice is not None and alice.display_name == "Alice"
        # A new process: only the database (and Teams' own service) remain.
        async with teams_stack(settings, connector) as restarted:
            await run_digest(restarted)
            digest = sent_to(restarted, ALICE)[-1]
            await check_digest(digest)


async def check_digest(digest: dict) -> None:
    if True:
        [card] = cards_in(digest)
        assert adaptive_card_error(card) is None
        assert card["version"] == "1.5"
        titles = [a["title"] for a in restarted_actions(card)]
        assert titles[:2] == ["Useful", "Not relevant"]
        assert {"Share on LinkedIn", "Share on X", "Suggest an idea"} <= set(titles)
        share = action(card, "Share on LinkedIn")
        assert share["type"] == "Action.OpenUrl"
        assert share["url"].startswith("https://advocacy.example.com/s/")


def restarted_actions(card: dict) -> list[dict]:
    from tests.teams_support import actions_in

    return actions_in(card)


async def test_people_s_text_stays_text_in_every_card(teams: TeamsStack) -> None:
    await teams.say(ALICE, "hello")
    await run_digest(teams)
    [card] = cards_in(sent_to(teams, ALICE)[-1])
    assert adaptive_card_error(card) is None
    texts = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                texts.append(node)  # markdown-capable: people's text must never be here
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    assert texts == []
    assert "Read <b>this</b> [now](http://evil)" in json.dumps(card)  # shown as typed, in TextRuns


# ----- feedback -------------------------------------------------------------------------------


async def test_useful_by_action_execute_answers_with_the_updated_card_and_counts_once(
    teams: TeamsStack,
) -> None:
    await teams.say(ALICE, "hello")
    await run_digest(teams)
    digest = sent_to(teams, ALICE)[-1]
    useful = action(cards_in(digest)[0], "Useful")
    assert useful["type"] == "Action.Execute"
    status, answer = await teams.execute(ALICE, useful, digest["id"])
    assert status == 200 and answer["statusCode"] == 200
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    updated = answer["value"]
    assert adaptive_card_error(updated) is None
    assert "✓ Useful" in json.dumps(updated, ensure_ascii=False)
    assert "You found this useful" in json.dumps(updated)
    await teams.execute(ALICE, useful, digest["id"])  # the same action twice
    invoke = teams.activity(
        "invoke",
        ALICE,
        name="adaptiveCard/action",
        replyToId=digest["id"],
        value={
            "action": {"type": "Action.Execute", "verb": useful["verb"], "data": useful["data"]},
            "trigger": "manual",
        },
    )
    await teams.post(invoke)
    await teams.post(invoke)  # a redelivered activity
    assert await count(teams, Feedback) == 1


async def test_a_press_answered_after_teams_stopped_waiting_updates_the_card_through_the_connector(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await teams.say(ALICE, "hello")
    await run_digest(teams)
    digest = sent_to(teams, ALICE)[-1]
    useful = action(cards_in(digest)[0], "Useful")
    monkeypatch.setattr("adapters.teams.adapter.INVOKE_BUDGET_SECONDS", 0.0)
    status, answer = await teams.execute(ALICE, useful, digest["id"])
    assert status == 200 and answer["type"] == "application/vnd.microsoft.activity.message"
    await inbox_settled(teams.app)
    [update] = teams.connector.calls_to("update")
    assert update.activity_id == digest["id"]
    [stored] = [a for a in sent_to(teams, ALICE) if a["id"] == digest["id"]]
    assert "✓ Useful" in json.dumps(cards_in(stored), ensure_ascii=False)
    assert await count(teams, Feedback) == 1


async def test_action_submit_updates_the_card_in_place(teams: TeamsStack) -> None:
    await teams.say(ALICE, "hello")
    await run_digest(teams)
    digest = sent_to(teams, ALICE)[-1]
    not_relevant = action(cards_in(digest)[0], "Not relevant")
    status, _ = await teams.submit(ALICE, not_relevant, digest["id"])
    assert status in (200, 201)
    [update] = teams.connector.calls_to("update")
    assert update.activity_id == digest["id"]
    stored = sent_to(teams, ALICE)[-1]
    assert "✓ Not relevant" in json.dumps(cards_in(stored), ensure_ascii=False)
    async with teams.app.db.transaction() as session:
        assert list(await session.scalars(select(Feedback.kind))) == ["not_relevant"]


async def test_reactions_on_bot_messages_are_feedback_once(teams: TeamsStack) -> None:
    await teams.say(ALICE, "hello")
    await run_digest(teams)
    digest = sent_to(teams, ALICE)[-1]
    await teams.react(ALICE, "like", digest["id"], activity_id="react-1")
    await teams.react(ALICE, "like", digest["id"], activity_id="react-1")  # redelivered
    async with teams.app.db.transaction() as session:
        rows = [tuple(r) for r in await session.execute(select(Feedback.kind, Feedback.detail))]
    assert rows == [("reaction", "+1")]  # Teams' "like" is Slack's +1: one name in reports
    await teams.react(ALICE, "like", digest["id"], added=False)
    assert await count(teams, Feedback) == 0


# ----- suggestions, strategists, managers ------------------------------------------------------


async def test_suggest_typed_or_by_card_form_with_the_anonymous_option(teams: TeamsStack) -> None:
    await teams.say(ALICE, "suggest Fewer meetings on Fridays")
    await teams.say(ALICE, "<at>Advocacy</at> suggest")
    await teams.settle()
    form_message = sent_to(teams, ALICE)[-1]
    [form] = cards_in(form_message)
    assert adaptive_card_error(form) is None
    send = action(form, "Send")
    await teams.execute(
        ALICE,
        send,
        form_message["id"],
        inputs={"text": "Rotate on-call", "objective": "-", "anonymous": "true"},
    )
    async with teams.app.db.transaction() as session:
        ideas = list(await session.scalars(select(Suggestion).order_by(Suggestion.id)))
    assert [(i.text, i.anonymous, i.author_id is None) for i in ideas] == [
        ("Fewer meetings on Fridays", False, False),
        ("Rotate on-call", True, True),
    ]


async def test_a_strategist_schedules_by_card_and_sends_by_text(teams: TeamsStack) -> None:
    await add(teams, DANA, Role.STRATEGIST)
    await add(teams, ALICE)
    await teams.say(ALICE, "hello")
    await teams.say(DANA, "content add")
    await teams.settle()
    content_form = sent_to(teams, DANA)[-1]
    await teams.execute(
        DANA,
        action(cards_in(content_form)[0], "Add"),
        content_form["id"],
        inputs={
            "url": "https://example.com/n",
            "title": "New",
            "summary": "",
            "share_text": "",
            "objective": "-",
        },
    )
    await teams.say(DANA, "digest add")
    await teams.settle()
    digest_form = sent_to(teams, DANA)[-1]
    _, scheduled = await teams.execute(
        DANA,
        action(cards_in(digest_form)[0], "Schedule"),
        digest_form["id"],
        inputs={
            "name": "Picks",
            "kind": "content",
            "audience": "all",
            "channel": "",
            "days": "fri",
            "time": "16:00",
            "timezone": "Europe/Berlin",
            "clock": "zone",
        },
    )
    await teams.say(DANA, "digest run Picks")
    await teams.settle()
    # The form was answered with its confirmation, which replaces it (no second submit).
    assert scheduled["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Scheduled 'Picks'" in json.dumps(scheduled["value"])
    assert "Schedule" not in [a.get("title") for a in actions_in(scheduled["value"])]
    replies = json.dumps([cards_in(a) for a in sent_to(teams, DANA)])
    assert "on its way to 2 recipients" in replies
    assert "New" in json.dumps(cards_in(sent_to(teams, ALICE)[-1]))


async def test_a_manager_answers_from_the_rollup_card_and_the_author_is_told(
    teams: TeamsStack,
) -> None:
    await add(teams, BOSS, Role.MANAGER)
    await add(teams, ALICE, manager=BOSS)
    await teams.say(ALICE, "suggest --anonymous Publish the on-call rota")
    await teams.say(BOSS, "rollup")
    await teams.settle()
    rollup = sent_to(teams, BOSS)[-1]
    [card] = cards_in(rollup)
    assert adaptive_card_error(card) is None
    for by in ("By objective", "By team", "By status"):
        assert by in json.dumps(card)
    await teams.execute(BOSS, action(card, "Answer / set status"), rollup["id"])
    answer_form = sent_to(teams, BOSS)[-1]
    await teams.execute(
        BOSS,
        action(cards_in(answer_form)[0], "Answer"),
        answer_form["id"],
        inputs={"status": "planned", "text": "Yes, from January"},
    )
    await teams.settle()
    notice = json.dumps(cards_in(sent_to(teams, ALICE)[-1]))
    assert "Your anonymous suggestion #1 is now planned" in notice
    assert "Yes, from January" in notice
    assert "Alice" not in json.dumps([cards_in(a) for a in sent_to(teams, BOSS)])


# ----- installation and rosters ---------------------------------------------------------------


async def test_installing_in_a_team_reads_the_roster_and_opens_a_chat_with_each_member(
    teams: TeamsStack,
) -> None:
    team_id = "19:support@thread.tacv2"
    # Paced at Teams' 50 requests a second, 2,400 calls take 48 s; the pacing has its own test.
    adapter = loaded(teams.app.adapters["teams"])
    adapter._per_tenant = Pacer(10_000)  # type: ignore[attr-defined]
    adapter._per_conversation = Pacer(10_000)  # type: ignore[attr-defined]
    teams.connector.validate_cards = False  # 1,203 validations; cards are checked elsewhere
    for n in range(1203):
        teams.connector.add_member(
            team_id, user_id=f"29:m{n}", aad_object_id=f"aad-m{n}", name=f"Member {n}"
        )
    await install_in_team(teams, team_id, "Support")
    assert len(teams.connector.calls_to("paged_members")) == 3  # 500 a page
    assert len(teams.connector.created) == 1203
    async with teams.app.db.transaction() as session:
        member = await find_member(session, "teams", "aad-m1202", TENANT)
    assert member is not None and member.display_name == "Member 1202"
    await run_digest(teams)
    reached = {
        cid
        for cid, acts in teams.connector.activities.items()
        if any("weekly" in json.dumps(cards_in(a)) for a in acts)
    }
    assert len(reached) == 1203
    assert "Thanks for adding" in json.dumps(cards_in(teams.connector.activities[team_id][0]))


# ----- sending ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 412, 502, 504])
async def test_throttling_and_gateway_errors_are_retried(teams: TeamsStack, status: int) -> None:
    await teams.say(ALICE, "hello")
    await teams.settle()
    teams.connector.fail_next("send", status=status, retry_after=20 if status == 429 else None)
    await run_digest(teams)
    async with teams.app.db.transaction() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert delivery.status == DeliveryStatus.PENDING and str(status) in (delivery.last_error or "")
    if status == 429:
        from bot.storage.types import utcnow

        assert (delivery.next_attempt_at - utcnow()).total_seconds() > 18
    async with teams.app.db.transaction() as session:
        from bot.storage.types import utcnow

        await session.execute(Delivery.__table__.update().values(next_attempt_at=utcnow()))
    await teams.settle()
    async with teams.app.db.transaction() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2


async def test_a_refusal_is_dead_lettered_and_an_unknown_person_is_reported(
    teams: TeamsStack,
) -> None:
    await teams.say(ALICE, "hello")
    await add(teams, BOB)  # in HR, never talked to the bot, in no roster
    await teams.settle()
    teams.connector.fail_next("send", status=403, code="ConversationBlockedByUser")
    await run_digest(teams)
    async with teams.app.db.transaction() as session:
        rows = {d.recipient: d for d in await session.scalars(select(Delivery))}
    assert rows[ALICE.aad].status == DeliveryStatus.DEAD and "403" in rows[ALICE.aad].last_error
    assert rows[BOB.aad].status == DeliveryStatus.DEAD
    assert "members sync teams" in (rows[BOB.aad].last_error or "")


async def test_a_long_digest_is_split_into_valid_cards_under_28_kb(teams: TeamsStack) -> None:
    await teams.say(ALICE, "hello")
    async with teams.app.db.transaction() as session:
        for n in range(5):
            await add_content(
                session,
                OPERATOR,
                f"https://example.com/{n}",
                title=f"Item {n}",
                summary="x" * 2900,
                share_text="y" * 2900,
            )
        digest = await add_digest(
            session,
            OPERATOR,
            "long",
            kind="content",
            audience="all",
            cron="0 9 * * *",
            timezone="UTC",
        )
        await start_run(session, teams.app.sealer, digest, actor=OPERATOR)
    await teams.settle()
    parts = sent_to(teams, ALICE)[1:]
    assert len(parts) >= 2
    for part in parts:
        assert len(json.dumps(part).encode()) < 28 * 1024
        assert adaptive_card_error(cards_in(part)[0]) is None
    # A button on the second part still finds its delivery and updates that part.
    second = parts[1]
    useful = action(cards_in(second)[0], "Useful")
    status, answer = await teams.execute(ALICE, useful, second["id"])
    assert status == 200 and "✓ Useful" in json.dumps(answer["value"], ensure_ascii=False)
    async with teams.app.db.transaction() as session:
        [feedback] = list(await session.scalars(select(Feedback)))
    assert feedback.delivery_id is not None


def test_the_teams_package_holds_a_manifest_and_both_icons(tmp_path, monkeypatch) -> None:
    import zipfile

    from click.testing import CliRunner

    from bot.cli.main import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROSOFT_APP_ID", "12345678-1234-1234-1234-123456789abc")
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/a.db")
    result = CliRunner().invoke(cli, ["teams", "package", "--output", "app.zip"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "app.zip") as archive:
        languages = ["de.json", "es.json", "fr.json", "ja.json", "pt-br.json"]
        assert sorted(archive.namelist()) == sorted(
            ["color.png", "manifest.json", "outline.png", *languages]
        )
        manifest = json.loads(archive.read("manifest.json"))
        color, outline = archive.read("color.png"), archive.read("outline.png")
    assert manifest["id"] == manifest["bots"][0]["botId"] == "12345678-1234-1234-1234-123456789abc"
    assert manifest["validDomains"] == ["bot.example.com"]
    assert len(manifest["bots"][0]["commandLists"][0]["commands"]) <= 10
    import struct

    assert struct.unpack(">II", color[16:24]) == (192, 192)
    assert struct.unpack(">II", outline[16:24]) == (32, 32)
    monkeypatch.delenv("MICROSOFT_APP_ID")
    refused = CliRunner().invoke(cli, ["teams", "package"])
    assert refused.exit_code != 0 and "MICROSOFT_APP_ID" in refused.output


# ----- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_type",
    [
        pytest.param(None, id="single-tenant (the default)"),
        pytest.param("MultiTenant", id="multi-tenant"),
        pytest.param("UserAssignedMSI", id="user-assigned managed identity"),
    ],
)
async def test_with_an_app_id_every_request_needs_a_valid_bot_framework_token(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, app_type: str | None
) -> None:
    async with authenticated_teams_stack(settings, monkeypatch, app_type) as (teams, identity):
        adapter = teams.app.adapters["teams"]
        assert adapter.config.app_type == (app_type or "SingleTenant")  # type: ignore[attr-defined]
        connector = teams.connector
        hello = teams.activity("message", ALICE, text="help")
        refusals = {
            "missing": None,
            "forged": "Bearer "
            + identity.issue_channel_token(APP_ID, connector.service_url, valid=False),
            "expired": "Bearer "
            + identity.issue_channel_token(APP_ID, connector.service_url, expires_in=-600),
            "other bot": "Bearer "
            + identity.issue_channel_token(
                "99999999-2222-3333-4444-555555555555", connector.service_url
            ),
            "other service": "Bearer "
            + identity.issue_channel_token(APP_ID, "https://evil.example.com/"),
        }
        for case, header in refusals.items():
            teams.authorization = header
            status, _ = await teams.post(dict(hello, id=f"forged-{case}"))
            assert status == 401, case
        assert await count(teams, Suggestion) == 0 and not teams.connector.calls
        teams.authorization = "Bearer " + identity.issue_channel_token(
            APP_ID, connector.service_url
        )
        status, _ = await teams.say(ALICE, "suggest Signed and sealed")
        assert status in (200, 201)
        await teams.settle()
        assert await count(teams, Suggestion) == 1
        # The reply went out with a token the bot obtained from the identity provider.
        [reply] = connector.calls_to("reply")
        assert reply.authorization and reply.authorization.split()[1] in identity.issued_tokens
        # The next turn's reply reuses that token: botbuilder alone makes a new MSAL app for
        # every turn, which asks Azure AD again with blocking calls in the event loop.
        status, _ = await teams.say(ALICE, "help")
        assert status in (200, 201)
        await teams.settle()
        assert len(connector.calls_to("reply")) == 2
        if app_type == "UserAssignedMSI":  # its token came from the identity, asked once
            [asked] = identity.managed_identity_requests
            assert asked["client_id"] == APP_ID and asked["resource"] == BOT_FRAMEWORK_SCOPE
            assert identity.token_requests == []
        else:  # its token came from Azure AD's token endpoint, asked once, with the secret
            [asked] = identity.token_requests
            assert (asked["client_id"], asked["client_secret"]) == (APP_ID, "pw")


async def test_without_an_app_id_only_this_machine_is_served(settings: Settings) -> None:
    import socket

    import aiohttp
    from aiohttp.test_utils import TestServer

    from bot.web import build_web_app

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.254", 9))  # UDP "connect" sends nothing; it picks a route
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address to test from")
    async with teams_stack(settings) as teams:
        outside = TestServer(build_web_app(teams.app, run_scheduler=False), host=address)
        await outside.start_server()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://{address}:{outside.port}/api/messages",
                    json=teams.activity("message", ALICE, text="suggest From afar"),
                ) as response,
            ):
                assert response.status == 401
                assert "local emulators" in await response.text()
        finally:
            await outside.close()
        assert await count(teams, Suggestion) == 0


async def test_without_an_app_id_the_adapter_is_built_by_the_first_request(
    teams: TeamsStack,
) -> None:
    """An emulator-only Teams (on in every install) loads botbuilder on first use, not at
    start (tests/operations/test_idle_imports.py); its first request is served all the same."""
    deferred = teams.app.adapters["teams"]
    assert isinstance(deferred, DeferredTeamsAdapter)
    assert not deferred.loaded
    await teams.say(ALICE, "suggest Built on first use")
    assert deferred.loaded
    assert await count(teams, Suggestion) == 1
    assert sent_to(teams, ALICE), "the first request was answered"


async def test_members_sync_teams_reaches_new_joiners(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from bot.cli.main import cli

    team_id = "19:sales@thread.tacv2"
    async with teams_stack(sqlite_settings) as teams:
        teams.connector.add_member(
            team_id, user_id="29:first", aad_object_id="aad-first", name="First Seller"
        )
        await teams.post(
            teams.activity(
                "installationUpdate",
                BOSS,
                action="add",
                conversation={"conversationType": "channel", "id": team_id, "tenantId": TENANT},
                channelData={"team": {"id": team_id, "name": "Sales"}, "tenant": {"id": TENANT}},
            )
        )
        await teams.settle()
        assert len(teams.connector.created) == 1
        teams.connector.add_member(
            team_id, user_id="29:new", aad_object_id="aad-new", name="New Joiner"
        )
        for key, value in {
            "DATABASE_URL": sqlite_settings.database_url,
            "ADVOCACY_SECRET_KEY": sqlite_settings.secret_key or "",
            "ADVOCACY_DATA_DIR": str(sqlite_settings.data_dir),
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["members", "sync", "teams"])
        assert result.exit_code == 0, result.output
        assert "2 members read" in result.output
        assert len(teams.connector.created) == 2  # only the new joiner's chat was opened
        async with teams.app.db.transaction() as session:
            assert await find_member(session, "teams", "aad-new", TENANT) is not None


async def test_an_installation_announced_twice_welcomes_and_reads_the_roster_once(
    teams: TeamsStack,
) -> None:
    team_id = "19:ops@thread.tacv2"
    teams.connector.add_member(team_id, user_id="29:op", aad_object_id="aad-op", name="Op")
    conversation = {"conversationType": "channel", "id": team_id, "tenantId": TENANT}
    data = {"team": {"id": team_id, "name": "Ops"}, "tenant": {"id": TENANT}}
    await teams.post(
        teams.activity(
            "installationUpdate", BOSS, action="add", conversation=conversation, channelData=data
        )
    )
    await teams.post(
        teams.activity(
            "conversationUpdate",
            BOSS,
            conversation=conversation,
            membersAdded=[{"id": "28:bot-app-id"}],
            channelData=data,
        )
    )
    await teams.settle()
    assert len(teams.connector.activities[team_id]) == 1  # one welcome
    assert len(teams.connector.calls_to("paged_members")) == 1  # one roster read


async def test_a_send_survives_a_connection_the_service_dropped(teams: TeamsStack) -> None:
    await teams.say(ALICE, "hello")
    await teams.settle()
    teams.connector.drop_next("send")
    await run_digest(teams)
    async with teams.app.db.transaction() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    sends = teams.connector.calls_to("send")
    assert [call.status for call in sends] == [0, 201]  # dropped, then sent at once


async def test_a_message_whose_work_fails_for_a_moment_is_done_on_the_next_attempt(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botbuilder hands an error raised in a turn to on_turn_error and carries on; for a turn
    the inbox runs, the error goes back to the inbox, which tries the event again, rather than
    the acknowledged message counting as handled with nothing done."""
    monkeypatch.setattr("bot.inbox.worker.backoff_seconds", lambda attempts: 0.0)
    router = teams.app.router
    original = router.handle
    failures = [RetryLater("the database went away for a moment")]

    async def flaky(event: Any, receipt: Any = None) -> Any:
        if receipt is not None and failures:
            raise failures.pop()
        return await original(event, receipt)

    monkeypatch.setattr(router, "handle", flaky)
    status, _ = await teams.say(ALICE, "suggest Weekend rota for urgent tickets")
    assert status == 201
    assert not failures, "the first attempt should have failed"
    assert await count(teams, Suggestion) == 1
    replies = teams.connector.activities[ALICE.conversation]
    assert "told when a manager answers" in json.dumps(replies[-1])


async def test_the_board_turns_pages_and_changes_order_in_the_card(teams: TeamsStack) -> None:
    await add(teams, ALICE)
    await add(teams, BOB)
    for n in range(1, 7):
        await teams.say(ALICE, f"suggest Idea {n}")
    await teams.say(BOB, "vote 1")
    await teams.say(BOB, "suggestions")
    await teams.settle()
    board = sent_to(teams, BOB)[-1]
    [card] = cards_in(board)
    assert adaptive_card_error(card) is None
    first = json.dumps(card)
    assert "Page 1 of 2, 6 ideas" in first and "Idea 6" in first and "Idea 1" not in first
    sets = [c["items"][-1] for c in card["body"] if c["items"][-1]["type"] == "ActionSet"]
    assert sets and all(len(s["actions"]) <= 6 for s in sets)  # Teams folds away the rest
    status, answer = await teams.execute(BOB, action(card, "Next page ▶"), board["id"])
    assert status == 200
    turned = answer["value"]
    assert adaptive_card_error(turned) is None
    assert "Page 2 of 2, 6 ideas" in json.dumps(turned) and "Idea 1" in json.dumps(turned)
    status, answer = await teams.execute(BOB, action(turned, "Most voted"), board["id"])
    top = json.dumps(answer["value"])
    assert "Open ideas, most voted first" in top
    assert top.index("Idea 1") < top.index("Idea 6")  # the one with a vote comes first
