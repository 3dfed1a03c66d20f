"""What people met trying the bot as employees and managers (issue 13's promises, tried by hand):
an anonymous author left out of the voters' notices, "--anonymous" typed the way people type it,
a form that opened named when anonymity was asked for, numbers too big for the database, a NUL
character in an idea, merges and answers outside a manager's reach, a fold that dated its
author, and files any account on the machine could read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.compose import actions
from bot.config import Settings
from bot.domain import Role
from bot.events import ActionInvoked, CommandInvoked, FormSubmitted
from bot.messages import CHECKED
from bot.services.members import get_member
from bot.services.suggestions import file_suggestion, vote
from bot.storage.database import Database
from bot.storage.models import Delivery, OutboundMessage, Suggestion
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform
from tests.ideas.test_loop import delivered


async def test_an_anonymous_author_who_voted_is_told_like_every_other_voter(
    app: Application, remote: RemotePlatform
) -> None:
    """Every voter got a notice by name except the author, whose vote was folded into her sealed
    notice: "all voters but one were told" named her."""
    await make_member(app, "boss", role=Role.MANAGER)
    for user in ("alice", "bob", "carla"):
        await make_member(app, user, manager="boss")
    async with app.db.transaction() as session:
        alice = await get_member(session, "remote", "alice")
        idea = await file_suggestion(
            session, app.sealer, alice, "No meetings over lunch", platform="remote", anonymous=True
        )
        for user in ("alice", "bob", "carla"):
            await vote(session, await get_member(session, "remote", user), idea.id)
    reply = await app.router.handle(
        CommandInvoked(actor("boss"), command="answer", text=f"{idea.id} planned Lunch is free")
    )
    assert not reply.error
    await delivered(app, remote)
    async with app.db.transaction() as session:
        named = sorted(
            await session.scalars(
                select(Delivery.recipient).where(Delivery.sealed_recipient.is_(None))
            )
        )
        sealed = await session.scalar(
            select(func.count(Delivery.id)).where(Delivery.sealed_recipient.is_not(None))
        )
    assert named == ["alice", "bob", "carla"]  # every voter, by name, the author too
    assert sealed == 1  # and the author's own notice, sealed


@pytest.mark.parametrize(
    "typed",
    [
        "The coffee machine is broken again --anonymous",
        "—anonymous The coffee machine is broken again",
        "-anonymous The coffee machine is broken again",
        "The coffee machine --anon is broken again",
        "The coffee machine is broken again --anonymous.",
    ],
)
async def test_anonymity_is_heard_however_it_is_typed(app: Application, typed: str) -> None:
    await make_member(app, "diego")
    reply = await app.router.handle(CommandInvoked(actor("diego"), command="suggest", text=typed))
    assert "filed anonymously" in reply.messages[0].fallback
    async with app.db.transaction() as session:
        [idea] = list(await session.scalars(select(Suggestion)))
    assert idea.anonymous and idea.author_id is None
    assert "anon" not in idea.text


@pytest.mark.parametrize(
    "typed",
    [
        "Our on-call rota is unfair to the night shift --anonymus",
        "--annonymous Our on-call rota is unfair",
        "Our on-call rota is unfair -anonymously",
        "Our on-call rota is unfair \u2014anonym",
    ],
)
async def test_a_misspelt_anonymous_flag_files_nothing_under_the_persons_name(
    app: Application, typed: str
) -> None:
    """Before: a misspelt flag after the idea was kept as text and the idea was filed with the
    person's name on it, the one thing they had asked not to happen."""
    await make_member(app, "diego")
    reply = await app.router.handle(CommandInvoked(actor("diego"), command="suggest", text=typed))
    assert reply.error and "--anonymous" in reply.error and "nothing was filed" in reply.error
    async with app.db.transaction() as session:
        assert list(await session.scalars(select(Suggestion))) == []


async def test_a_misspelt_flag_in_a_form_ticked_anonymous_is_filed_anonymously(
    app: Application,
) -> None:
    await make_member(app, "diego")
    typed = {"text": "Quiet room for calls --anonymus", "anonymous": True}
    reply = await app.router.handle(
        FormSubmitted(actor("diego"), form_id=actions.FORM_SUGGEST, values=typed)
    )
    assert not reply.error
    async with app.db.transaction() as session:
        [idea] = list(await session.scalars(select(Suggestion)))
    assert idea.anonymous and idea.author_id is None


