"""Import every human member of a Slack workspace (users.list, paginated), so that a digest can
reach thousands of employees without anyone adding them by hand.

A deactivated account (``deleted``) marks its member as left: no longer counted among their
team's people when an anonymous idea is placed, nor sent digests. An account reactivated later
brings back the member this sync marked, not one an admin or the HR import marked as left."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import retry_after
from bot.platform.members import (
    ACTIVE,
    LEFT,
    ImportReport,
    MemberRow,
    RowProblem,
    validate_timezone,
)
from bot.platform.pacing import Pacer
from bot.platform.support import DomainError, InvalidInput

log = logging.getLogger(__name__)

PAGE_SIZE = 200  # Slack recommends no more than 200 a page
MAX_RATE_LIMIT_WAITS = 20
# users.list is a Tier 2 method: about 20 calls a minute per workspace.
USERS_LIST_PER_SECOND = 20 / 60
# Who marked a member as left (the core's ``left_by``): this sync.
SOURCE = "slack"


class MemberImport(Protocol):
    """Where the people read are imported (``AdapterContext.members``)."""

    async def import_rows(
        self, rows: list[MemberRow], problems: list[RowProblem] | None = None, *, source: str
    ) -> ImportReport: ...


@dataclass
class SyncReport:
    pages: int = 0
    seen: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    imported: ImportReport | None = None


def skip_reason(user: dict[str, Any]) -> str | None:
    """Why a Slack account is not an employee to reach, or None for a person to import."""
    if user.get("is_bot") or user.get("is_app_user") or user.get("id") == "USLACKBOT":
        return "bots"
    if user.get("deleted"):
        return "deleted"
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return "guests"
    return None


def member_row(user: dict[str, Any], workspace: str, status: str = ACTIVE) -> MemberRow:
    profile = user.get("profile") or {}
    name = profile.get("real_name") or user.get("real_name") or profile.get("display_name")
    try:
        timezone = validate_timezone(user["tz"]) if user.get("tz") else None
    except InvalidInput:
        timezone = None
    return MemberRow(
        line=0,
        platform="slack",
        workspace=workspace,
        user_id=str(user["id"]),
        name=name or user.get("name") or str(user["id"]),
        team=None,
        manager=None,
        role=None,
        timezone=timezone,
        status=status,
    )


async def sync_members(
    members: MemberImport,
    client: AsyncWebClient,
    *,
    workspace: str = "",
    pacer: Pacer | None = None,
    on_page: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Read the whole directory, then upsert the people in one transaction (names and time
    zones refresh; teams, roles and managers from the HR import are kept). Deactivated
    accounts are not imported, but the members they belong to are marked as left. Pages are
    read at ``pacer``'s pace (Tier 2), and a 429 is waited out as long as Slack asks."""
    pacer = pacer or Pacer(USERS_LIST_PER_SECOND)
    report = SyncReport()
    rows: list[MemberRow] = []
    cursor: str | None = None
    waits = 0
    while True:
        await pacer.wait(workspace)
        try:
            page = await client.users_list(limit=PAGE_SIZE, cursor=cursor)
        except SlackApiError as error:
            if error.response.status_code == 429 and waits < MAX_RATE_LIMIT_WAITS:
                waits += 1
                delay = retry_after(error.response.headers)
                log.info("slack: users.list rate limited; waiting %.0fs", delay)
                await asyncio.sleep(delay)
                continue
            reason = error.response.get("error") if isinstance(error.response.data, dict) else ""
            raise DomainError(
                f"Slack refused users.list: {reason or error.response.status_code}"
                ". Check the bot token and its users:read scope."
            ) from None
        report.pages += 1
        for user in page.get("members", []):
            report.seen += 1
            reason = skip_reason(user)
            if reason:
                report.skipped[reason] += 1
                if reason == "deleted":
                    rows.append(member_row(user, workspace, LEFT))
            else:
                rows.append(member_row(user, workspace))
        if on_page:
            on_page(report)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    # No network call inside the transaction: the whole directory was read first.
    report.imported = await members.import_rows(rows, source=SOURCE)
    return report
