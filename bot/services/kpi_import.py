"""KPI readings in bulk: a CSV file (objective, date, value) or a webhook's list of readings.

Every row is checked on its own, so a bad one is a problem with its line (or item) number and
the rows around it are kept. A row's day already holding the same value is "unchanged": the same
file imported twice changes nothing. The file is read as a stream (bot/import_files.py: BOMs,
UTF-16, Windows-1252, binary refused, over-long lines) and stored BATCH_ROWS rows at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.text import plural
from bot.domain import KpiSource
from bot.errors import DomainError, InvalidInput
from bot.i18n import N_, _
from bot.import_files import CsvRecords, LineReader, file_encoding
from bot.services.kpi_readings import RECORDERS, check_day, check_value, day_start
from bot.services.kpi_targets import check_percent, parse_number
from bot.services.objectives import closest_key, list_objectives
from bot.services.permissions import Acting, actor_id, require_role
from bot.storage.database import Database
from bot.storage.models import KpiReading, Objective
from bot.storage.types import utcnow
from bot.text_safety import unstorable

BATCH_ROWS = 500
# Problems kept for the report; the count covers them all.
MAX_PROBLEMS = 1000
COLUMN_ALIASES = {
    "objective": "objective",
    "key": "objective",
    "objective_key": "objective",
    "kpi": "objective",
    "date": "date",
    "day": "date",
    "measured_on": "date",
    "value": "value",
    "reading": "value",
}
COLUMNS = ("objective", "date", "value")
EXPECTED = "expected a header line: objective,date,value"


@dataclass(frozen=True)
class Reading:
    """A reading that passed its checks, waiting to be stored."""

    line: int
    objective: Objective
    day: date
    value: float


@dataclass(frozen=True)
class Problem:
    line: int  # the file's line, or the webhook item's number
    message: str


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Problem] = field(default_factory=list)
    rejected_count: int = 0
    encoding: str = "utf-8"

    @property
    def kept(self) -> int:
        return self.added + self.updated + self.unchanged

    def reject(self, problem: Problem) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_PROBLEMS:
            self.rejected.append(problem)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected_count} rejected."
        )


_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")  # 06.12.2026: day first, always
_SLASHED_YEAR_FIRST = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")  # 2026/12/06


def parse_day(value: Any) -> date:
    """A reading's day: YYYY-MM-DD (a full ISO time is read as its day), YYYY/MM/DD, or
    DD.MM.YYYY as German and Nordic spreadsheets write it (dotted dates are never month first).
    Not 01/02/2026: is that January or February?"""
    text = str(value).strip() if value is not None else ""
    try:
        if found := _DOTTED.fullmatch(text):
            return date(int(found[3]), int(found[2]), int(found[1]))
        if found := _SLASHED_YEAR_FIRST.fullmatch(text):
            return date(int(found[1]), int(found[2]), int(found[3]))
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    except ValueError:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) or _DOTTED.fullmatch(text):
            raise InvalidInput(
                _("the date '{text}' is not a day of the calendar").format(text=text)
            ) from None
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2,4}", text):
            raise InvalidInput(
                _(
                    "the date '{text}' reads as day/month or month/day; write it YYYY-MM-DD "
                    "(or DD.MM.YYYY)"
                ).format(text=text)
            ) from None
        raise InvalidInput(
            _("the date '{text}' is not a date written YYYY-MM-DD").format(text=text)
        ) from None


def parse_value(value: Any, unit: str | None = None) -> float:
    """A reading's value for a KPI measured in ``unit``: a number, or text that is one."""
    if isinstance(value, bool) or value is None:
        raise InvalidInput(_("the value {value} is not a number").format(value=repr(value)))
    if isinstance(value, int | float):
        return check_value(value)
    number = parse_number(str(value))
    check_percent(str(value), unit)
    return check_value(number)


def check_reading(
    number: int, fields: Mapping[str, Any], objectives: Mapping[str, Objective]
) -> Reading:
    """One row (or webhook item) as a Reading, or InvalidInput saying what is wrong with it."""
    for name in COLUMNS:
        if isinstance(fields.get(name), str) and (problem := unstorable(fields[name])):
            raise InvalidInput(f"the {name} {problem}")
    key = str(fields.get("objective") or "").strip().lower()
    if not key:
        raise InvalidInput("no objective")
    objective = objectives.get(key)
    if objective is None:
        close = closest_key(key[:64], objectives)
        raise InvalidInput(
            f"unknown objective '{key[:64]}' ({f'did you mean {close}? ' if close else ''}known: "
            f"{', '.join(sorted(objectives)) or 'none'})"
        )
    if fields.get("date") in (None, ""):
        raise InvalidInput("no date")
    day = parse_day(fields["date"])
    check_day(day)  # not in the future, not before 2000
    if fields.get("value") in (None, ""):
        raise InvalidInput("no value")
    return Reading(number, objective, day, parse_value(fields["value"], objective.kpi_unit))


