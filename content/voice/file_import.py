"""Read customer voice from files: CSV, JSON and JSON Lines, with presets for common exports.

Each row is checked on its own: a bad row is reported with its line number and reason, the good
rows are kept. Files are read as a stream, one row at a time, so memory stays flat whatever their
size; a row over 1 MiB is a rejected row. Lines may be UTF-8 (with or without a BOM) or Latin-1;
a UTF-16 or UTF-32 file (Excel's "Unicode Text") is read through a transcoder. What a file holds
(CSV, a JSON list, JSON Lines) is read from its first bytes when they tell, whatever its name
says; a spreadsheet workbook, a PDF or binary data is refused with what to do instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from bot.compose.text import plural
from bot.errors import InvalidInput
from bot.import_files import (
    MAX_RECORD_BYTES,
    CsvRecords,
    LineReader,
    RecordTooLong,
    decode_line,
    file_encoding,
    not_text,
    open_import_file,
    source_position,
)
from bot.text_safety import unstorable
from content.voice.dates import DateOrder, Told, told_order, truncate_value
from content.voice.json_items import JsonBroken, JsonItems
from content.voice.pipeline import MAX_TEXT, VoiceRecord

KEPT_PROBLEMS = 1000  # rejected rows remembered with their reason; the rest are counted
# JSON items read before choosing which key feeds which field (more keys refine the choice).
LOOKAHEAD_ROWS = 1000
LOOKAHEAD_BYTES = 8 * 1024 * 1024
FIELDS = ("id", "text", "title", "rating", "created_at", "customer", "segment", "link")
# Column names people's exports use, per field, in order of preference: English first, then the
# names French, German, Spanish, Portuguese and Japanese tools write. Only names that cannot mean
# another field: a French "note" is a rating but an English "note" is words, and a German
# "Bewertung" or a Portuguese "avaliação" is a review as often as a rating, so none is here.
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
        # fr, de, es, pt, ja
        "commentaire",
        "texte",
        "avis",
        "kommentar",
        "rückmeldung",
        "nachricht",
        "comentario",
        "texto",
        "mensaje",
        "comentário",
        "mensagem",
        "コメント",
        "レビュー",
        "本文",
        "ご意見",
    ),
    "title": (
        "title",
        "subject",
        "headline",
        "summary",
        "titre",
        "sujet",
        "objet",
        "titel",
        "betreff",
        "título",
        "asunto",
        "assunto",
        "件名",
        "タイトル",
    ),
    "rating": (
        "score",
        "rating",
        "stars",
        "nps",
        "nps_score",
        "csat",
        "satisfaction",
        "sterne",
        "étoiles",
        "puntuación",
        "estrellas",
        "estrelas",
        "評価",
    ),
    "created_at": (
        "created_at",
        "date",
        "timestamp",
        "submitted_at",
        "received_at",
        "created",
        "time",
        "datetime",
        "datum",
        "fecha",
        "日付",
        "日時",
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
        "client",
        "kunde",
        "cliente",
        "顧客",
        "お客様",
    ),
    "segment": (
        "segment",
        "plan",
        "tier",
        "organization",
        "country",
        "region",
        "pays",
        "land",
        "país",
    ),
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
_BOM = b"\xef\xbb\xbf"
# A JSON Lines file is told by its first two lines, each read up to this much.
KIND_HEAD_BYTES = MAX_RECORD_BYTES + 64 * 1024


@dataclass
class Problem:
    line: int
    reason: str


@dataclass
class ParsedFile:
    """What was read: the rows, the first KEPT_PROBLEMS problems and how many there were.
    ``records`` is filled only by ``parse_file``; a streamed import never holds them all."""

    records: list[VoiceRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    rejected: int = 0
    encoding: str = "utf-8"
    # Where a problem is: a line (CSV, JSON Lines) or an item of a JSON list.
    unit: str = "line"
    columns: dict[str, str] = field(default_factory=dict)
    # Which order numeric dates were read in, when one could be read both ways ('' otherwise).
    dates: str = ""

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append(Problem(line, reason))


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
    """One date on its own (1/2/2024 read day first); a file's dates go through its DateOrder."""
    return DateOrder().parse(value)


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
    dates: DateOrder | None = None,
) -> VoiceRecord:
    """One row as a record, or ValueError saying what is wrong with it. ``dates``: how the
    file's numeric dates are read (alone, 1/2/2024 is read day first)."""

    def get(name: str) -> str:
        column = columns.get(name)
        value = _text(values.get(column)).strip() if column else ""
        if value and (problem := unstorable(value)):
            raise ValueError(f"the {column} field {problem}")
        return value

    if problem := unstorable(source):
        raise ValueError(f"the source {problem}")

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
    received = (dates or DateOrder()).parse(raw, line) if (raw := get("created_at")) else None
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


