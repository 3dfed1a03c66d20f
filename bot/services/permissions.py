"""Who may do what. Checked in the services, never in adapters."""

from __future__ import annotations

from dataclasses import dataclass

from bot.compose.text import with_article
from bot.domain import Role
from bot.errors import PermissionDenied
from bot.storage.models import Member


@dataclass(frozen=True)
class Operator:
    """The person at the server's command line: trusted like an admin (they hold the database)."""

    name: str = "operator"


OPERATOR = Operator()

Acting = Member | Operator

CURATORS = (Role.STRATEGIST,)
LEADERS = (Role.MANAGER,)


def role_allows(role: str, *roles: Role) -> bool:
    """Admins may do everything; other roles only what is listed."""
    return role == Role.ADMIN or role in roles


def has_role(actor: Acting, *roles: Role) -> bool:
    if isinstance(actor, Operator):
        return True
    return role_allows(actor.role, *roles)


def require_role(actor: Acting, roles: tuple[Role, ...], doing: str) -> None:
    """Raise PermissionDenied naming the roles that may do it and how to get one."""
    if has_role(actor, *roles):
        return
    names = [role.value + "s" for role in dict.fromkeys((*roles, Role.ADMIN))]
    allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    raise PermissionDenied(
        f"Only {allowed} can {doing}; you are {with_article(actor.role)}. "
        "An admin can change that with: advocacy roles grant PLATFORM USER_ID ROLE"
    )


def actor_id(actor: Acting) -> int | None:
    return None if isinstance(actor, Operator) else actor.id
