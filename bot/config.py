"""One settings object, read from the environment (and an optional ``.env`` file).

Every variable is documented in the README's configuration table with its default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///advocacy.db"
DEFAULT_PORT = 3978


@dataclass(frozen=True)
class Settings:
    """What the composition root needs. Adapters read their own keys from ``env``."""

    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL only: keep the bot's tables in this schema (it must exist).
    database_schema: str | None = None
    data_dir: Path = Path(".advocacy")
    secret_key: str | None = None
    log_level: str = "INFO"
    delivery_max_attempts: int = 5
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

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
        return cls(
            database_url=merged.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            database_schema=merged.get("DATABASE_SCHEMA") or None,
            data_dir=Path(merged.get("ADVOCACY_DATA_DIR") or ".advocacy"),
            secret_key=merged.get("ADVOCACY_SECRET_KEY") or None,
            log_level=(merged.get("LOG_LEVEL") or "INFO").upper(),
            delivery_max_attempts=_positive_int(merged, "DELIVERY_MAX_ATTEMPTS", 5),
            env=merged,
        )


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