Row = tuple[int, "dict[str, Any] | ValueError"]


def file_kind(path: Path, head: bytes) -> str:
    """csv, json or jsonl. From the content when it tells, whatever the name says: a first line
    that is a whole JSON object followed by a line starting with { is JSON Lines; an object
    spread over lines, or a file starting with [ (unless named .csv, .tsv or .txt), is JSON.
    Else from the name, else from the first character."""
    suffix = path.suffix.lower()
    stripped = head.removeprefix(_BOM).lstrip()
    if stripped.startswith(b"{"):
        first, newline, rest = stripped.partition(b"\n")
        whole = isinstance(_json_object(decode_line(first)[0]), dict)
        if newline and whole and rest.lstrip().startswith(b"{"):
            return "jsonl"
        if newline and not whole:  # one object spread over lines: a JSON document
            return "json"
    if stripped.startswith(b"[") and suffix not in (".csv", ".tsv", ".txt"):
        return "json"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    return "jsonl" if stripped.startswith(b"{") else "csv"


def _read_head(stream: BinaryIO) -> bytes:
    """The file's first bytes: 20 KB, or up to the start of its second line when the first is
    longer (a JSON Lines file is told by it), at most KIND_HEAD_BYTES."""
    head = stream.read(20_000)
    while len(head) < KIND_HEAD_BYTES and head.removeprefix(_BOM).lstrip()[:1] == b"{":
        _, newline, rest = head.lstrip().partition(b"\n")
        if newline and rest.strip():
            break
        more = stream.read(64 * 1024)
        if not more:
            break
        head += more
    return head


def _json_object(text: str) -> dict[str, Any] | ValueError:
    try:
        item = json.loads(text)
    except json.JSONDecodeError as error:
        return ValueError(f"not valid JSON: {error.msg}")
    except RecursionError:
        return ValueError("not valid JSON: nested too deeply")
    return item if isinstance(item, dict) else ValueError("not a JSON object")


