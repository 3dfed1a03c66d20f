"""Domain errors: each carries one line a person can act on.

Adapters show the message as an ephemeral reply, a card or stderr; stack traces go to the log.
An error may also name the input it is about (``field``), so that a form can show it next to
that field and keep what was typed; wrap the checks of one input in ``concerning(name)``.
"""

from collections.abc import Iterator
from contextlib import contextmanager


class DomainError(Exception):
    """An error whose message is safe and useful to show to the person who caused it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The person gave a value the bot cannot use (empty text, bad cron, unknown zone...)."""


class NotFound(DomainError):
    """Something the person named does not exist (member, objective, digest...)."""


class PermissionDenied(DomainError):
    """The acting member's role does not allow the operation."""


class Conflict(DomainError):
    """The operation would duplicate something that already exists."""


@contextmanager
def concerning(field: str) -> Iterator[None]:
    """A domain error raised inside is about the input named ``field`` (unless a check nearer
    the value already said which one): a form shows it beside that input."""
    try:
        yield
    except DomainError as error:
        if error.field is None:
            error.field = field
        raise
