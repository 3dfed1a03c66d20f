"""/help, the router's permissions and the README's command table say the same thing: each role
sees exactly the commands it may run, and is refused the others (even sub-commands)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.app import Application
from bot.chat.catalogue import COMMANDS, DEFAULTS, find_command
from bot.chat.commands import run_command
from bot.chat.context import ChatContext
from bot.domain import Role
from bot.errors import DomainError, PermissionDenied
from bot.events import CommandInvoked, MessageReceived
from bot.services.members import resolve_actor
from bot.services.permissions import require_role
from bot.storage.models import Delivery, Member
from tests.conftest import actor, make_member

README = Path(__file__).resolve().parents[2] / "README.md"


async def help_usages(app: Application, user: str, umbrella: bool = False) -> list[str]:
    event = (
        CommandInvoked(actor(user), command="advocacy", text="help")
        if umbrella
        else CommandInvoked(actor(user), command="help")
    )
    reply = await app.router.handle(event)
    return [fact.label for fact in reply.messages[0].cards[0].facts]


async def refused(app: Application, user: str, name: str) -> bool:
    """Whether running the command ``name`` (with nothing after it) is refused for lack of a
    role; any other outcome (done, or a question about what is missing) means it ran."""
    first, _, sub = name.partition(" ")
    async with app.db.transaction() as session:
        member = await resolve_actor(session, actor(user))
        event = CommandInvoked(actor(user), command=first, text=sub)
        ctx = ChatContext(session, member, event, app.sealer, app.metrics)
        try:
            await run_command(ctx, first, sub)
        except PermissionDenied:
            return True
        except DomainError:
            return False
    return False


@pytest.mark.parametrize("role", list(Role))
async def test_help_lists_exactly_the_commands_a_role_may_run(app: Application, role: Role) -> None:
    await make_member(app, "person", role=role, team="Support")
    listed = await help_usages(app, "person")
    may_run = [c.usage for c in COMMANDS.values() if not await refused(app, "person", c.name)]
    assert listed == may_run
    assert len(set(listed)) == len(listed)
    if role == Role.ADMIN:
        assert listed == [c.usage for c in COMMANDS.values()]
    if role == Role.EMPLOYEE:
        assert "/digest list" not in listed and "/console" not in listed
    if role == Role.STRATEGIST:
        assert {"/report [--since 30d]", "/content drafts", "/console"} <= set(listed)


async def test_slacks_help_spells_each_command_through_the_umbrella(app: Application) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    listed = await help_usages(app, "dana", umbrella=True)
    assert "/suggest IDEA" in listed
    assert any(u.startswith("/advocacy digest run NAME") for u in listed)
    assert all(u.startswith("/advocacy ") for u in listed if not u.startswith("/suggest "))


async def test_strategist_commands_are_refused_to_employees_even_alone(app: Application) -> None:
    await make_member(app, "alice")
    for text in ("digest", "digests list", "digest list", "content", "content drafts"):
        name, _, rest = text.partition(" ")
        reply = await app.router.handle(CommandInvoked(actor("alice"), command=name, text=rest))
        assert reply.error and reply.error.startswith("Only strategists or admins"), text
    unknown = await app.router.handle(
        CommandInvoked(actor("alice"), command="digest", text="dance")
    )
    assert unknown.error and "/digest list" in unknown.error and "/digest run" in unknown.error


async def test_console_for_an_employee_says_it_is_not_for_them_and_sends_nothing(
    app: Application,
) -> None:
    await make_member(app, "alice")
    reply = await app.router.handle(CommandInvoked(actor("alice"), command="console"))
    assert reply.error and "for strategists, managers and admins" in reply.error
    assert "you are an employee" in reply.error and "/help" in reply.error
    assert not reply.messages
    async with app.db.transaction() as session:
        assert await session.get(Delivery, 1) is None  # no sign-in link was queued


README_ROLES = {
    "everyone": set(),
    "strategists": {Role.STRATEGIST},
    "managers": {Role.MANAGER},
    "admins": {Role.ADMIN},
}


def readme_commands() -> list[tuple[str, set[Role]]]:
    """(command as typed, roles in its Who column) for each command in the README's table."""
    section = README.read_text().split("## Chat commands (every platform)", 1)[1]
    table = section.split("\n\n", 2)[1]
    found = []
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip("|"))]
        roles = set().union(*(README_ROLES[w] for w in re.findall(r"[a-z]+", cells[1])))
        roles.discard(Role.ADMIN)  # admins may run everything
        for typed in re.findall(r"`(/[^`]+)`", cells[0]):
            words = typed.replace("\\|", "|").lstrip("/").split()
            if words[0] == "advocacy":
                words = words[1:]
            subs = words[1].split("|") if words[0] in DEFAULTS and len(words) > 1 else [""]
            found += [(f"{words[0]} {sub}".strip(), roles) for sub in subs]
    return found


def test_the_readme_command_table_agrees_with_the_router() -> None:
    covered = set()
    for typed, roles in readme_commands():
        name, _, rest = typed.partition(" ")
        found = find_command(name, rest)
        assert found is not None, typed
        assert set(found[0].roles) - {Role.ADMIN} == roles, typed
        covered.add(found[0].name)
    assert covered == set(COMMANDS)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("sugest", "/suggest"), ("suggestion", "/suggestions"), ("vot", "/vote"), ("pref", "/prefs")],
)
async def test_a_misspelt_command_is_answered_with_the_one_meant(
    app: Application, typed: str, meant: str
) -> None:
    """Before: "I don't know '/sugest'" and nothing more, for the most common typos."""
    await make_member(app, "alice")
    reply = await app.router.handle(CommandInvoked(actor("alice"), command=typed, text="x"))
    assert reply.error is not None and f"Did you mean {meant}?" in reply.error


async def test_a_typo_is_never_matched_to_a_command_the_role_may_not_run(app: Application) -> None:
    await make_member(app, "alice")
    await make_member(app, "mike", role=Role.MANAGER)
    employee = await app.router.handle(CommandInvoked(actor("alice"), command="rolup"))
    manager = await app.router.handle(CommandInvoked(actor("mike"), command="rolup"))
    assert employee.error is not None and "Did you mean" not in employee.error
    assert manager.error is not None and "Did you mean /rollup?" in manager.error
    gibberish = await app.router.handle(CommandInvoked(actor("alice"), command="xyzzy"))
    assert gibberish.error == "I don't know '/xyzzy'. Type /help to see what I can do."


async def test_a_misspelt_command_in_a_chat_message_is_answered_with_the_one_meant(
    app: Application,
) -> None:
    """Teams and DMs take commands without a slash: "sugest ..." there was answered as chatter."""
    await make_member(app, "alice")
    typo = await app.router.handle(MessageReceived(actor("alice"), text="sugest more coffee"))
    chatter = await app.router.handle(MessageReceived(actor("alice"), text="hello there"))
    assert "Did you mean /suggest?" in typo.messages[0].fallback
    assert "Did you mean" not in chatter.messages[0].fallback


def test_a_refusal_names_the_roles_as_a_sentence_would() -> None:
    employee = Member(display_name="E", role=Role.EMPLOYEE)
    with pytest.raises(PermissionDenied) as refused:
        require_role(employee, (Role.MANAGER, Role.STRATEGIST), "see this")
    assert str(refused.value).startswith("Only managers, strategists or admins can see this;")
    with pytest.raises(PermissionDenied) as refused:
        require_role(employee, (Role.ADMIN,), "do that")
    assert str(refused.value).startswith("Only admins can do that;")