async def test_asking_for_anonymity_without_text_opens_a_form_ticked_anonymous(
    app: Application,
) -> None:
    await make_member(app, "alice")
    asked = await app.router.handle(
        CommandInvoked(actor("alice"), command="suggest", text="--anonymous")
    )
    plain = await app.router.handle(CommandInvoked(actor("alice"), command="suggest", text=""))
    assert asked.form is not None and plain.form is not None
    assert {f.name: f.initial for f in asked.form.fields}["anonymous"] == CHECKED
    assert {f.name: f.initial for f in plain.form.fields}["anonymous"] != CHECKED


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("vote", "99999999999999999999999"),
        ("answer", "99999999999999999999999 planned yes"),
        ("merge", "99999999999999999999999 into 1"),
        ("vote", "²"),
    ],
)
async def test_a_number_too_big_for_an_id_is_a_clear_refusal(
    app: Application, command: str, text: str
) -> None:
    """Before: OverflowError's traceback in the person's terminal, then 'Something went wrong'."""
    await make_member(app, "mike", role=Role.MANAGER)
    reply = await app.router.handle(CommandInvoked(actor("mike"), command=command, text=text))
    assert reply.error and "is not a suggestion number" in reply.error


async def test_a_nul_character_in_an_idea_is_refused_with_a_reason(app: Application) -> None:
    """PostgreSQL refuses text with a NUL: the idea failed deep in its transaction with
    'Something went wrong'. Now, on both engines, one line saying what to remove."""
    await make_member(app, "alice")
    reply = await app.router.handle(
        CommandInvoked(actor("alice"), command="suggest", text="nul \x00 inside")
    )
    assert reply.error and "NUL" in reply.error and "remove it" in reply.error
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Suggestion.id))) == 0


async def test_a_manager_merges_and_answers_only_within_reach(app: Application) -> None:
    await make_member(app, "mike", role=Role.MANAGER, team="Support")
    await make_member(app, "pia", role=Role.MANAGER, team="Product")
    await make_member(app, "ann", team="Support", manager="mike")
    await make_member(app, "pat", team="Product", manager="pia")
    mine = await _file(app, "ann", "Refunds in one day")
    theirs = await _file(app, "pat", "Faster refunds")
    merged = await app.router.handle(
        CommandInvoked(actor("mike"), command="merge", text=f"{mine.id} into {theirs.id}")
    )
    assert merged.error and "team you do not manage" in merged.error
    other = await _file(app, "ann", "Refunds within a day")
    await app.router.handle(
        CommandInvoked(actor("mike"), command="merge", text=f"{other.id} into {mine.id}")
    )
    answered = await app.router.handle(
        CommandInvoked(actor("mike"), command="answer", text=f"{other.id} done Shipped")
    )
    assert answered.error and f"merged into #{mine.id}" in answered.error
    await app.router.handle(
        CommandInvoked(actor("mike"), command="hide", text=f"{mine.id} Off topic")
    )
    hidden = await app.router.handle(
        CommandInvoked(actor("mike"), command="answer", text=f"{mine.id} done Shipped")
    )
    assert hidden.error and "hidden" in hidden.error


async def test_backing_a_similar_idea_leaves_no_dated_trace_of_an_anonymous_author(
    app: Application,
) -> None:
    for user in ("ann", "ben"):
        await make_member(app, user)
    existing = await _file(app, "ann", "Put one support engineer on a weekend rota")
    reply = await app.router.handle(
        CommandInvoked(
            actor("ben"), command="suggest", text="--anonymous A weekend rota in support"
        )
    )
    offer = reply.messages[0].cards[-1]
    assert "without your name" in offer.text
    async with app.db.transaction() as session:
        before = await session.scalar(select(func.count(OutboundMessage.id)))
    folded = await app.router.handle(
        ActionInvoked(actor("ben"), action_id=actions.SUGGESTION_FOLD, value=offer.buttons[0].value)
    )
    assert f"joins #{existing.id}" in folded.messages[0].fallback
    async with app.db.transaction() as session:
        after = await session.scalar(select(func.count(OutboundMessage.id)))
    assert after == before, "no notice (a row dated to the second) for what she just did"


async def test_a_new_database_and_mailboxes_are_readable_by_this_account_only(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "advocacy.db"
    assert not path.exists()
    db = Database(sqlite_settings.database_url)
    await db.ping()
    await db.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    from adapters.shell.mailbox import Mailbox, MailboxEntry

    mailbox = Mailbox(tmp_path / "shell")
    mailbox.append("mike", MailboxEntry("d1", "now", {"fallback": "Sign in: https://..."}))
    assert stat.S_IMODE(os.stat(tmp_path / "shell").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "shell" / "mike.jsonl").st_mode) == 0o600


async def _file(app: Application, user: str, text: str) -> Suggestion:
    async with app.db.transaction() as session:
        author = await get_member(session, "remote", user)
        return await file_suggestion(session, app.sealer, author, text, platform="remote")