class KpiCsv:
    """The rows of a readings CSV, read as a stream: each a Reading or a Problem. The header is
    required (column names in any case); it is read and checked on opening."""

    def __init__(
        self,
        stream: BinaryIO,
        objectives: Iterable[Objective],
        *,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        self.objectives = {o.key: o for o in objectives}
        self.lines = LineReader(stream, on_read=on_read)
        self._records = CsvRecords(self.lines)
        try:
            header = self._records.header()
        except ValueError as error:
            raise InvalidInput(f"The header line cannot be read: {error}") from None
        if header is None:
            raise InvalidInput(f"The file is empty; {EXPECTED}.")
        self.columns = [
            COLUMN_ALIASES.get(name.strip().lower().replace(" ", "_"), "") for name in header
        ]
        missing = [name for name in COLUMNS if name not in self.columns]
        if missing:
            raise InvalidInput(
                f"The header lacks {', '.join(missing)}; {EXPECTED} (a first line naming the "
                "columns, in any order)."
            )
        repeated = sorted({c for c in self.columns if c and self.columns.count(c) > 1})
        if repeated:
            raise InvalidInput(
                f"The header has more than one column read as {', '.join(repeated)}; {EXPECTED}."
            )

    @property
    def encoding(self) -> str:
        return file_encoding(self.lines.stream) or self._records.encoding

    def __iter__(self) -> Iterator[Reading | Problem]:
        seen: dict[tuple[str, date], int] = {}
        for line, values in self._records:
            if isinstance(values, ValueError):
                yield Problem(line, str(values))
                continue
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(self.columns):
                yield Problem(
                    line, f"{plural(len(values), 'field')}, the header has {len(self.columns)}"
                )
                continue
            fields = {name: values[i] for i, name in enumerate(self.columns[: len(values)])}
            try:
                reading = check_reading(line, fields, self.objectives)
            except DomainError as error:
                yield Problem(line, error.message)
                continue
            first = seen.setdefault((reading.objective.key, reading.day), line)
            if first != line:
                yield Problem(
                    line,
                    f"{reading.objective.key} on {reading.day.isoformat()} is already on line "
                    f"{first}; a day has one reading",
                )
                continue
            yield reading


async def store_readings(
    session: AsyncSession,
    actor: Acting,
    readings: Iterable[Reading],
    report: ImportReport,
    source: KpiSource,
) -> None:
    """Store checked readings (one a day per objective) as ``record_reading`` would, a batch at
    a time: one query finds the days already read and one flush writes them, rather than two
    round trips a row (a 5,000-row file took 20 s)."""
    require_role(actor, RECORDERS, N_("record KPI readings"))
    batch = list(readings)
    if not batch:
        return
    days = {day_start(r.day) for r in batch}
    existing = {
        (found.objective_id, found.measured_on.date()): found
        for found in await session.scalars(
            select(KpiReading).where(
                KpiReading.objective_id.in_({r.objective.id for r in batch}),
                KpiReading.measured_on.in_(days),
            )
        )
    }
    recorder = actor_id(actor)
    for reading in batch:
        found = existing.get((reading.objective.id, reading.day))
        if found is None:
            session.add(
                KpiReading(
                    objective_id=reading.objective.id,
                    measured_on=day_start(reading.day),
                    value=reading.value,
                    source=source,
                    recorded_by_id=recorder,
                )
            )
            report.count("added")
        elif found.value == reading.value:
            report.count("unchanged")
        else:
            found.value, found.source, found.recorded_by_id = reading.value, source, recorder
            found.updated_at = utcnow()
            report.count("updated")
    await session.flush()


async def import_kpi_file(
    db: Database,
    actor: Acting,
    stream: BinaryIO,
    *,
    on_read: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a readings CSV as a stream, BATCH_ROWS rows a transaction: bad rows reported with
    their line number, good rows kept. A bad header is refused before anything is stored.
    ``on_read`` is told how far into the file the rows are stored (not how far it was read
    ahead: a small file is read whole at once)."""
    require_role(actor, RECORDERS, N_("import KPI readings"))
    async with db.transaction() as session:
        objectives = await list_objectives(session)
    rows = KpiCsv(stream, objectives)
    report = ImportReport()
    batch: list[Reading] = []

    async def store() -> None:
        async with db.transaction() as session:
            await store_readings(session, actor, batch, report, KpiSource.IMPORT)
        batch.clear()
        if on_read:
            on_read(rows.lines.file_position(rows.lines.offset))

    for item in rows:
        if isinstance(item, Problem):
            report.reject(item)
            continue
        batch.append(item)
        if len(batch) >= BATCH_ROWS:
            await store()
    await store()
    report.encoding = rows.encoding
    return report
