"""The product's vocabulary as enumerations, shared by storage, services and adapters."""

from enum import StrEnum
from typing import TypeVar

from bot.errors import InvalidInput


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


class SubjectType(StrEnum):
    """What a piece of feedback is about."""

    CONTENT = "content"
    DIGEST_RUN = "digest_run"
    SUGGESTION = "suggestion"
    VOICE = "voice"


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: str, what: str) -> E:
    """Turn user text into an enum member, or raise a one-line error listing the choices."""
    normalised = value.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return enum(normalised)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidInput(f"Unknown {what} '{value}'. Use one of: {choices}.") from None
