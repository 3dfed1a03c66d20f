"""What an adapter may do with members: meet the person acting, find people, grant a role, and
import a platform's directory (Slack's users.list, a Teams roster) as the operator would."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.domain import Role
from bot.events import Actor
from bot.services.member_csv import ACTIVE, LEFT
from bot.services.member_import import (
    ImportReport,
    MemberRow,
    RowProblem,
    describe_leaving,
    import_member_rows,
)
from bot.services.members import find_member, grant_role, resolve_actor, validate_timezone
from bot.services.permissions import OPERATOR
from bot.storage.database import Database
from bot.storage.models import MemberIdentity

__all__ = [
    "ACTIVE",
    "LEFT",
    "ROLES",
    "ImportReport",
    "MemberDirectory",
    "MemberRow",
    "MemberSummary",
    "RowProblem",
    "describe_leaving",
    "validate_timezone",
]

# The roles a member may have (what ``grant_role`` takes), in the order choices list them.
ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True)
class MemberSummary:
    """Who a member is, as a greeting shows them."""

    display_name: str
    role: str
    team: str | None
    # The language the member is spoken to in (a supported locale), None for the default.
    locale: str | None = None


class MemberDirectory:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def meet(self, actor: Actor) -> MemberSummary:
        """The acting member, created on first contact (as the router does for any event)."""
        async with self._db.transaction() as session:
            member = await resolve_actor(session, actor)
            return MemberSummary(
                display_name=member.display_name,
                role=str(member.role),
                team=member.team.name if member.team else None,
                locale=member.locale,
            )

    async def exists(self, platform: str, user_id: str, workspace: str = "") -> bool:
        async with self._db.transaction() as session:
            return await find_member(session, platform, user_id, workspace) is not None

    async def user_ids(self, platform: str, workspace: str = "") -> list[str]:
        """Every user id known on a platform's workspace, in order."""
        async with self._db.transaction() as session:
            result = await session.execute(
                select(MemberIdentity.user_id)
                .where(MemberIdentity.platform == platform, MemberIdentity.workspace == workspace)
                .order_by(MemberIdentity.user_id)
            )
            return [str(user_id) for user_id in result.scalars()]

    async def grant_role(self, actor: Actor, role: str) -> None:
        """Give a member a role as the operator does (meeting them first if new)."""
        async with self._db.transaction() as session:
            await resolve_actor(session, actor)
            await grant_role(session, OPERATOR, actor.platform, actor.user_id, role)

    async def import_rows(
        self,
        rows: list[MemberRow],
        problems: list[RowProblem] | None = None,
        *,
        source: str = "directory",
    ) -> ImportReport:
        """Upsert a directory's members and link their managers, as the operator, in one
        transaction (no network call inside it: read the directory first)."""
        async with self._db.transaction() as session:
            return await import_member_rows(session, OPERATOR, rows, problems, source=source)
