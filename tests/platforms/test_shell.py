"""The shell adapter: rendering, the cross-process mailbox, and scripted sessions of the loop."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

from sqlalchemy import func, select

from adapters.shell.mailbox import Mailbox, MailboxEntry
from adapters.shell.render import ActionNumbers, clean, render_message
from adapters.shell.session import ShellSession
from bot.app import Application
from bot.compose.suggestion_cards import suggest_form
from bot.domain import Role
from bot.messages import Button, Card, Fact, LinkButton, Message
from bot.services.suggestions import file_suggestion
from bot.storage.models import Feedback
from tests.conftest import make_member

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "content" / "demo" / "tour.txt"


def advocacy(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "shell-key-546f77b203beec0aeba64378",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cards_render_with_numbered_actions_that_keep_counting() -> None:
    numbers = ActionNumbers()
    card = Card(
        title="Weekly picks",
        text="Read this.",
        facts=(Fact("Objective", "Reply fast"),),
        buttons=(
            Button("Useful", "feedback.useful", selected=True),
            LinkButton("Read", "https://example.com"),
        ),
    )
    first = render_message(Message("fallback", (card,)), numbers, "d1")
    second = render_message(Message("fallback", (card,)), numbers, "d2")
    assert "│ Objective: Reply fast" in first
    assert "[1] ✓ Useful  [2] Read ↗" in first
    assert "[3] ✓ Useful  [4] Read ↗" in second
    assert numbers.actions[3].message_ref == "d2"


def test_text_from_people_cannot_drive_the_terminal() -> None:
    hostile = "Hi\x1b[2J\x1b]0;pwned\x07 there\x00\x07 [bold]x[/bold]"
    assert clean(hostile) == "Hi there [bold]x[/bold]"
    out = render_message(Message("f", (Card(title="\x1b[31mred", text=hostile),)), ActionNumbers())
    assert "\x1b" not in out and "\x00" not in out and "Hi there" in out


def test_the_mailbox_carries_messages_across_processes_and_marks_them_read(tmp_path: Path) -> None:
    writer, reader = Mailbox(tmp_path), Mailbox(tmp_path)
    for n in range(3):
        writer.append("alice", MailboxEntry(f"d{n}", "now", Message.text(f"m{n}").to_dict()))
    assert [e.ref for e in reader.unread("alice")] == ["d0", "d1", "d2"]
    assert Mailbox(tmp_path).unread("alice") == []
    writer.append("alice", MailboxEntry("d3", "now", Message.text("m3").to_dict()))
    assert [e.ref for e in Mailbox(tmp_path).unread("alice")] == ["d3"]
    assert reader.unread("../etc/passwd") == []
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())


async def test_a_piped_session_fills_a_form_field_by_field(
    app: Application, tmp_path: Path
) -> None:
    script = "/suggest\nShorter stand-ups\n\ny\n/suggestions\n"
    out = io.StringIO()
    session = ShellSession(
        app, Mailbox(tmp_path), "alice", stdin=io.StringIO(script), stdout=out, interactive=False
    )
    assert await session.run() == 0
    text = out.getvalue()
    assert "── Suggest an idea ──" in text
    assert "Your suggestion #1 is filed anonymously" in text
    assert "From: Anonymous" in text and "Shorter stand-ups" in text


def test_the_scripted_tour_shows_the_whole_loop_every_time_it_runs(tmp_path: Path) -> None:
    """The issue's proof: after 'advocacy demo', one piped shell session runs the whole loop;
    from a fresh demo (demo --reset) it runs the same way again and again."""
    for _ in range(2):
        demo = advocacy("demo", "--reset", "--yes", "--you", "tester", cwd=tmp_path)
        assert demo.returncode == 0, demo.stderr
        assert "Sent 'Monday picks' to 27 members" in demo.stdout
        tour_text = advocacy("demo", "--tour", cwd=tmp_path).stdout
        assert tour_text == TOUR.read_text()
        tour = advocacy("shell", "--user", "alice", cwd=tmp_path, stdin=tour_text)
        assert tour.returncode == 0, tour.stderr
        assert_tour_steps(tour.stdout)
        useful = advocacy("suggestions", "list", "--json", cwd=tmp_path)
        assert '"status": "planned"' in useful.stdout


def assert_tour_steps(out: str) -> None:
    steps = [
        "── message 1 from the bot ──",  # the content digest arrives
        "┌─ Monday picks",
        "alice> 1",  # the employee presses Useful...
        "── card updated ──",
        "✓ You found this useful. Thanks!",
        "alice> 1",  # ...twice, and it counts once
        "Already counted; it counts once.",
        "Your suggestion #36 is filed.",  # sends a suggestion
        "You are Mike Chen (manager, Support)",  # the manager
        "mike> /rollup",  # reads the rollup of his teams' ideas
        "Suggestion rollup",
        "Answer every customer within one hour: 11 ideas",  # a real group, by its title
        "mike> /suggestions",  # the board of open ideas
        "Answer recorded: #36 is planned. The author will be told.",
        "You are Alice Martin (employee, Support)",
        "┌─ Your suggestion #36 is now planned",  # and the employee is told
        "Good idea: the status page ships in December.",
        "Answered by: Mike Chen",
    ]
    position = 0
    for step in steps:
        found = out.find(step, position)
        assert found >= 0, f"missing, in order: {step!r}\n{out}"
        position = found + len(step)
    assert "other (groups of fewer than 5 people)" not in out


async def test_a_form_inside_a_card_is_filled_by_its_number(
    app: Application, tmp_path: Path
) -> None:
    card = Card(title="Got an idea?", form=suggest_form([]))
    message = Message.from_dict(Message("idea", (card,)).to_dict())  # survives the outbox
    assert message.cards[0].form is not None
    Mailbox(tmp_path).append("alice", MailboxEntry("d1", "now", message.to_dict()))
    out = io.StringIO()
    script = "1\nInline forms work\n\nn\n"
    session = ShellSession(
        app, Mailbox(tmp_path), "alice", stdin=io.StringIO(script), stdout=out, interactive=False
    )
    await session.run()
    text = out.getvalue()
    assert "[1] Fill in: Suggest an idea" in text
    assert "Your suggestion #1 is filed." in text


async def test_a_reaction_on_a_message_that_is_about_nothing_says_which_messages_count(
    app: Application,
) -> None:
    """The console link is message 1: reacting to it records nothing, and says why."""
    await make_member(app, "mike", role=Role.MANAGER, platform="shell")
    script = "/console\n/react 1 tada\n/unreact 1 tada\n"
    out = io.StringIO()
    session = ShellSession(
        app,
        Mailbox(app.settings.data_dir / "shell"),
        "mike",
        stdin=io.StringIO(script),
        stdout=out,
        interactive=False,
    )
    await session.run()
    text = out.getvalue()
    assert "── message 1 from the bot ──" in text and "Open the advocacy console" in text
    assert "(nothing changed)" not in text
    reacted = text.split("mike> /react 1 tada", 1)[1].split("mike> /unreact", 1)[0]
    assert "Reactions count on digests, articles and ideas" in reacted
    assert "nothing was recorded" in reacted


async def test_a_reaction_names_the_missing_message_and_takes_one_emoji(
    app: Application,
) -> None:
    """Before: /react 99 was answered with the usage line, and /react 1 👍 👎 recorded one
    reaction named "👍 👎"."""
    await make_member(app, "mike", role=Role.MANAGER, platform="shell")
    script = "/react 99 tada\n/console\n/react 7 tada\n/react 1 👍 👎\n"
    out = io.StringIO()
    session = ShellSession(
        app,
        Mailbox(app.settings.data_dir / "shell"),
        "mike",
        stdin=io.StringIO(script),
        stdout=out,
        interactive=False,
    )
    await session.run()
    text = out.getvalue()
    assert "There is no message 99 here" in text and "(none yet)" in text
    assert "There is no message 7 here" in text and "(1 to 1)" in text
    assert "One emoji at a time" in text and "Reaction recorded" not in text
    async with app.db.transaction() as session_:
        assert await session_.scalar(select(func.count(Feedback.id))) == 0


async def test_the_board_turns_pages_by_number_in_the_shell(app: Application) -> None:
    ann = await make_member(app, "ann", platform="shell")
    async with app.db.transaction() as session:
        for n in range(1, 7):
            await file_suggestion(session, app.sealer, ann, f"Idea {n}", platform="shell")
    # Buttons: [1] Newest [2] Most voted [3] Most customers [4] Next page.
    script = "/suggestions\n4\n/suggestions top done\n"
    out = io.StringIO()
    session = ShellSession(
        app,
        Mailbox(app.settings.data_dir / "shell"),
        "bob",
        stdin=io.StringIO(script),
        stdout=out,
        interactive=False,
    )
    await session.run()
    text = out.getvalue()
    first, turned = text.split("bob> 4", 1)
    assert "Page 1 of 2, 6 ideas" in first and "[4] Next page ▶" in first
    assert "Idea 6" in first and "Idea 1" not in first
    assert "── card updated ──" in turned and "Page 2 of 2, 6 ideas" in turned
    assert "Idea 1" in turned.split("bob> /suggestions top done")[0]
    assert "Done ideas, most voted first" in turned and "No done ideas" in turned


def test_a_button_is_never_split_across_two_lines() -> None:
    """Before: "[5] Share" ended one line and "on X ↗" began the next."""
    labels = ["Useful", "Not relevant", "Read", "Share on LinkedIn", "Share on X", "Comment"]
    card = Card(
        title="Pick",
        buttons=tuple(LinkButton(label, "https://example.com") for label in labels),
    )
    out = render_message(Message("f", (card,)), ActionNumbers())
    shown = [line.removeprefix("│ ") for line in out.splitlines() if "[" in line]
    assert len(shown) > 1  # the row is wrapped...
    pressable = [part for line in shown for part in line.split("  ")]
    # ...and each piece is one whole button.
    assert pressable == [f"[{n}] {label} ↗" for n, label in enumerate(labels, 1)]
    assert "\u00a0" not in out


def test_a_long_title_goes_on_in_the_card_instead_of_being_cut() -> None:
    """Before: "...was checked against its KPI: it did not he…", the verdict cut off."""
    title = "Your anonymous suggestion #37 was checked against its KPI: it did not help"
    out = render_message(Message("f", (Card(title=title, text="Body"),)), ActionNumbers())
    lines = out.splitlines()
    assert "…" not in out
    header = lines[0].removeprefix("┌─ ").rstrip("─ ")
    assert f"{header} {lines[1].removeprefix('│ ')}" == title  # all of it, in order
    assert len(lines[0]) == len(lines[-1])  # the frame stays square
    assert lines[2] == "│ Body"


def test_direction_overrides_are_not_shown_in_the_terminal() -> None:
    """U+202E in an idea reversed the rest of its line in terminals that reorder text."""
    card = Card(title="Idea \u202etxet", text="Fix it \u202eevil\u202c now")
    out = render_message(Message("f", (card,)), ActionNumbers())
    assert "Fix it evil now" in out and "Idea txet" in out
    assert not any(0x202A <= ord(c) <= 0x202E for c in out)


def _columns(line: str) -> int:
    """How many terminal columns a line takes: Japanese and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_japanese_cards_stay_inside_their_frame() -> None:
    """Before: lines were cut by characters, so a Japanese line took twice the frame's width
    (and wrapped only at the rare ASCII space: "各ビジネス目標の KPI" then a 90-column line)."""
    text = (
        "各ビジネス目標の KPI が正しい方向に動き目標値に届いているか、そしてその間にボットが何を"
        "したか。いいねの数ではなく、完了したアイデア、役に立ったコンテンツ、顧客の感情です。"
    )
    title = "提案のまとめ、過去 30 日（あなたのチーム）: 目標別、チーム別、ステータス別の内訳"
    card = Card(
        title=title,
        text=text,
        facts=(Fact("目標", "Answer every customer within one hour"),),
        buttons=tuple(Button(label, "a") for label in ("回答 / ステータス設定", "目標別", "別")),
    )
    out = render_message(Message("f", (card,)), ActionNumbers())
    lines = out.splitlines()
    assert {_columns(lines[0]), _columns(lines[-1])} == {78}  # the frame stays square
    assert all(_columns(line) <= 78 for line in lines), out
    body = [line.removeprefix("│ ") for line in lines[1:-1]]
    # Nothing lost or reordered, and no line begins with a closing mark ("。", "、", "）").
    assert text.replace(" ", "") in "".join(body).replace(" ", "")
    assert not [line for line in body if line[:1] in "。、）」"]
    assert "[1] 回答 / ステータス設定  [2] 目標別  [3] 別" in out  # whole, two spaces apart
    assert "目標: Answer every customer within one hour" in out
