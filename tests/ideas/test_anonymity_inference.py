"""Anonymity that holds against inference, not only against reading: two ideas of one person
cannot be linked in the database, an anonymous idea is never shown under a group small enough to
point at its author (and she is told who sees it), no log line at DEBUG names her, and no row
about her is timed next to her idea."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botbuilder.schema import Activity
from sqlalchemy import select, text, update

from adapters.teams.references import ConversationStore
from bot.app import Application
from bot.cli.runtime import configure_logging
from bot.config import Settings
from bot.domain import Role
from bot.events import CommandInvoked, HomeOpened
from bot.services.adapter_store import AdapterStore
from bot.services.anonymous_scope import team_scopes
from bot.services.members import get_member, get_team
from bot.services.objectives import add_objective
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.rollups import build_rollup
from bot.services.suggestions import file_suggestion, reseal_anonymous_ideas
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import AdapterRecord, Member, Suggestion
from tests.conftest import actor, make_member
from tests.serve_process import running_serve, wait_for
from tests.slack_fake import FakeSlack
from tests.slack_support import SIGNING_SECRET, TEAM, SlackClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def texts(reply: Any) -> str:
    """Everything a reply shows, as one string."""
    return json.dumps([m.to_dict() for m in reply.messages], ensure_ascii=False)


async def file(app: Application, user: str, idea: str, **options: Any) -> Suggestion:
    async with app.db.transaction() as session:
        author = await get_member(session, "remote", user)
        return await file_suggestion(
            session, app.sealer, author, idea, platform="remote", **options
        )


# ----- tags -----------------------------------------------------------------------------------


async def test_two_ideas_of_one_person_store_different_bytes_and_count_as_one_person(
    app: Application,
) -> None:
    await make_member(app, "olga", role=Role.MANAGER, team="Ops")
    for n in range(1, 7):
        await make_member(app, f"u{n}", team="Ops", manager="olga")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "one", "One")
        await add_objective(session, OPERATOR, "two", "Two")
    # "one": u1 twice and three others (4 people, 5 ideas); "two": 5 people. u1 is anonymous
    # three times.
    plan = [("u1", "one", True), ("u1", "one", True), ("u2", "one", True), ("u3", "one", True)]
    plan += [("u4", "one", False), ("u1", "two", True), ("u2", "two", False)]
    plan += [("u3", "two", False), ("u4", "two", True), ("u5", "two", True)]
    ideas = [
        await file(app, user, f"idea {n} from {user}", objective_key=key, anonymous=anonymous)
        for n, (user, key, anonymous) in enumerate(plan)
    ]
    async with app.db.transaction() as session:
        u1 = await get_member(session, "remote", "u1")
        stored = {
            s.id: s.contributor_tag
            for s in await session.scalars(select(Suggestion).where(Suggestion.anonymous))
        }
        rows = []
        for table in ("suggestions", "deliveries", "outbound_messages", "members"):
            rows += (await session.execute(text(f"SELECT * FROM {table}"))).all()
    dump = "\n".join(repr(row) for row in rows)
    hers = [
        stored[i.id] for i, (user, _, anonymous) in zip(ideas, plan, strict=True) if user == "u1"
    ]
    assert len(hers) == 3 and len(set(hers)) == 3  # equal author, different bytes
    assert len(set(stored.values())) == len(stored)
    plain = app.sealer.contributor_tag(u1.id)
    assert plain not in dump  # the linkable tag is stored nowhere

    async with app.db.transaction() as session:
        by_status = await build_rollup(session, OPERATOR, app.sealer, by="status", period=None)
        by_objective = await build_rollup(
            session, OPERATOR, app.sealer, by="objective", period=None
        )
    # Ten ideas from five people: u1's three anonymous ideas count as one person.
    [new] = by_status.rows
    assert (new.key, new.total, new.contributors.at_least) == ("new", 10, 5)
    assert by_status.total.contributors.at_least == 5
    # "one" has 5 ideas but 4 people: never shown on its own.
    assert "one" not in {row.key for row in by_objective.rows}


# ----- where an anonymous idea is shown -------------------------------------------------------


def test_an_anonymous_idea_goes_up_from_a_small_team_to_the_first_large_enough_level() -> None:
    teams = [(1, "Leadership"), (2, "Engineering"), (3, "Design"), (4, "QA"), (5, "Lonely")]
    teams += [(6, "Island")]
    people = [(1, 1, None, "manager"), (2, 2, 1, "manager"), (3, 3, 2, "manager")]
    people += [(4, 3, 3, "employee")]  # Design: one employee under its manager
    people += [(10 + n, 2, 2, "employee") for n in range(5)]  # Engineering: five
    people += [(20 + n, 4, 2, "employee") for n in range(4)]  # QA: four, under Engineering
    people += [(30, 5, None, "employee")]  # Lonely: one person, nobody above
    people += [(40, 6, None, "manager")] + [(41 + n, 6, 40, "strategist") for n in range(5)]
    scopes = team_scopes(teams, people)
    assert scopes.place(2) == 2  # five besides its manager: its own
    assert scopes.placement(3).reason == "up" and scopes.place(3) == 2  # Design -> Engineering
    assert scopes.place(4) == 2  # QA (four) -> Engineering
    assert scopes.place(5) is None  # no level up and nobody to hide among: every manager's
    assert scopes.place(6) == 6  # managers do not count, strategists do
    assert scopes.place(None) is None
    # Engineering shrinks to three: its ideas, and Design's and QA's, reach the top, where
    # Leadership has no one but its manager yet eight people's ideas end up: enough to hide.
    shrunk = team_scopes(teams, [p for p in people if p[0] not in (13, 14)])
    assert [shrunk.place(t) for t in (2, 3, 4)] == [1, 1, 1]
    assert shrunk.placement(2).reason == "top"
    # The same with a hierarchy that loops: every manager's, never a small team's.
    looped = team_scopes([(1, "A"), (2, "B")], [(1, 1, 2, "employee"), (2, 2, 1, "employee")])
    assert looped.place(1) is None and looped.place(2) is None


async def org(app: Application) -> None:
    """Maria runs Leadership; Erin, under her, runs Engineering (five engineers); under Erin,
    Dave runs Design (Alice alone) and Quinn runs QA (four testers)."""
    await make_member(app, "maria", role=Role.MANAGER, team="Leadership")
    await make_member(app, "erin", role=Role.MANAGER, team="Engineering", manager="maria")
    for n in range(1, 6):
        await make_member(app, f"eng{n}", team="Engineering", manager="erin")
    await make_member(app, "dave", role=Role.MANAGER, team="Design", manager="erin")
    await make_member(app, "alice", team="Design", manager="dave")
    await make_member(app, "quinn", role=Role.MANAGER, team="QA", manager="erin")
    for n in range(1, 5):
        await make_member(app, f"qa{n}", team="QA", manager="quinn")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "ship", "Ship weekly")


async def suggest(app: Application, user: str, idea: str) -> str:
    reply = await app.router.handle(
        CommandInvoked(actor(user), command="suggest", text=f"--anonymous --objective ship {idea}")
    )
    assert not reply.error, reply.error
    return reply.messages[0].fallback


ALICE_IDEAS = ("Reviews should not need a meeting", "Give us our own test budget")
QA_IDEA = "Stop shipping on Fridays without a test run"


async def test_in_teams_of_one_and_four_anonymous_ideas_go_one_level_up_and_the_author_is_told(
    app: Application,
) -> None:
    await org(app)
    told = [await suggest(app, "alice", idea) for idea in ALICE_IDEAS]
    told_qa = await suggest(app, "qa1", QA_IDEA)
    for n in range(1, 6):  # Engineering's own ideas, named
        await app.router.handle(
            CommandInvoked(actor(f"eng{n}"), command="suggest", text=f"Engineering idea {n}")
        )
    async with app.db.transaction() as session:
        engineering = await get_team(session, "Engineering")
        stored = {
            s.text: s.team_id
            for s in await session.scalars(select(Suggestion).where(Suggestion.anonymous))
        }
    assert stored == dict.fromkeys((*ALICE_IDEAS, QA_IDEA), engineering.id)

    # Her manager and the tester's never see them: not in /rollup (any breakdown), not on Home.
    for manager, hidden in (("dave", ALICE_IDEAS), ("quinn", (QA_IDEA,))):
        shown = [
            texts(await app.router.handle(CommandInvoked(actor(manager), command="rollup", text=t)))
            for t in ("--by team --since all", "--by objective", "--by status")
        ]
        shown.append(texts(await app.router.handle(HomeOpened(actor(manager)))))
        for idea in hidden:
            assert all(idea not in page for page in shown), (manager, idea)
    # Engineering's manager sees them, counted under Engineering: 5 named + 3 anonymous ideas
    # from 7 people, never under Design or QA.
    async with app.db.transaction() as session:
        erin = await get_member(session, "remote", "erin")
        dave = await get_member(session, "remote", "dave")
        by_team = await build_rollup(session, erin, app.sealer, by="team", period=None)
        report = await build_objectives_report(session, dave, app.sealer)
    assert {row.key: row.total for row in by_team.rows} == {"Engineering": 8}
    assert set(ALICE_IDEAS) <= {s.text for s in by_team.oldest_waiting}
    erin_home = texts(await app.router.handle(HomeOpened(actor("erin"))))
    assert ALICE_IDEAS[0] in erin_home and "Design" not in erin_home
    figures = json.dumps([row.as_dict() for row in report.rows])
    assert "Design" not in figures and "QA" not in figures
    # The confirmation said who answers it, truthfully.
    for receipt in told:
        assert "The managers of Engineering and those above them answer it" in receipt
        assert "your team, Design, has fewer than 5 people" in receipt
        assert "Nobody, managers included, can see that it came from you" in receipt
    assert "The managers of Engineering and those above them answer it" in told_qa
    assert "your team, QA, has fewer than 5 people" in told_qa


async def test_a_team_of_five_keeps_its_anonymous_ideas_until_it_shrinks(app: Application) -> None:
    await org(app)
    receipt = await suggest(app, "eng1", "Pair on every incident review")

    def rollup_text(user: str) -> Any:
        return app.router.handle(CommandInvoked(actor(user), command="rollup", text="--by team"))

    assert "Pair on every incident review" in texts(await rollup_text("erin"))
    # Two engineers move to Sales, under Maria: three left could be told apart, so the idea is
    # now shown where a new one from Engineering would go (Leadership, above it), not to Erin.
    await make_member(app, "sally", team="Sales", manager="maria")
    async with app.db.transaction() as session:
        sales = await get_team(session, "Sales")
        maria = await get_member(session, "remote", "maria")
        await session.execute(
            update(Member)
            .where(Member.display_name.in_(["Eng4", "Eng5"]))
            .values(team_id=sales.id, manager_id=maria.id)
        )
    assert "Pair on every incident review" not in texts(await rollup_text("erin"))
    assert "Pair on every incident review" in texts(await rollup_text("maria"))
    # When it was filed, she was told it stays with her team.
    assert "The managers of Engineering and those above them answer it." in receipt
    assert "fewer than 5" not in receipt


def advocacy(cwd: Path, *args: str, stdin: str | None = None) -> str:
    env = {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "anonymity-inference-key-42dbfe888f9658d914900556",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
    }
    for variable in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "MICROSOFT_APP_ID", "LOG_LEVEL"):
        env.pop(variable, None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


ORG_CSV = """platform,user_id,name,team,manager,role
shell,maria,Maria Lopez,Leadership,,manager
shell,erin,Erin Park,Engineering,maria,manager
shell,eng1,Eng One,Engineering,erin,employee
shell,eng2,Eng Two,Engineering,erin,employee
shell,eng3,Eng Three,Engineering,erin,employee
shell,eng4,Eng Four,Engineering,erin,employee
shell,eng5,Eng Five,Engineering,erin,employee
shell,dave,Dave Stone,Design,erin,manager
shell,alice,Alice Martin,Design,dave,employee
"""


def test_the_cli_exports_and_the_database_never_put_her_ideas_under_her_team(
    tmp_path: Path,
) -> None:
    (tmp_path / "org.csv").write_text(ORG_CSV)
    advocacy(tmp_path, "members", "import", "org.csv")
    script = "".join(f"/suggest --anonymous {idea}\n" for idea in ALICE_IDEAS)
    script += "".join(f"/switch eng{n}\n/suggest Engineering idea {n}\n" for n in range(1, 6))
    script += "/switch dave\n/rollup --by team\n/rollup\n"
    shown = advocacy(tmp_path, "shell", "--user", "alice", stdin=script)
    hers, _, daves = shown.partition("dave> ")
    assert "Suggestion rollup" in daves and not any(idea in daves for idea in ALICE_IDEAS)
    exported = {
        fmt: advocacy(tmp_path, "rollup", "--since", "all", "--by", "team", "--format", fmt)
        for fmt in ("csv", "json")
    }
    rows = {row["key"]: row for row in json.loads(exported["json"])["rows"]}
    assert rows["Engineering"]["total"] == 7 and "Design" not in rows
    assert all("Design" not in output for output in exported.values())
    with sqlite3.connect(tmp_path / "advocacy.db") as connection:
        placed = connection.execute(
            "SELECT DISTINCT t.name FROM suggestions s JOIN teams t ON t.id = s.team_id "
            "WHERE s.anonymous"
        ).fetchall()
    assert placed == [("Engineering",)]
    filed = " ".join(hers.replace("│", " ").split())  # the cards' text, unwrapped
    assert filed.count("The managers of Engineering and those above them answer it") == 2


# ----- logs and timing ------------------------------------------------------------------------

AUTHOR, AUTHOR_NAME = "U07ZOEQUILL", "Zoe Quill"
ANONYMOUS_IDEA = "Publish the incident reviews to everyone"


async def file_over_slack(tmp_path: Path, log_level: str) -> tuple[list[str], float, float, str]:
    """A first-contact author files an anonymous idea with /suggest through a real ``advocacy
    serve`` with the Slack adapter; returns the server's log, when the command was sent and
    answered (seconds since the epoch) and the receipt she was shown."""
    async with FakeSlack(team_id=TEAM) as fake:
        fake.add_user(AUTHOR, real_name=AUTHOR_NAME)
        env = {
            **os.environ,
            "ADVOCACY_SECRET_KEY": "anonymity-inference-key-42dbfe888f9658d914900556",
            "DATABASE_URL": "",
            "ADVOCACY_DATA_DIR": "",
            "LOG_LEVEL": log_level,
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "SUGGESTIONS_CHANNELS": "slack:CIDEAS",
        }
        async with running_serve(env, tmp_path) as server, aiohttp.ClientSession() as session:
            slack = SlackClient(f"{server.base_url}/slack/events", fake, session)
            sent = time.time()
            status, _ = await slack.command("/suggest", f"--anonymous {ANONYMOUS_IDEA}", AUTHOR)
            assert status == 200
            await wait_for(lambda: fake.calls_to("response_url"), "the receipt")
            answered = time.time()
            await wait_for(lambda: fake.messages.get("CIDEAS"), "the idea in the channel")
        receipt = json.dumps(fake.calls_to("response_url")[0].args)
        return server.log, sent, answered, receipt


async def test_at_debug_the_log_of_an_anonymous_idea_over_slack_names_nobody(
    tmp_path: Path,
) -> None:
    log, _, _, receipt = await file_over_slack(tmp_path, "DEBUG")
    everything = "".join(log)
    assert " DEBUG " in everything  # really at the most verbose level
    assert "users.info" not in everything
    for trace in (AUTHOR, AUTHOR.lower(), "D" + AUTHOR, AUTHOR_NAME, "Zoe", "Quill"):
        assert trace not in everything, f"{trace!r} is in the log"
    # She has no team: she is told that every manager can answer it.
    assert "filed anonymously" in receipt and "Every manager can answer it" in receipt


def test_below_warning_only_our_own_lines_are_logged_and_ids_in_errors_are_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG")
    try:
        logging.getLogger("slack_sdk.web.async_base_client").debug(
            "Sending a request - body_params: {'user': 'U07ZOEQUILL'}"
        )
        logging.getLogger("msrest.http_logger").info("Request URL: '/v3/conversations/a:1x'")
        logging.getLogger("some_new_library").debug("whatever it says")
        logging.getLogger("bot.inbox").debug("inbox: event 7 handled")
        try:
            raise RuntimeError(
                "(sqlite3.IntegrityError) UNIQUE constraint failed\n[SQL: INSERT INTO "
                "member_identities ...]\n[parameters: ('slack', 'T1', 'U07ZOEQUILL')]\n"
                "POST https://smba.example.net/amer/v3/conversations/a:1ZoeQuillChat/activities"
            )
        except RuntimeError:
            logging.getLogger("bot.chat.router").exception("command from slack failed")
    finally:
        configure_logging("WARNING")
    err = capsys.readouterr().err
    assert "inbox: event 7 handled" in err and "command from slack failed" in err
    assert "Sending a request" not in err and "Request URL" not in err
    assert "whatever it says" not in err
    assert "U07ZOEQUILL" not in err and "ZoeQuill" not in err
    assert "[parameters: hidden]" in err


TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?")


def stamps(values: tuple[Any, ...]) -> list[datetime]:
    found = []
    for value in values:
        if isinstance(value, str) and (match := TIMESTAMP.fullmatch(value)):
            found.append(datetime.fromisoformat(match.group(0)).replace(tzinfo=UTC))
    return found


async def test_no_row_about_the_author_is_timed_next_to_her_anonymous_idea(
    tmp_path: Path,
) -> None:
    _, sent, answered, _ = await file_over_slack(tmp_path, "INFO")
    window = (
        datetime.fromtimestamp(sent, UTC) - timedelta(minutes=1),
        datetime.fromtimestamp(answered, UTC) + timedelta(minutes=1),
    )
    with sqlite3.connect(tmp_path / "advocacy.db") as connection:
        (her_id,) = connection.execute(
            "SELECT member_id FROM member_identities WHERE user_id = ?", (AUTHOR,)
        ).fetchone()
        idea = connection.execute(
            "SELECT created_at, updated_at, sealed_author FROM suggestions WHERE anonymous"
        ).fetchone()
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        about_her: list[tuple[str, tuple[Any, ...]]] = []
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                as_text = repr(row)
                mine = table == "members" and row[columns.index("id")] == her_id
                mine |= table != "members" and her_id in {
                    v
                    for c, v in zip(columns, row, strict=True)
                    if c in ("member_id", "author_id", "responder_id", "created_by_id")
                }
                mine |= any(t in as_text for t in (AUTHOR, "D" + AUTHOR, AUTHOR_NAME))
                if mine:
                    about_her.append((table, row))
    # Rows about her: written on her first contact, but dated to the day at most.
    assert {table for table, _ in about_her} >= {"members", "member_identities"}
    for table, row in about_her:
        for value in stamps(row):
            near = window[0] <= value <= window[1]
            day_only = (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)
            assert not near or day_only, f"{table} row {row} is timed next to the idea"
    # The idea itself: to the hour, and its sealed author reference undated.
    for value in stamps(idea[:2]):
        assert (value.minute, value.second, value.microsecond) == (0, 0, 0), idea
    token = base64.urlsafe_b64decode(idea[2])
    assert int.from_bytes(token[1:9], "big") == 0  # a Fernet token's plain-text timestamp


# ----- Teams conversation references ----------------------------------------------------------


def teams_activity(activity_id: str, sender: str, conversation: dict[str, Any]) -> Activity:
    return Activity().deserialize(
        {
            "type": "message",
            "id": activity_id,
            "timestamp": datetime.now(UTC).isoformat(),
            "serviceUrl": "https://smba.example.net/amer/",
            "channelId": "msteams",
            "from": {"id": f"29:1{sender}", "name": sender.capitalize()},
            "conversation": conversation,
            "recipient": {"id": "28:bot", "name": "Advocacy"},
            "text": "hello",
        }
    )


async def test_a_teams_reference_is_written_once_without_the_activity_or_the_last_writer(
    app: Application,
) -> None:
    store = AdapterStore(app.db, app.sealer, "teams")
    personal = {"id": "a:1zoe-personal", "conversationType": "personal", "tenantId": "t1"}
    channel = {"id": "19:general@thread.tacv2", "conversationType": "channel", "tenantId": "t1"}
    first = ConversationStore(store)
    await first.remember(teams_activity("1001", "zoe", personal), tenant="t1", user="29:1zoe")
    await first.remember(teams_activity("1002", "bob", channel), tenant="t1", user="29:1bob")
    sentinel = datetime(2000, 1, 1, tzinfo=UTC)
    async with app.db.transaction() as session:
        await session.execute(update(AdapterRecord).values(updated_at=sentinel))
    # After a restart (a new store), Zoe writes again, then files her anonymous idea; Alice
    # writes in the channel Bob wrote in.
    again = ConversationStore(store)
    await again.remember(teams_activity("2001", "zoe", personal), tenant="t1", user="29:1zoe")
    await again.remember(teams_activity("2002", "alice", channel), tenant="t1", user="29:1alice")
    async with app.db.transaction() as session:
        records = list(await session.scalars(select(AdapterRecord)))
    assert records and all(r.updated_at == sentinel for r in records)  # nothing rewritten
    stored = json.dumps([r.value for r in records])
    for activity_id in ("1001", "1002", "2001", "2002"):
        assert activity_id not in stored
    channel_reference = next(r for r in records if r.key == channel["id"]).value
    assert "user" not in channel_reference["reference"]  # nobody is the channel's last writer


# ----- ideas filed before sealed tags ---------------------------------------------------------


async def test_migration_0010_drops_plain_tags_and_moves_old_ideas_out_of_small_teams(
    settings: Settings,
) -> None:
    db = Database(settings.database_url, search_path=settings.database_schema)
    try:
        await migrate.upgrade(db, "0009")
        async with db.transaction() as session:
            # Design: Alice alone under Dave, who reports to Erin in Engineering (five).
            for team_id, name in ((1, "Engineering"), (2, "Design")):
                await session.execute(
                    text("INSERT INTO teams (id, name, created_at) VALUES (:i, :n, :t)"),
                    {"i": team_id, "n": name, "t": datetime(2026, 1, 1)},
                )
            people = [(1, "erin", 1, None, "manager"), (2, "dave", 2, 1, "manager")]
            people += [(3, "alice", 2, 2, "employee")]
            people += [(10 + n, f"eng{n}", 1, 1, "employee") for n in range(5)]
            for member_id, name, team_id, manager_id, role in people:
                await session.execute(
                    text(
                        "INSERT INTO members (id, display_name, role, timezone, team_id, "
                        "manager_id, muted_kinds, cadence, created_at) VALUES "
                        "(:i, :n, :r, 'UTC', :t, :m, '[]', 'daily', :c)"
                    ),
                    dict(
                        i=member_id, n=name, r=role, t=team_id, m=manager_id, c=datetime(2026, 1, 1)
                    ),
                )
            for idea_id in (1, 2):  # Alice's two anonymous ideas, the way they were stored
                await session.execute(
                    text(
                        "INSERT INTO suggestions (id, text, anonymous, sealed_author, "
                        "contributor_tag, team_id, status, platform, vote_count, created_at, "
                        "updated_at, escalation_level) VALUES (:i, 'idea', true, 'sealed', "
                        "'0cc18d778ecae10a', 2, 'new', 'slack', 0, :t, :t, 0)"
                    ),
                    {"i": idea_id, "t": datetime(2026, 3, 4, 15, 47, 12, 345678)},
                )
        await migrate.upgrade(db)
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(Suggestion.contributor_tag, Suggestion.team_id, Suggestion.created_at)
                )
            ).all()
    finally:
        await db.dispose()
    assert rows == [(None, 1, datetime(2026, 3, 4, 15, tzinfo=UTC))] * 2


async def test_old_anonymous_ideas_sealed_again_count_as_people_and_are_undated(
    app: Application,
) -> None:
    await make_member(app, "olga", role=Role.MANAGER, team="Ops")
    for n in range(1, 6):
        await make_member(app, f"u{n}", team="Ops", manager="olga")
    plan = ["u1", "u1", "u2", "u3", "u4", "u5"]
    ideas = [await file(app, user, f"old idea {n}", anonymous=True) for n, user in enumerate(plan)]
    async with app.db.transaction() as session:
        # As migration 0010 leaves ideas filed before it: no tag, a dated sealed author.
        for idea, user in zip(ideas, plan, strict=True):
            author = await get_member(session, "remote", user)
            dated = app.sealer._fernet.encrypt(json.dumps({"member": author.id}).encode())
            await session.execute(
                update(Suggestion)
                .where(Suggestion.id == idea.id)
                .values(contributor_tag=None, sealed_author=dated.decode())
            )
        before = await build_rollup(session, OPERATOR, app.sealer, by="status", period=None)
    assert before.total.contributors.at_least == 1  # anyone's: counted low
    async with app.db.transaction() as session:
        assert await reseal_anonymous_ideas(session, app.sealer) == 6
        assert await reseal_anonymous_ideas(session, app.sealer) == 0  # once
        after = await build_rollup(session, OPERATOR, app.sealer, by="status", period=None)
        stored = list(await session.scalars(select(Suggestion)))
    assert after.total.contributors.at_least == 5
    assert len({s.contributor_tag for s in stored}) == 6
    assert not any(app.sealer.dated(s.sealed_author or "") for s in stored)
