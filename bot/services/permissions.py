"""Who may do what. Checked in the services, never in adapters."""

from __future__ import annotations

from dataclasses import dataclass

from bot.compose.text import with_article
from bot.domain import Role
from bot.errors import PermissionDenied
from bot.i18n import N_, _
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


# Who may do something, as the refusal names them.
ROLE_PLURALS = {
    Role.EMPLOYEE: N_("employees"),
    Role.STRATEGIST: N_("strategists"),
    Role.MANAGER: N_("managers"),
    Role.ADMIN: N_("admins"),
}
# Who the refused person is.
ROLE_SINGULARS = {
    Role.EMPLOYEE: N_("an employee"),
    Role.STRATEGIST: N_("a strategist"),
    Role.MANAGER: N_("a manager"),
    Role.ADMIN: N_("an admin"),
}


def require_role(actor: Acting, roles: tuple[Role, ...], doing: str) -> None:
    """Raise PermissionDenied naming the roles that may do it and how to get one. ``doing`` is
    a verb phrase marked with ``N_`` ("curate content"), translated here."""
    if has_role(actor, *roles):
        return
    names = [_(ROLE_PLURALS[role]) for role in dict.fromkeys((*roles, Role.ADMIN))]
    if len(names) == 1:
        allowed = names[0]
    else:
        # Translators: the roles allowed to do something, e.g. "strategists or admins".
        allowed = _("{some} or {last}").format(some=", ".join(names[:-1]), last=names[-1])
    singular = ROLE_SINGULARS.get(actor.role)  # type: ignore[call-overload]
    role = _(singular) if singular else with_article(actor.role)
    raise PermissionDenied(
        " ".join(
            (
                # Translators: {doing} is a verb phrase such as "curate content"; {role} is
                # "a manager", "an employee"...
                _("Only {allowed} can {doing}; you are {role}.").format(
                    allowed=allowed, doing=_(doing), role=role
                ),
                _("An admin can change that with: advocacy roles grant PLATFORM USER_ID ROLE"),
            )
        )
    )


def actor_id(actor: Acting) -> int | None:
    return None if isinstance(actor, Operator) else actor.id
