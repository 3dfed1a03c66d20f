"""People leave: a member who left is no longer counted among their team's active members (so the
team's anonymous ideas move up when fewer than 5 remain), sent digests or listed, while their
ideas, votes and feedback stay; they are active again when they come back. Said by an admin
(``members leave``), by the HR file (a status column, or ``--complete``) or by Slack (a
deactivated account)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.slack.directory import sync_members
from bot.app import Application
from bot.config import Settings
from bot.console.auth import open_session, resume_session
from bot.domain import DigestKind, FeedbackKind, Role, SubjectType
from bot.events import CommandInvoked, HomeOpened
from bot.platform.members import MemberDirectory
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.escalation import escalate_waiting
from bot.services.feedback import record_feedback
from bot.services.member_leaving import leave_member, return_member
from bot.services.members import find_member, get_member
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.services.suggestions import file_suggestion, vote
from bot.storage.models import Delivery, Feedback, Member, Suggestion, SuggestionVote
from bot.storage.types import utcnow
from tests.conftest import SECRET, actor, make_member
from tests.fakes import RemotePlatform
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def texts(reply: Any) -> str:
    return json.dumps([m.to_dict() for m in reply.messages], ensure_ascii=False)


async def org(app: Application) -> None:
    """Maria runs Leadership; Erin, under her, runs Engineering (five engineers); Quinn, also
    under Maria, runs QA (four testers)."""
    await make_member(app, "maria", role=Role.MANAGER, team="Leadership")
    await make_member(app, "erin", role=Role.MANAGER, team="Engineering", manager="maria")
    for n in range(1, 6):
        await make_member(app, f"eng{n}", team="Engineering", manager="erin")
    await make_member(app, "quinn", role=Role.MANAGER, team="QA", manager="maria")
    for n in range(1, 5):
        await make_member(app, f"qa{n}", team="QA", manager="quinn")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "ship", "Ship weekly")


async def rollup(app: Application, manager: str) -> str:
    reply = await app.router.handle(
        CommandInvoked(actor(manager), command="rollup", text="--by team --since all")
    )
    assert not reply.error, reply.error
    return texts(reply)


async def leave(app: Application, user: str) -> None:
    async with app.db.transaction() as session:
        await leave_member(session, OPERATOR, "remote", user)


async def left_at(app: Application, user: str, platform: str = "remote") -> tuple[Any, Any]:
    async with app.db.transaction() as session:
        member = await find_member(session, platform, user)
        assert member is not None
        return member.left_at, member.left_by


IDEA = "Pair on every incident review"


async def test_when_engineers_leave_the_teams_anonymous_ideas_move_up_and_back_when_they_return(
    app: Application,
) -> None:
    await org(app)
    reply = await app.router.handle(
        CommandInvoked(
            actor("eng1"), command="suggest", text=f"--anonymous --objective ship {IDEA}"
        )
    )
    assert "The managers of Engineering and those above them" in texts(reply)
    assert IDEA in await rollup(app, "erin")

    # Two engineers leave: the three who remain could be told apart. Nobody moved team; the
    # idea is now shown where a new one from Engineering would go (Leadership), not to Erin.
    await leave(app, "eng4")
    await leave(app, "eng5")
    assert IDEA not in await rollup(app, "erin")
    assert IDEA in await rollup(app, "maria")
    reply = await app.router.handle(
        CommandInvoked(actor("eng2"), command="suggest", text="--anonymous --objective ship Other")
    )
    assert "your team, Engineering, has fewer than 5 people" in texts(reply)

    # One writes to the bot again (opens its home): active again, but four are not enough.
    await app.router.handle(HomeOpened(actor("eng4")))
    assert await left_at(app, "eng4") == (None, None)
    assert IDEA not in await rollup(app, "erin")
    # The other is brought back by an admin: five again, and the idea is Erin's again.
    async with app.db.transaction() as session:
        await return_member(session, OPERATOR, "remote", "eng5")
    assert IDEA in await rollup(app, "erin")


async def test_members_who_left_get_no_digest_and_managers_who_left_no_rollup(
    app: Application, remote: Any
) -> None:
    for name in ("alice", "bob", "carol"):
        await make_member(app, name)
    await make_member(app, "boss", role=Role.MANAGER)
    await make_member(app, "ex_boss", role=Role.MANAGER)
    await leave(app, "carol")
    await leave(app, "ex_boss")
    async with app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/a", title="A")
        content = await add_digest(
            session,
            OPERATOR,
            "weekly",
            kind="content",
            audience="team:Support",
            cron="0 9 * * mon",
            timezone="UTC",
        )
        rollups = await add_digest(
            session,
            OPERATOR,
            "rollups",
            kind=DigestKind.ROLLUP,
            audience="all",
            cron="0 9 * * mon",
            timezone="UTC",
        )
    async with app.db.transaction() as session:
        first = await start_run(session, app.sealer, content, actor=OPERATOR)
        second = await start_run(session, app.sealer, rollups, actor=OPERATOR)
        recipients = list(await session.scalars(select(Delivery.recipient)))
    assert first is not None and first.queued == 3
    assert second is not None and second.queued == 1
    assert sorted(recipients) == ["alice", "bob", "boss", "boss"]
    assert app.worker is not None
    await app.worker.drain()
    assert "carol" not in {s.target.recipient for s in remote.sent}
    assert "ex_boss" not in {s.target.recipient for s in remote.sent}


async def test_leaving_keeps_every_idea_vote_and_feedback_and_ends_console_sessions(
    app: Application,
) -> None:
    await org(app)
    async with app.db.transaction() as session:
        eng1 = await get_member(session, "remote", "eng1")
        eng2 = await get_member(session, "remote", "eng2")
        idea = await file_suggestion(session, app.sealer, eng1, "Named idea", platform="remote")
        await file_suggestion(
            session, app.sealer, eng2, "Quiet idea", platform="remote", anonymous=True
        )
        await vote(session, eng2, idea.id)
        await record_feedback(
            session, eng2, SubjectType.SUGGESTION, idea.id, FeedbackKind.USEFUL, platform="remote"
        )
        cookie = await open_session(session, eng1)

    async def history() -> list[Any]:
        async with app.db.transaction() as session:
            rows = []
            for model in (Suggestion, SuggestionVote, Feedback):
                for row in await session.scalars(select(model).order_by(model.id)):
                    rows.append({c.name: getattr(row, c.name) for c in model.__table__.columns})
            return rows

    before = await history()
    await leave(app, "eng1")
    await leave(app, "eng2")
    assert await history() == before
    async with app.db.transaction() as session:
        named = (await session.scalars(select(Suggestion).where(Suggestion.id == idea.id))).one()
        assert named.author_id == eng1.id and named.vote_count == 1
        # Someone who left no longer signs in on a session opened before.
        assert await resume_session(session, cookie) is None
    assert "Named idea" in await rollup(app, "erin")
    async with app.db.transaction() as session:
        await return_member(session, OPERATOR, "remote", "eng1")
    assert await history() == before


def advocacy(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, on the test's database (SQLite file or PostgreSQL schema)."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DATABASE_SCHEMA": settings.database_schema or "",
        "ADVOCACY_SECRET_KEY": SECRET,
        "ADVOCACY_DATA_DIR": str(settings.data_dir),
    }
    for variable in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "MICROSOFT_APP_ID", "LOG_LEVEL"):
        env.pop(variable, None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def csv_file(tmp_path: Path, name: str, header: str, rows: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def people(settings: Settings, tmp_path: Path, *flags: str) -> dict[str, Any]:
    listed = advocacy(settings, tmp_path, "members", "list", "--json", *flags)
    assert listed.returncode == 0, listed.stderr
    return {r["identities"][0]: r["left_by"] for r in json.loads(listed.stdout)}


EVERYONE = [f"shell,p{n},Person {n},Support" for n in range(1, 11)]


async def test_hr_status_column_marks_people_as_left_and_brings_back_only_its_own(
    app: Application, settings: Settings, tmp_path: Path
) -> None:
    org_file = csv_file(tmp_path, "org.csv", "platform,user_id,name,team", EVERYONE)
    assert advocacy(settings, tmp_path, "members", "import", org_file).returncode == 0
    ran = advocacy(settings, tmp_path, "members", "leave", "shell", "p9")
    assert ran.returncode == 0 and "Person 9 left on" in ran.stdout, ran.stderr

    statuses = csv_file(
        tmp_path,
        "statuses.csv",
        "platform,user_id,Employment Status",
        [
            "shell,p1,Terminated - voluntary",
            "shell,p2,Inactive",
            "shell,p3,on sabbatical",  # not understood: the row is refused, p3 unchanged
            "shell,p9,Active",  # an admin marked p9: an HR row does not undo that
            "shell,gone,left",  # left before ever being a member: not added
        ],
    )
    ran = advocacy(settings, tmp_path, "members", "import", statuses)
    assert ran.returncode == 2
    assert "statuses.csv:4: rejected: the status 'on sabbatical' is not known" in ran.stderr
    assert "statuses.csv:5: warning: p9 was marked as left by an admin" in ran.stderr
    assert "advocacy members return shell p9" in ran.stderr
    assert "2 marked as left" in ran.stdout and "1 who left and were never members" in ran.stdout
    active = people(settings, tmp_path)
    assert "shell:p1" not in active and "shell:p2" not in active and "shell:p9" not in active
    assert "shell:p3" in active and "shell:gone" not in active
    everyone = people(settings, tmp_path, "--all")
    assert (everyone["shell:p1"], everyone["shell:p2"], everyone["shell:p9"]) == (
        "hr",
        "hr",
        "admin",
    )

    # The next export lists p1 again (rehired): HR marked her, so HR brings her back.
    back = csv_file(tmp_path, "back.csv", "platform,user_id,status", ["shell,p1,employed"])
    ran = advocacy(settings, tmp_path, "members", "import", back)
    assert ran.returncode == 0 and "1 back" in ran.stdout
    assert await left_at(app, "p1", "shell") == (None, None)
    # The admin who marked p9 brings him back; adding him again says how.
    ran = advocacy(settings, tmp_path, "members", "add", "shell", "p9")
    assert ran.returncode == 1 and "bring them back with: advocacy members return" in ran.stderr
    ran = advocacy(settings, tmp_path, "members", "return", "shell", "p9")
    assert ran.returncode == 0 and "Person 9 is an active member again" in ran.stdout
    assert "shell:p9" in people(settings, tmp_path)


async def test_a_complete_hr_file_marks_the_absent_as_left_but_never_from_a_cut_short_file(
    app: Application, settings: Settings, tmp_path: Path
) -> None:
    header = "platform,user_id,name,team,timezone"
    org_file = csv_file(tmp_path, "org.csv", header, EVERYONE)
    assert advocacy(settings, tmp_path, "members", "import", org_file).returncode == 0
    await make_member(app, "teams_only", platform="remote")  # a platform the file does not name

    # A file cut short after three people would mark seven of ten: refused, nobody marked.
    cut = csv_file(tmp_path, "cut.csv", header, EVERYONE[:3])
    ran = advocacy(settings, tmp_path, "members", "import", cut, "--complete")
    assert ran.returncode == 1
    assert "7 of the 10 active members are not in the file, more than half" in ran.stderr
    assert "run again with --yes" in ran.stderr
    assert set(people(settings, tmp_path)) >= {f"shell:p{n}" for n in range(1, 11)}

    # The real file: p10 has gone. p4's row has a bad time zone (rejected) but p4 is in the file.
    rows = [*EVERYONE[:9]]
    rows[3] = "shell,p4,Person 4,Support,Mars/Olympus"
    ran = advocacy(
        settings,
        tmp_path,
        "members",
        "import",
        csv_file(tmp_path, "all.csv", header, rows),
        "--complete",
        "--json",
    )
    assert ran.returncode == 2, ran.stderr
    report = json.loads(ran.stdout)
    assert (report["absent"], report["absent_left"], report["refused"]) == (1, 1, None)
    active = people(settings, tmp_path)
    assert "shell:p10" not in active and "shell:p4" in active
    assert "remote:teams_only" in active  # its platform is not in the file: left alone
    assert people(settings, tmp_path, "--all")["shell:p10"] == "hr"

    # A row nobody can read (no user id) could be anyone: with --complete, nobody is marked.
    unreadable = csv_file(tmp_path, "unreadable.csv", header, [*EVERYONE[:8], "shell,,Who,Support"])
    ran = advocacy(settings, tmp_path, "members", "import", unreadable, "--complete")
    assert ran.returncode == 1 and "cannot say who is missing" in ran.stderr
    assert "shell:p9" in people(settings, tmp_path)

    # --yes: the admin says the short file really is everyone.
    ran = advocacy(settings, tmp_path, "members", "import", cut, "--complete", "--yes")
    assert ran.returncode == 0, ran.stderr
    assert "6 not in the file marked as left" in ran.stdout
    assert set(people(settings, tmp_path)) == {
        "shell:p1",
        "shell:p2",
        "shell:p3",
        "remote:teams_only",
    }
    listed = advocacy(settings, tmp_path, "members", "list")
    assert "7 who left not shown; --all shows them" in listed.stdout


@pytest.fixture
async def slack_directory() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


async def test_slack_sync_marks_deactivated_accounts_as_left_and_back_when_reactivated(
    app: Application, slack_directory: FakeSlack
) -> None:
    fake = slack_directory
    users = {
        uid: fake.add_user(uid, real_name=uid.title()) for uid in ("UANNA1", "UBEN22", "UCAT33")
    }
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    first = await sync_members(MemberDirectory(app.db), client)
    assert first.imported is not None and first.imported.created == 3

    users["UANNA1"]["deleted"] = True  # deactivated in Slack
    users["UBEN22"]["deleted"] = True
    async with app.db.transaction() as session:  # HR said Cat left; her account lingers
        cat = await find_member(session, "slack", "UCAT33")
        assert cat is not None
        cat.left_at, cat.left_by = cat.created_at, "hr"
    second = await sync_members(MemberDirectory(app.db), client)
    assert second.imported is not None and second.imported.left == 2
    assert second.imported.kept_left == 1  # Slack does not undo what HR said
    for uid in ("UANNA1", "UBEN22", "UCAT33"):
        assert (await left_at(app, uid, "slack"))[0] is not None
    assert (await left_at(app, "UANNA1", "slack"))[1] == "slack"
    assert (await left_at(app, "UCAT33", "slack"))[1] == "hr"

    users["UANNA1"]["deleted"] = False  # reactivated
    third = await sync_members(MemberDirectory(app.db), client)
    assert third.imported is not None and third.imported.returned == 1
    assert await left_at(app, "UANNA1", "slack") == (None, None)
    async with app.db.transaction() as session:
        left = set(
            await session.scalars(select(Member.display_name).where(Member.left_at.is_not(None)))
        )
    assert left == {"Uben22", "Ucat33"}


async def test_a_waiting_idea_is_flagged_to_the_manager_above_one_who_left(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "ceo", role=Role.MANAGER, team="Leadership")
    await make_member(app, "lead", role=Role.MANAGER, team="Support", manager="ceo")
    await make_member(app, "ann", team="Support", manager="lead")
    async with app.db.transaction() as session:
        ann = await get_member(session, "remote", "ann")
        idea = await file_suggestion(session, app.sealer, ann, "Faster refunds", platform="remote")
        idea.created_at = utcnow() - timedelta(days=8)
        lead = await get_member(session, "remote", "lead")
        lead.left_at = utcnow()
    async with app.db.transaction() as session:
        assert await escalate_waiting(session, app.sealer, utcnow(), timedelta(days=7)) == 1
    assert app.worker is not None
    await app.worker.drain()
    assert [s.target.recipient for s in remote.sent] == ["ceo"]
