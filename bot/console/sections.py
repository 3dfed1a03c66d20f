"""The console's pages and the roles each is for: read by the console to admit people and by
chat's /console, which sends a sign-in link only to someone with a page to open."""

from __future__ import annotations

from bot.domain import Role
from bot.i18n import N_

PAGES = (
    ("objectives", N_("Objectives"), (Role.MANAGER, Role.STRATEGIST)),
    ("content", N_("Content"), (Role.STRATEGIST,)),
    ("digests", N_("Digests"), (Role.STRATEGIST,)),
    ("suggestions", N_("Suggestions"), (Role.MANAGER,)),
    ("voice", N_("Customer voice"), (Role.MANAGER, Role.STRATEGIST)),
    ("deliveries", N_("Deliveries"), (Role.ADMIN,)),
)
# Everyone with at least one page (admins see every page).
CONSOLE_ROLES = tuple(dict.fromkeys(role for _, _, roles in PAGES for role in roles))
