"""The shell's forms and scripts (issue 14, item 8): a command typed at a form prompt runs as a
command, each answer is checked as it is given and only a wrong one is asked again, errors say
what a right answer looks like, a piped script that hit errors exits 1; and a mistyped user is
refused rather than created (item 15)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from adapters.shell.mailbox import Mailbox
from adapters.shell.session import ShellSession
from bot.app import Application
from bot.domain import Role
from bot.services.digests import find_digest
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.storage.models import DecisionReview, Member, Suggestion
from tests.conftest import make_member

KEY = "shell-forms-key-3e9f1c07b2d54a6e8f90a1b2"


async def piped(app: Application, tmp_path: Path, user: str, script: str) -> tuple[int, str]:
    out = io.StringIO()
    session = ShellSession(
        app, Mailbox(tmp_path), user, stdin=io.StringIO(script), stdout=out, interactive=False
    )
    status = await session.run()
    return status, out.getvalue()


async def count(app: Application, model: type) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_command_typed_in_a_form_abandons_it_and_runs(
    app: Application, tmp_path: Path
) -> None:
    await make_member(app, "mike", role=Role.MANAGER, platform="shell")
    status, out = await piped(app, tmp_path, "mike", "/suggest\n/answer 999 done x\n")
    assert "Form abandoned: /answer is a command, so it runs instead" in out
    assert "! There is no suggestion #999" in out  # the command ran (and failed on its own)
    assert await count(app, Suggestion) == 0  # it was not taken as the idea's text
    assert status == 1 and "1 command failed (marked with !)." in out


async def test_an_answer_starting_with_a_slash_is_typed_twice(
    app: Application, tmp_path: Path
) -> None:
    status, out = await piped(app, tmp_path, "ann", "/suggest\n//etc/hosts should be mapped\n\nn\n")
    assert status == 0, out
    async with app.db.transaction() as session:
        [idea] = list(await session.scalars(select(Suggestion)))
    assert idea.text == "/etc/hosts should be mapped"


async def test_digest_add_checks_each_answer_and_asks_only_that_one_again(
    app: Application, tmp_path: Path
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST, platform="shell", team="Marketing")
    script = "\n".join(
        [
            "/digest add",
            "Weekly voice",  # name
            "7",  # kind: not a choice...
            "2",  # ...voice
            "team:Nope",  # audience: no such team...
            "team:Marketing",
            "foo bar",  # channel: not an id...
            "",  # ...none
            "9",  # Sunday
            "25:00",  # not a time...
            "18:30",
            "Mars/Base",  # not a time zone...
            "Europe/Paris",
            "",  # the zone's clock
            "/digest list",
        ]
    )
    status, out = await piped(app, tmp_path, "dana", script + "\n")
    errors = [line for line in out.splitlines() if line.startswith("! ")]
    assert errors == [
        "! '7' is not one of the choices for Kind: type its number, 1 to 3 (e.g. 1 for Curated "
        "content). Answer “Kind” again, or /cancel.",
        "! Unknown team 'Nope'. Known teams: Marketing. Answer “Audience” again, or /cancel.",
        "! 'foo bar' is not a channel id: it has no spaces, and on shell looks like alerts (one "
        "word). Answer “Or post it in a channel” again, or /cancel.",
        "! '25:00' is not a time of day; write it like 09:00 or 17:30. Answer “Time (24 h)” "
        "again, or /cancel.",
        "! Unknown time zone 'Mars/Base'; use an IANA name such as Europe/Paris or Asia/Tokyo. "
        "Answer “Time zone” again, or /cancel.",
    ]
    assert "Scheduled 'Weekly voice'" in out
    async with app.db.transaction() as session:
        digest = await find_digest(session, "Weekly voice")
    assert digest is not None
    assert (digest.kind, digest.audience, digest.cron, digest.timezone) == (
        "voice",
        "team:Marketing",
        "30 18 * * sun",
        "Europe/Paris",
    )
    # Five answers were wrong: in a script, that is five failures of the one command.
    assert status == 1 and "1 command failed" in out


async def test_a_name_already_taken_is_refused_at_once(app: Application, tmp_path: Path) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST, platform="shell")
    first = "/digest add\nPicks\n\n\n\n\n\n\n\n"
    assert (await piped(app, tmp_path, "dana", first))[0] == 0
    status, out = await piped(app, tmp_path, "dana", "/digest add\nPicks\n/cancel\n")
    assert "! A digest named 'Picks' already exists; choose another name." in out
    assert "Form abandoned." in out and status == 1


def advocacy(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ADVOCACY_SECRET_KEY": KEY,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
        "ADVOCACY_DATA_DIR": str(tmp_path / "data"),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_piped_script_exits_1_when_commands_failed_and_says_how_many(tmp_path: Path) -> None:
    ok = advocacy(tmp_path, "shell", "--user", "ann", "--new", stdin="/help\n/whoami\n")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "failed" not in ok.stdout
    bad = advocacy(
        tmp_path, "shell", "--user", "ann", stdin="/vote 999\n/help\n/react 9 x\n/whoami\n"
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad.stdout.rstrip().endswith("2 commands failed (marked with !).\nBye.")


def test_an_unknown_shell_user_is_refused_with_the_closest_one(tmp_path: Path) -> None:
    assert advocacy(tmp_path, "members", "add", "shell", "alice").returncode == 0
    typo = advocacy(tmp_path, "shell", "--user", "alcie")
    assert typo.returncode == 1
    assert typo.stderr.strip() == (
        "Error: There is no shell user 'alcie'; did you mean 'alice'? To create 'alcie' as a "
        "new member, add --new."
    )
    far = advocacy(tmp_path, "shell", "--user", "zed")
    assert "shell users: alice." in far.stderr and far.returncode == 1
    switched = advocacy(tmp_path, "shell", "--user", "alice", stdin="/switch alcie\n")
    assert "! There is no shell user 'alcie'; did you mean 'alice'?" in switched.stdout
    assert "--new: /switch alcie --new" in switched.stdout and switched.returncode == 1
    members = advocacy(tmp_path, "members", "list", "--json").stdout
    assert "alcie" not in members and "zed" not in members  # nobody was created
    created = advocacy(tmp_path, "shell", "--user", "alcie", "--new", stdin="/switch zed --new\n")
    assert created.returncode == 0, created.stdout + created.stderr
    members = advocacy(tmp_path, "members", "list", "--json").stdout
    assert "alcie" in members and "zed" in members


async def test_a_member_is_not_created_by_a_failed_switch(app: Application, tmp_path: Path) -> None:
    await make_member(app, "alice", platform="shell")
    before = await count(app, Member)
    status, out = await piped(app, tmp_path, "alice", "/switch alcie\n/whoami\n")
    assert status == 1 and "did you mean 'alice'?" in out
    assert await count(app, Member) == before


async def test_a_bad_address_in_content_add_is_asked_again_with_an_example(
    app: Application, tmp_path: Path
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST, platform="shell")
    script = "/content add\nexample dot com\nhttps://example.com/a\nA title\n\n\n\n"
    status, out = await piped(app, tmp_path, "dana", script)
    assert (
        "! 'example dot com' is not a web address; give a full http:// or https:// URL, e.g. "
        "https://example.com/article. Answer “URL” again, or /cancel." in out
    )
    assert "Added #1 'A title' to the library" in out
    assert status == 1  # a script that typed a wrong answer failed once


async def test_answer_with_a_status_and_no_text_asks_only_for_the_text(
    app: Application, tmp_path: Path
) -> None:
    """'/answer 1 under review' keeps the status typed: the form offers it, by its label, as the
    default, and an empty line takes it."""
    await make_member(app, "mike", role=Role.MANAGER, platform="shell")
    await make_member(app, "ann", manager="mike", platform="shell")
    await piped(app, tmp_path, "ann", "/suggest A weekend rota\n")
    status, out = await piped(app, tmp_path, "mike", "/answer 1 under review\n\nLooking at it\n")
    assert status == 0, out
    assert "New status [Under review]: " in out
    assert "Answer recorded: #1 is under review." in out
    async with app.db.transaction() as session:
        idea = await session.get(Suggestion, 1)
        assert idea is not None and idea.status == "under_review"


async def test_answer_form_asks_a_wrong_kpi_check_again_instead_of_losing_the_answer(
    app: Application, tmp_path: Path
) -> None:
    """The KPI check's fields are checked as they are given: a past review date or an objective
    on a declined idea is asked again, and the answer typed before it is kept."""
    await make_member(app, "mike", role=Role.MANAGER, platform="shell")
    await make_member(app, "ann", manager="mike", platform="shell")
    async with app.db.transaction() as session:
        objective = await add_objective(
            session, OPERATOR, "first-reply", "Answer within one hour", kpi="first reply time"
        )
        objective.kpi_direction = "lower"
    await piped(app, tmp_path, "ann", "/suggest A weekend rota\n")
    script = "\n".join(
        [
            "/answer 1 declined",
            "",  # keep declined
            "Not this year",
            "first-reply",  # a KPI check on a declined idea...
            "1",  # ...no KPI check
            "",  # the way that is better
            "",  # no date
            "/answer 1 done",
            "",
            "The rota started",
            "first-reply",
            "",
            "2020-01-01",  # in the past...
            "2d",
            "",
        ]
    )
    status, out = await piped(app, tmp_path, "mike", script)
    assert "A KPI check goes with planned or done, not declined" in out
    assert "2020-01-01 is in the past" in out
    assert "Form abandoned" not in out
    assert "Answer recorded: #1 is declined." in out
    assert "Answer recorded: #1 is done." in out and "You will be asked on" in out
    assert status == 1  # two wrong answers, each asked again
    async with app.db.transaction() as session:
        [review] = list(await session.scalars(select(DecisionReview)))
        assert review.decided_status == "done"
