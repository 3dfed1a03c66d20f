"""Small things adapters share with the core: errors a person reads, words, the clock, the
configuration helpers, the project's version and the public pages an app listing links to (and
the console's, which a personal tab opens)."""

from bot import __version__
from bot.chat.parsing import split_command
from bot.compose.text import plural
from bot.config import Settings, env_number
from bot.console.headers import CONSOLE as CONSOLE_PATH
from bot.errors import DomainError, InvalidInput, NotFound
from bot.policy_pages import PRIVACY_PATH, TERMS_PATH
from bot.storage.types import utcnow
from bot.text_safety import in_written_order

VERSION = __version__

__all__ = [
    "CONSOLE_PATH",
    "PRIVACY_PATH",
    "TERMS_PATH",
    "VERSION",
    "DomainError",
    "InvalidInput",
    "NotFound",
    "Settings",
    "env_number",
    "in_written_order",
    "plural",
    "split_command",
    "utcnow",
]
