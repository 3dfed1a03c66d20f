"""docs/ADAPTERS.md is the contract a new platform is written from: the names its module table
promises are where it says, and its capability table says what the adapters really declare."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from adapters.google_chat.adapter import GoogleChatAdapter
from adapters.shell.adapter import ShellAdapter
from adapters.slack.adapter import SlackAdapter
from adapters.teams.adapter import TeamsAdapter
from bot.platform import (
    DirectorySync,
    HomeSurface,
    MessageActions,
    SignedRequests,
    SocketConnection,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "ADAPTERS.md"
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)`")


def table(heading: str) -> list[list[str]]:
    """The rows (cells) of the first table under ``heading``, header and rule left out."""
    section = DOC.read_text().split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def promised_names() -> list[tuple[str, str]]:
    """(module, name) for each name the module table says a module gives: ``Inbox.accept`` is
    ``Inbox`` with an ``accept``. Parenthesised asides (``context.members``) are left out."""
    found = []
    for module_cell, gives in table("## What an adapter may import"):
        module = module_cell.strip("`")
        for name in NAME.findall(re.sub(r"\([^)]*\)", "", gives)):
            found.append((module, name))
    return found


def test_the_module_table_names_what_a_new_platform_needs() -> None:
    modules = {module for module, _ in promised_names()}
    assert {"bot.platform", "bot.platform.inbox", "bot.platform.store"} <= modules
    names = {name for _, name in promised_names()}
    assert {"AdapterStatus", "Inbox.register", "Inbox.accept", "show_reply"} <= names


@pytest.mark.parametrize(("module", "name"), promised_names())
def test_each_name_the_module_table_promises_is_there(module: str, name: str) -> None:
    found: object = importlib.import_module(module)
    for part in name.split("."):
        assert hasattr(found, part), f"{module} has no {name}"
        found = getattr(found, part)


ADAPTER_CLASSES = {
    "Slack": SlackAdapter,
    "Teams": TeamsAdapter,
    "Google Chat": GoogleChatAdapter,
    "Shell": ShellAdapter,
}
PROTOCOLS = {
    "DirectorySync": DirectorySync,
    "HomeSurface": HomeSurface,
    "MessageActions": MessageActions,
    "SocketConnection": SocketConnection,
    "SignedRequests": SignedRequests,
}


# What each capability protocol asks an adapter to have.
PROTOCOL_MEMBERS = {
    "DirectorySync": "sync_directory",
    "HomeSurface": "publish_home",
    "MessageActions": "message_actions",
    "SocketConnection": "connected",
    "SignedRequests": "signed_endpoints",
}


def capability_rows() -> list[tuple[str, str, bool]]:
    """(protocol, platform, the table says it has it) for each cell of the capability table."""
    rows = table("## Optional capabilities")
    header = ["Capability", "Protocol", *ADAPTER_CLASSES]
    cells = []
    for row in rows:
        assert len(row) == len(header), row
        protocol = re.findall(r"`([A-Za-z]+)\.", row[1])[0]
        for platform, cell in zip(header[2:], row[2:], strict=True):
            cells.append((protocol, platform, not cell.startswith("–")))
    return cells


@pytest.mark.parametrize(("protocol", "platform", "claimed"), capability_rows())
def test_the_capability_table_says_what_each_adapter_declares(
    protocol: str, platform: str, claimed: bool
) -> None:
    # Declared by having them: the class's members (a property counts: Teams declares its
    # signed endpoint only when it has an app id), as capabilities_of sees an instance.
    adapter_class = ADAPTER_CLASSES[platform]
    member = PROTOCOL_MEMBERS[protocol]
    assert member in PROTOCOLS[protocol].__annotations__ or hasattr(PROTOCOLS[protocol], member)
    assert hasattr(adapter_class, member) == claimed, (protocol, platform)
