"""One settings object, read from the environment (and an optional ``.env`` file).

Every variable is documented in the README's configuration table with its default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///advocacy.db"
DEFAULT_PORT = 3978
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Settings:
    """What the composition root needs. Adapters read their own keys from ``env``."""

    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL only: keep the bot's tables in this schema (it must exist).
    database_schema: str | None = None
    data_dir: Path = Path(".advocacy")
    secret_key: str | None = None
    # Where ``advocacy serve`` listens unless --host and --port say otherwise (ADVOCACY_HOST,
    # PORT): read here, like every setting, so that a .env file sets them too.
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Where people reach this server from outside (tracked links, OAuth redirects).
    public_url: str = f"http://localhost:{DEFAULT_PORT}"
    # Channels where new suggestions are posted for colleagues to vote on: "slack:C0123,...".
    suggestion_channels: tuple[ChannelRef, ...] = ()
    log_level: str = "INFO"
    # The language for channels and for people whose platform says none (ADVOCACY_LOCALE).
    locale: str = "en"
    delivery_max_attempts: int = 5
    # How long a delivery in flight stays claimed without its worker renewing it (a worker that
    # died is taken over after this).
    delivery_lease_seconds: float = 30.0
    # A console session ends after this long without a request.
    console_idle_minutes: float = 60.0
    # An idea unanswered this long is flagged to its team's manager, then one level up per period;
    # a decision review too (asked and unanswered this long: overdue).
    suggestion_answer_days: float = 7.0
    # A firing missed while no scheduler ran is still sent if it is at most this old.
    schedule_grace_minutes: float = 60.0
    # Slow and idle clients (bot/connection_guard.py, bot/http_limits.py): a request's headers
    # must arrive within this many seconds of their first byte, and its body within this many
    # seconds of its headers; an idle connection is closed after HTTP_IDLE_TIMEOUT (keep it
    # above the idle time-out of a load balancer in front).
    http_header_timeout: float = 10.0
    http_body_timeout: float = 30.0
    http_idle_timeout: float = 75.0
    # Request bodies being read or handled at once, all requests together (MiB).
    http_body_budget_mb: float = 16.0
    # Connections at once; lowered at start to fit the process's limit on open files.
    http_max_connections: int = 10_000
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def answer_after(self) -> timedelta:
        """How long an idea or a decision review may wait for an answer before it is flagged."""
        return timedelta(days=self.suggestion_answer_days)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None
    ) -> Settings:
        """Read settings; real environment variables win over the ``.env`` file."""
        merged: dict[str, str] = {}
        dotenv_path = dotenv if dotenv is not None else Path(".env")
        if dotenv_path.is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        port = _port(merged)
        return cls(
            database_url=merged.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            database_schema=merged.get("DATABASE_SCHEMA") or None,
            data_dir=Path(merged.get("ADVOCACY_DATA_DIR") or ".advocacy"),
            secret_key=merged.get("ADVOCACY_SECRET_KEY") or None,
            host=(merged.get("ADVOCACY_HOST") or "").strip() or DEFAULT_HOST,
            port=port,
            public_url=(merged.get("PUBLIC_URL") or f"http://localhost:{port}").rstrip("/"),
            suggestion_channels=parse_channel_list(merged.get("SUGGESTIONS_CHANNELS") or ""),
            log_level=(merged.get("LOG_LEVEL") or "INFO").upper(),
            locale=_locale(merged),
            delivery_max_attempts=_positive_int(merged, "DELIVERY_MAX_ATTEMPTS", 5),
            delivery_lease_seconds=env_number(
                merged, "DELIVERY_LEASE_SECONDS", 30.0, low=1, high=3600
            ),
            console_idle_minutes=env_number(
                merged, "CONSOLE_IDLE_MINUTES", 60.0, low=1, high=7 * 24 * 60
            ),
            suggestion_answer_days=env_number(
                merged, "SUGGESTION_ANSWER_DAYS", 7.0, low=0.01, high=365
            ),
            schedule_grace_minutes=env_number(
                merged, "SCHEDULE_GRACE_MINUTES", 60.0, low=0, high=7 * 24 * 60
            ),
            http_header_timeout=env_number(merged, "HTTP_HEADER_TIMEOUT", 10.0, low=1, high=300),
            http_body_timeout=env_number(merged, "HTTP_BODY_TIMEOUT", 30.0, low=1, high=3600),
            http_idle_timeout=env_number(merged, "HTTP_IDLE_TIMEOUT", 75.0, low=1, high=86400),
            http_body_budget_mb=env_number(
                merged, "HTTP_BODY_BUDGET_MB", 16.0, low=1, high=64 * 1024
            ),
            http_max_connections=_positive_int(merged, "HTTP_MAX_CONNECTIONS", 10_000),
            env=merged,
        )


@dataclass(frozen=True)
class ChannelRef:
    """A shared conversation on one platform: ``slack:C0123`` or ``slack:T0001/C0123``."""

    platform: str
    channel_id: str
    workspace: str = ""

    @classmethod
    def parse(cls, text: str) -> ChannelRef:
        platform, _, rest = text.strip().partition(":")
        if not platform or not rest:
            raise ValueError(
                f"'{text}' is not a channel; write PLATFORM:CHANNEL_ID, e.g. slack:C0123."
            )
        workspace, _, channel = rest.rpartition("/") if "/" in rest else ("", "", rest)
        return cls(platform.lower(), channel, workspace)

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace + '/' if self.workspace else ''}{self.channel_id}"


def parse_channel_list(text: str) -> tuple[ChannelRef, ...]:
    return tuple(ChannelRef.parse(item) for item in text.split(",") if item.strip())


def _locale(values: Mapping[str, str]) -> str:
    """ADVOCACY_LOCALE, one of the shipped languages, or a ValueError listing them."""
    from bot.i18n import SUPPORTED, normalize_locale

    raw = (values.get("ADVOCACY_LOCALE") or "").strip()
    if not raw:
        return "en"
    locale = normalize_locale(raw)
    if locale is None:
        raise ValueError(
            f"ADVOCACY_LOCALE={raw} is not a language the bot speaks; use one of "
            f"{', '.join(SUPPORTED)} (e.g. ADVOCACY_LOCALE=de)."
        )
    return locale


def _port(values: Mapping[str, str]) -> int:
    """PORT, a TCP port (0: any free one), or a ValueError naming it."""
    raw = (values.get("PORT") or "").strip()
    if not raw:
        return DEFAULT_PORT
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 65535:
        raise ValueError(f"PORT must be a TCP port, a whole number from 0 to 65535, not '{raw}'.")
    return int(raw)


def _positive_int(values: Mapping[str, str], key: str, default: int) -> int:
    raw = values.get(key)
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"{key} must be a whole number, not '{raw}'.") from None
    if number < 1:
        raise ValueError(f"{key} must be at least 1, not {number}.")
    return number


def env_number(
    values: Mapping[str, str], key: str, default: float, *, low: float, high: float | None = None
) -> float:
    """A number setting, or a ValueError naming the variable and the range it must be in."""
    raw = (values.get(key) or "").strip()
    if not raw:
        return default
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number, not '{raw}'.") from None
    if number < low or (high is not None and number > high):
        allowed = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{key} must be {allowed}, not {raw}.")
    return number
