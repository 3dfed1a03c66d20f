"""The product's vocabulary as enumerations, shared by storage, services and adapters."""

import difflib
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from bot.errors import InvalidInput
from bot.i18n import _


class Role(StrEnum):
    EMPLOYEE = "employee"
    STRATEGIST = "strategist"
    MANAGER = "manager"
    ADMIN = "admin"


class ContentStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"


class DigestKind(StrEnum):
    CONTENT = "content"
    VOICE = "voice"
    ROLLUP = "rollup"


class RunStatus(StrEnum):
    ENQUEUED = "enqueued"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class FeedbackKind(StrEnum):
    USEFUL = "useful"
    NOT_RELEVANT = "not_relevant"
    SHARED = "shared"
    REACTION = "reaction"
    COMMENT = "comment"


class SuggestionStatus(StrEnum):
    NEW = "new"
    UNDER_REVIEW = "under_review"
    PLANNED = "planned"
    DONE = "done"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Ideas still being decided: shown by default, open for votes, escalated when unanswered.
OPEN_SUGGESTION_STATUSES = (
    SuggestionStatus.NEW,
    SuggestionStatus.UNDER_REVIEW,
    SuggestionStatus.PLANNED,
)


# Decisions that make a promise: the manager may say which KPI they should move (DecisionReview).
DECIDED_STATUSES = (SuggestionStatus.PLANNED, SuggestionStatus.DONE)


class KpiDirection(StrEnum):
    """Which way is better for a KPI, and which way a decision should move it."""

    HIGHER = "higher"
    LOWER = "lower"


class ReviewState(StrEnum):
    WAITING = "waiting"
    ASKED = "asked"
    ANSWERED = "answered"
    SUPERSEDED = "superseded"


class ReviewVerdict(StrEnum):
    """The manager's answer on the review date; "too early" is not a verdict, it postpones."""

    HELPED = "helped"
    DID_NOT_HELP = "did_not_help"

    @property
    def label(self) -> str:
        if self is ReviewVerdict.HELPED:
            return _("it helped")
        return _("it did not help; revisit")


class KpiSource(StrEnum):
    CLI = "cli"
    IMPORT = "import"
    WEBHOOK = "webhook"
    CONSOLE = "console"
    DEMO = "demo"


# Customer voice an employee heard and logged from chat (/voice, a message action).
EMPLOYEE_VOICE_SOURCE = "employee"


class SubjectType(StrEnum):
    """What a piece of feedback is about."""

    CONTENT = "content"
    DIGEST_RUN = "digest_run"
    SUGGESTION = "suggestion"
    VOICE = "voice"


E = TypeVar("E", bound=StrEnum)


def normalise_choice(value: str) -> str:
    """'Under review', 'under-review' and 'under_review' all mean under_review."""
    return "_".join(value.strip().lower().replace("-", " ").replace("_", " ").split())


def closest_choice(value: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice ``value`` was most likely a typo of ('planed' -> 'planned'), or None."""
    found = difflib.get_close_matches(normalise_choice(value), list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None


def parse_enum(enum: type[E], value: str, what: str) -> E:
    """Turn user text into an enum member, or raise a one-line error listing the choices and
    offering the closest one."""
    normalised = normalise_choice(value)
    try:
        return enum(normalised)
    except ValueError:
        values = [member.value for member in enum]
        guess = closest_choice(normalised, values)
        choices = ", ".join(values)
        if guess:
            raise InvalidInput(
                _("Unknown {what} '{value}'. Did you mean {guess}? Use one of: {choices}.").format(
                    what=what, value=value, guess=guess, choices=choices
                )
            ) from None
        raise InvalidInput(
            _("Unknown {what} '{value}'. Use one of: {choices}.").format(
                what=what, value=value, choices=choices
            )
        ) from None
