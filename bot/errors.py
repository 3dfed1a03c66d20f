"""Domain errors: each carries one line a person can act on.

Adapters show the message as an ephemeral reply, a card or stderr; stack traces go to the log.
"""


class DomainError(Exception):
    """An error whose message is safe and useful to show to the person who caused it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The person gave a value the bot cannot use (empty text, bad cron, unknown zone...)."""


class NotFound(DomainError):
    """Something the person named does not exist (member, objective, digest...)."""


class PermissionDenied(DomainError):
    """The acting member's role does not allow the operation."""


class Conflict(DomainError):
    """The operation would duplicate something that already exists."""
