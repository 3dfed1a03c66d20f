"""Read customer voice from files: CSV, JSON and JSON Lines, with presets for common exports.

Each row is checked on its own: a bad row is reported with its line number and reason, the good
rows are kept. Files may be UTF-8 (with or without a BOM) or Latin-1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import InvalidInput
from content.voice_pipeline import MAX_TEXT, VoiceRecord

FIELDS = ("id", "text", "title", "rating", "created_at", "customer", "segment", "link")
# Column names people's exports use, per field, in order of preference.
COMMON_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "external_id", "ticket_id", "review_id", "response_id", "uuid", "key"),
    "text": (
        "comment",
        "text",
        "body",
        "review",
        "description",
        "message",
        "feedback",
        "content",
        "verbatim",
        "answer",
    ),
    "title": ("title", "subject", "headline", "summary"),
    "rating": ("score", "rating", "stars", "nps", "nps_score", "csat", "satisfaction"),
    "created_at": (
        "created_at",
        "date",
        "timestamp",
        "submitted_at",
        "received_at",
        "created",
        "time",
        "datetime",
    ),
    "customer": (
        "customer",
        "customer_name",
        "requester",
        "author",
        "user",
        "email",
        "account",
        "company",
    ),
    "segment": ("segment", "plan", "tier", "organization", "country", "region"),
    "link": ("link", "url", "permalink", "ticket_url"),
}


@dataclass(frozen=True)
class Preset:
    description: str
    columns: Mapping[str, tuple[str, ...]]
    scale: tuple[float, float] | None = None


PRESETS: dict[str, Preset] = {
    "tickets": Preset(
        "a helpdesk ticket export (id, created_at, subject, description, requester, "
        "organization, satisfaction)",
        {
            "id": ("id", "ticket_id", "ticket id"),
            "title": ("subject",),
            "text": ("description", "comment", "body"),
            "created_at": ("created_at", "created at", "created"),
            "customer": ("requester", "requester name", "requester_email"),
            "segment": ("organization", "organisation", "group"),
            "rating": ("satisfaction_score", "satisfaction", "csat"),
            "link": ("url", "ticket_url"),
        },
        scale=(1.0, 5.0),
    ),
    "appstore": Preset(
        "app-store reviews (review_id, date, rating 1-5, title, review, author, country)",
        {
            "id": ("review_id", "id"),
            "created_at": ("date", "review_date", "updated"),
            "rating": ("rating", "stars", "score"),
            "title": ("title",),
            "text": ("review", "body", "content", "text"),
            "customer": ("author", "user_name"),
            "segment": ("country", "territory", "app_version", "version"),
        },
        scale=(1.0, 5.0),
    ),
    "nps": Preset(
        "an NPS survey (response_id, submitted_at, score 0-10, comment, segment)",
        {
            "id": ("response_id", "id"),
            "created_at": ("submitted_at", "date", "created_at"),
            "rating": ("score", "nps", "nps_score", "rating"),
            "text": ("comment", "reason", "feedback", "why"),
            "customer": ("email", "customer", "account"),
            "segment": ("segment", "plan", "tier"),
        },
        scale=(0.0, 10.0),
    ),
}
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%b %d, %Y",
    "%d %b %Y",
)


@dataclass
class Problem:
    line: int
    reason: str


@dataclass
class ParsedFile:
    records: list[VoiceRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    encoding: str = "utf-8"
    # Where a problem is: a line (CSV, JSON Lines) or an item of a JSON list.
    unit: str = "line"
    columns: dict[str, str] = field(default_factory=dict)


def _canonical(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def parse_mapping(items: tuple[str, ...]) -> dict[str, str]:
    """``--map text=Verbatim --map id="Ticket ID"`` -> {"text": "Verbatim", ...}."""
    mapping = {}
    for item in items:
        name, sep, column = item.partition("=")
        name = _canonical(name)
        if not sep or not column.strip():
            raise InvalidInput(f"--map needs FIELD=COLUMN, not '{item}'.")
        if name not in FIELDS:
            raise InvalidInput(f"--map: unknown field '{name}'; fields: {', '.join(FIELDS)}.")
        mapping[name] = column.strip()
    return mapping


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read with (UTF-8, with or without BOM, else
    Latin-1 / Windows-1252, which can read any bytes)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def resolve_columns(
    available: list[str], preset: Preset | None, mapping: Mapping[str, str]
) -> dict[str, str]:
    """Which column feeds which field: --map first, then the preset, then common names."""
    by_canonical = {_canonical(name): name for name in available}
    chosen: dict[str, str] = {}
    for name, column in mapping.items():
        actual = by_canonical.get(_canonical(column))
        if actual is None:
            raise InvalidInput(
                f"--map {name}={column}: the file has no column '{column}'. "
                f"Columns: {', '.join(available)}."
            )
        chosen[name] = actual
    for name in FIELDS:
        if name in chosen:
            continue
        candidates = (preset.columns.get(name, ()) if preset else ()) + COMMON_COLUMNS[name]
        for candidate in candidates:
            if (actual := by_canonical.get(_canonical(candidate))) is not None:
                chosen[name] = actual
                break
    if "text" not in chosen and "title" not in chosen:
        raise InvalidInput(
            "No column holds the customer's words (comment, text, body...); "
            f"name it with --map text=COLUMN. Columns: {', '.join(available)}."
        )
    return chosen


def parse_date(value: str) -> datetime:
    text = value.strip()
    if text.replace(".", "", 1).isdigit() and len(text) >= 9:
        return datetime.fromtimestamp(float(text), UTC)  # epoch seconds
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in DATE_FORMATS:
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"'{truncate_value(value)}' is not a date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def truncate_value(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


def make_record(
    values: Mapping[str, Any],
    columns: Mapping[str, str],
    *,
    line: int,
    source: str,
    scale: tuple[float, float] | None,
) -> VoiceRecord:
    """One row as a record, or ValueError saying what is wrong with it."""

    def get(name: str) -> str:
        column = columns.get(name)
        return _text(values.get(column)).strip() if column else ""

    title, body = get("title"), get("text")
    text = f"{title}: {body}" if title and body and not body.startswith(title) else body or title
    if not text:
        raise ValueError("no text (the comment is empty)")
    if len(text) > MAX_TEXT:
        raise ValueError(f"the text has {len(text):,} characters; the limit is {MAX_TEXT:,}")
    rating = None
    if raw := get("rating"):
        try:
            rating = float(raw.replace(",", "."))
        except ValueError:
            raise ValueError(f"the rating '{truncate_value(raw)}' is not a number") from None
        low, high = scale or ((0.0, 10.0) if rating > 5 else (0.0, 5.0))
        if not low <= rating <= high:
            raise ValueError(f"the rating {raw} is outside {low:g}-{high:g}")
    received = parse_date(raw) if (raw := get("created_at")) else None
    external_id = get("id") or _stable_id(text, received)
    if len(external_id) > 255:
        raise ValueError("the id is longer than 255 characters")
    link = get("link") or None
    if link and not link.startswith(("https://", "http://")):
        link = None
    return VoiceRecord(
        line=line,
        source=source,
        external_id=external_id,
        text=text,
        rating=rating,
        rating_scale=scale,
        segment=get("segment") or None,
        customer=get("customer") or None,
        link=link,
        received_at=received,
    )


def _stable_id(text: str, received: datetime | None) -> str:
    """Rows without an id get one from their content, so re-importing still adds nothing."""
    digest = hashlib.sha1(f"{received.isoformat() if received else ''}|{text}".encode())
    return "sha1:" + digest.hexdigest()


def _rows(text: str, kind: str) -> tuple[list[str], Iterator[tuple[int, Any]]]:
    """The file's columns and its rows as (line number, values or an error)."""
    if kind == "csv":
        csv.field_size_limit(16 * 1024 * 1024)  # enormous fields get our own, clearer refusal
        sample = text[:20_000]
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(io.StringIO(text), dialect)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidInput("The file is empty.") from None
        except csv.Error as error:
            raise InvalidInput(f"The header line cannot be read: {error}") from None

        def csv_rows() -> Iterator[tuple[int, Any]]:
            while True:
                line = reader.line_num + 1  # where the record starts (fields may span lines)
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    yield line, ValueError(f"not valid CSV: {error}")
                    continue
                if not any(value.strip() for value in values):
                    continue
                if len(values) != len(header):
                    yield line, ValueError(f"{len(values)} fields, the header has {len(header)}")
                    continue
                yield line, dict(zip(header, values, strict=True))

        return header, csv_rows()
    if kind == "jsonl":
        lines = text.splitlines()
        parsed: list[tuple[int, Any]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                parsed.append((number, ValueError(f"not valid JSON: {error.msg}")))
                continue
            parsed.append(
                (number, item if isinstance(item, dict) else ValueError("not a JSON object"))
            )
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInput(
                f"The file is not valid JSON (line {error.lineno}: {error.msg})."
                " For one object per line, name the file .jsonl."
            ) from None
        if isinstance(document, dict):
            document = next(
                (
                    document[key]
                    for key in ("items", "data", "results", "reviews", "responses", "tickets")
                    if isinstance(document.get(key), list)
                ),
                [document],
            )
        if not isinstance(document, list):
            raise InvalidInput("The JSON file holds neither a list nor an object of items.")
        parsed = [
            (index, item if isinstance(item, dict) else ValueError("not a JSON object"))
            for index, item in enumerate(document, start=1)
        ]
    columns: list[str] = []
    for _, item in parsed:
        if isinstance(item, dict):
            columns.extend(key for key in item if key not in columns)
    return columns, iter(parsed)


def file_kind(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    return "jsonl" if stripped.startswith("{") else "csv"


def parse_file(
    path: Path,
    *,
    source: str,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    on_row: Callable[[int], None] | None = None,
) -> ParsedFile:
    chosen_preset = PRESETS.get(preset) if preset else None
    if preset and chosen_preset is None:
        raise InvalidInput(f"Unknown preset '{preset}'; presets: {', '.join(PRESETS)}.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror}.") from None
    text, encoding = decode(data)
    kind = file_kind(path, text)
    columns, rows = _rows(text, kind)
    resolved = resolve_columns(columns, chosen_preset, mapping or {})
    parsed = ParsedFile(
        encoding=encoding, columns=resolved, unit="item" if kind == "json" else "line"
    )
    scale = chosen_preset.scale if chosen_preset else None
    for line, values in rows:
        parsed.rows += 1
        if on_row:
            on_row(parsed.rows)
        if isinstance(values, Exception):
            parsed.problems.append(Problem(line, str(values)))
            continue
        try:
            parsed.records.append(
                make_record(values, resolved, line=line, source=source, scale=scale)
            )
        except ValueError as error:
            parsed.problems.append(Problem(line, str(error)))
    return parsed