class VoiceFile:
    """A customer-voice file read as a stream: ``records()`` gives each good row's record and
    notes each bad one in ``summary``; memory holds one row (and one batch), not the file.

    Opening it reads the header (or, for JSON, the first items) to choose which column feeds
    which field, so a file that cannot be imported at all is refused before anything is stored.
    """

    def __init__(
        self,
        path: Path,
        *,
        source: str,
        preset: str | None = None,
        mapping: Mapping[str, str] | None = None,
    ) -> None:
        self._preset_name = preset
        self.preset = PRESETS.get(preset) if preset else None
        if preset and self.preset is None:
            raise InvalidInput(f"Unknown preset '{preset}'; presets: {', '.join(PRESETS)}.")
        self.source = source
        self.path = path
        self._mapping = mapping or {}
        self._stream: BinaryIO = open_import_file(path)
        try:
            self.size = os.fstat(self._stream.fileno()).st_size
            head = _read_head(self._stream)
            self._stream.seek(0)
        except OSError as error:
            self.close()
            raise InvalidInput(f"Cannot read {path}: {error.strerror}.") from None
        if problem := not_text(head):
            self.close()
            raise InvalidInput(problem)
        self.kind = file_kind(path, head)
        self.summary = ParsedFile(unit="item" if self.kind == "json" else "line")
        self.dates = DateOrder(decide=self._first_told_date)
        self._fallback: str | None = None
        self._csv: CsvRecords | None = None
        self._reader: LineReader | JsonItems
        try:
            if self.kind == "csv":
                columns, rows = self._csv_rows()
            else:
                columns, rows = self._lookahead(
                    self._jsonl_rows() if self.kind == "jsonl" else self._json_rows()
                )
            self._known = set(columns)
            self._columns = columns
            self.summary.columns = resolve_columns(columns, self.preset, self._mapping)
        except BaseException:
            self.close()
            raise
        self._rows = rows

    def __enter__(self) -> VoiceFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    @property
    def bytes_read(self) -> int:
        """How far the file was read (of ``size``), for a progress bar."""
        return source_position(self._stream, self._reader.bytes_read)

    @property
    def encoding(self) -> str:
        if transcoded := file_encoding(self._stream):
            return transcoded
        if self._csv is not None:
            return self._csv.encoding
        return self._fallback or "utf-8"

    # ----- rows: (line or item number, the row's values or why it cannot be read) ---------------

    def _csv_rows(self) -> tuple[list[str], Iterator[Row]]:
        # Fields split by the header's delimiter, Excel's quoting ("" inside quotes is one ").
        self._reader = LineReader(self._stream)
        self._csv = records = CsvRecords(self._reader)
        try:
            header = records.header()
        except ValueError as error:
            raise InvalidInput(f"The header line cannot be read: {error}") from None
        if header is None:
            raise InvalidInput("The file is empty.")

        def rows() -> Iterator[Row]:
            for line, values in records:
                if isinstance(values, ValueError):
                    yield line, values
                elif not any(value.strip() for value in values):
                    continue
                elif len(values) != len(header):
                    yield (
                        line,
                        ValueError(f"{plural(len(values), 'field')}, the header has {len(header)}"),
                    )
                else:
                    yield line, dict(zip(header, values, strict=True))

        return header, rows()

    def _decode(self, data: bytes) -> str:
        text, encoding = decode_line(data)
        if encoding != "utf-8" and self._fallback is None:
            self._fallback = encoding
        return text

    def _jsonl_rows(self) -> Iterator[Row]:
        self._reader = lines = LineReader(self._stream)
        for data in lines:
            if data is None:
                yield lines.line, ValueError(str(RecordTooLong(MAX_RECORD_BYTES)))
                continue
            text = self._decode(data)
            if text.strip():
                yield lines.line, _json_object(text)

    def _json_rows(self) -> Iterator[Row]:
        self._reader = items = JsonItems(self._stream)
        number = 0
        try:
            for number, _, raw in items:
                if raw is None:
                    yield number, ValueError(str(RecordTooLong(MAX_RECORD_BYTES)))
                else:
                    yield number, _json_object(self._decode(raw))
        except JsonBroken as error:
            if not number:
                raise InvalidInput(
                    f"The file is not valid JSON ({error}). For one object per line, name the "
                    "file .jsonl."
                ) from None
            broken = f"the JSON breaks here ({error}); nothing after it was read"
            yield number + 1, ValueError(broken)

    def _lookahead(self, rows: Iterator[Row]) -> tuple[list[str], Iterator[Row]]:
        """The keys of the first items (JSON has no header), and every row still to come."""
        first: list[Row] = []
        for row in rows:
            first.append(row)
            if len(first) >= LOOKAHEAD_ROWS or self.bytes_read > LOOKAHEAD_BYTES:
                break
        if not first:
            raise InvalidInput("The file holds no items: nothing to import.")
        columns: dict[str, None] = {}
        for _, values in first:
            if isinstance(values, dict):
                columns.update(dict.fromkeys(values))
        return list(columns), chain(first, rows)

    def _first_told_date(self) -> Told | None:
        """The first date in the file that can be read one way only (13/01/2024, 12/31/2024),
        its order and line: read again from the start, for the date column only."""
        with VoiceFile(
            self.path, source=self.source, preset=self._preset_name, mapping=self._mapping
        ) as again:
            for line, values in again._rows:
                if isinstance(values, ValueError):
                    continue
                again._refine_columns(values)
                column = again.summary.columns.get("created_at")
                raw = _text(values.get(column)).strip() if column else ""
                if raw and (order := told_order(raw)):
                    return order, raw, line
        return None

    def _refine_columns(self, values: dict[str, Any]) -> None:
        """An item with keys not seen before: choose the columns again, with them."""
        if self.kind != "csv" and not self._known.issuperset(values):
            self._known.update(values)
            self._columns += [key for key in values if key not in self._columns]
            self.summary.columns = resolve_columns(self._columns, self.preset, self._mapping)

    # ----- records -------------------------------------------------------------------------------

    def records(self) -> Iterator[VoiceRecord]:
        """Each good row as a record; bad rows are counted and the first ones kept in
        ``summary`` with their line and reason."""
        summary, scale = self.summary, self.preset.scale if self.preset else None
        for line, values in self._rows:
            summary.rows += 1
            if isinstance(values, ValueError):
                summary.reject(line, str(values))
                continue
            self._refine_columns(values)
            try:
                yield make_record(
                    values,
                    summary.columns,
                    line=line,
                    source=self.source,
                    scale=scale,
                    dates=self.dates,
                )
            except ValueError as error:
                summary.reject(line, str(error))
        summary.encoding = self.encoding
        summary.dates = self.dates.described()

    def batches(self, size: int) -> Iterator[list[VoiceRecord]]:
        batch: list[VoiceRecord] = []
        for record in self.records():
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def parse_file(
    path: Path,
    *,
    source: str,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    on_row: Callable[[int], None] | None = None,
) -> ParsedFile:
    """Every record of a file in memory: for small files and tests; imports use VoiceFile."""
    with VoiceFile(path, source=source, preset=preset, mapping=mapping) as voice_file:
        parsed = voice_file.summary
        for record in voice_file.records():
            parsed.records.append(record)
            if on_row:
                on_row(parsed.rows)
        return parsed
