"""Who may be named in the shell: a typo (``--user alcie``, ``/switch alcie``) must not quietly
create a new member, who would then count among a team's people and receive digests."""

from __future__ import annotations

import difflib

from adapters.shell.adapter import PLATFORM
from bot.i18n import _
from bot.platform.members import MemberDirectory
from bot.platform.support import NotFound

NAMES_SHOWN = 8


async def require_shell_user(members: MemberDirectory, user_id: str, *, create_with: str) -> None:
    """Raise NotFound, offering the closest existing shell user, unless ``user_id`` is one.
    ``create_with`` says how to create them on purpose (``--new``)."""
    if await members.exists(PLATFORM, user_id):
        return
    users = await members.user_ids(PLATFORM)
    if not users:
        raise NotFound(
            _(
                "There is no shell user '{user}' yet: add {create_with} to join as a new "
                "employee, or load the sample organisation first with: advocacy demo"
            ).format(user=user_id, create_with=create_with)
        )
    by_case = {user.lower(): user for user in users}
    close = difflib.get_close_matches(user_id.lower(), list(by_case), n=1, cutoff=0.6)
    if close:
        raise NotFound(
            _(
                "There is no shell user '{user}'; did you mean '{close}'? To create '{user}' "
                "as a new member, add {create_with}."
            ).format(user=user_id, close=by_case[close[0]], create_with=create_with)
        )
    more = ", …" if len(users) > NAMES_SHOWN else ""
    raise NotFound(
        _(
            "There is no shell user '{user}'; shell users: {users}. To create '{user}' as a "
            "new member, add {create_with}."
        ).format(user=user_id, users=", ".join(users[:NAMES_SHOWN]) + more, create_with=create_with)
    )
