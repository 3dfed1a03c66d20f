"""Words chat replies put inside sentences (a role, an idea's status), in the language spoken.

Enum values stay English where people type them back ("/answer 12 planned"); these are the
words shown to people in the middle of a sentence, one message each so translators see them.
"""

from __future__ import annotations

from bot.domain import SuggestionStatus
from bot.i18n import N_, _

# "You are {role}": with the article English needs ("an admin"); other languages drop it.
_ROLES = {
    "employee": N_("an employee"),
    "strategist": N_("a strategist"),
    "manager": N_("a manager"),
    "admin": N_("an admin"),
}
_STATUSES = {
    SuggestionStatus.NEW: N_("new"),
    SuggestionStatus.UNDER_REVIEW: N_("under review"),
    SuggestionStatus.PLANNED: N_("planned"),
    SuggestionStatus.DONE: N_("done"),
    SuggestionStatus.DECLINED: N_("declined"),
}


def role_phrase(role: str) -> str:
    """The role with its article, for sentences like 'you are {role}'."""
    found = _ROLES.get(str(role))
    if found is None:
        return f"{'an' if str(role)[:1] in 'aeiou' else 'a'} {role}"
    return _(found)


def status_word(status: str) -> str:
    """An idea's status inside a sentence ('#12 is planned')."""
    try:
        return _(_STATUSES[SuggestionStatus(status)])
    except (KeyError, ValueError):
        return str(status).replace("_", " ")


def status_choices() -> str:
    """The statuses as people type them (English, like command names): 'new, under review, ...'."""
    return ", ".join(status.label for status in SuggestionStatus)
