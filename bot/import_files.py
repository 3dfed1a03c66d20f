"""Read import files in bounded memory: physical lines of at most 1 MiB, decoded one at a time,
and CSV records with the line each starts on. Whatever the file's size, only one read chunk and
one record are held; an over-long line is read past in chunks and reported, never kept.

A quote that is never closed (a stray " in a hand-edited or cut-off export) would make a CSV
reader take the rest of the file for one field. Here a record that spans lines is kept only when
its quoted field closes where a field ends and leaves the header's number of fields; otherwise its
first line is rejected and reading starts again at the line after it. Excel's multi-line cells
(a comment with line breaks) pass that rule; a stray quote does not.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from bot.compose.text import plural
from bot.errors import InvalidInput

MAX_RECORD_BYTES = 1024 * 1024
CHUNK_BYTES = 256 * 1024
_BOM = b"\xef\xbb\xbf"
DELIMITERS = ",;\t|"
NEVER_CLOSED = (
    "an opening quote is never closed; the row is skipped and reading goes on at the next line"
)
# What files that are not text start with, and what to do about them.
_SAVE_AS_CSV = "save it as CSV (File > Save As > CSV UTF-8) and import that."
_NOT_TEXT = (
    (b"PK\x03\x04", "This is an Excel workbook (.xlsx), not a CSV file: " + _SAVE_AS_CSV),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "This is an Excel workbook (.xls), not a CSV file: " + _SAVE_AS_CSV,
    ),
    (b"\xff\xfe", "This file is UTF-16 text (Excel's 'Unicode Text'): " + _SAVE_AS_CSV),
    (b"\xfe\xff", "This file is UTF-16 text: " + _SAVE_AS_CSV),
)


class RecordTooLong(Exception):
    """One line or record is over the limit; the rest of the file is still read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the row is over {describe_size(limit)}, the limit for one row")


class QuoteNeverClosed(Exception):
    """A record's quote does not close where a field ends: its first line is rejected."""


def describe_size(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:g} MiB"
    return f"{size / 1024:g} KiB" if size >= 1024 else f"{size:,} bytes"


def not_text(head: bytes) -> str | None:
    """Why a file that starts with ``head`` cannot be read as text, or None when it can: a
    spreadsheet workbook read as CSV is otherwise a screen of garbage columns."""
    for signature, problem in _NOT_TEXT:
        if head.startswith(signature):
            return problem
    return None


def open_import_file(path: Path) -> BinaryIO:
    """The file opened for reading, or a one-line error (a missing or unreadable file)."""
    try:
        return path.open("rb")
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None


def decode_line(data: bytes) -> tuple[str, str]:
    """A line's text and the encoding that read it: UTF-8, else Windows-1252, else Latin-1
    (which reads any bytes). Line by line, so one odd row does not decide the whole file."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def detect_delimiter(header: str) -> str:
    """The delimiter a header line uses: whichever of , ; tab | it holds most of outside
    quotes (a comma when it holds none). Only the header: sniffing rows guesses wrong on text."""
    outside = re.sub(r'"[^"]*"', "", header)
    best = max(DELIMITERS, key=outside.count)  # the first of equals: a comma wins ties
    return best if outside.count(best) else ","


class LineReader:
    """The physical lines of a binary stream, each with its terminator; a line over ``limit``
    bytes is read past chunk by chunk and given as None, so it costs no memory.

    ``line`` is the number of the last line given, ``offset`` where the next one starts,
    ``bytes_read`` how far the stream was read (for a progress bar). Lines end with \\n, or
    with \\r alone in old Mac exports. ``restart`` reads again from an earlier line."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        limit: int = MAX_RECORD_BYTES,
        chunk: int = CHUNK_BYTES,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        self.stream = stream
        self.limit = limit
        self.chunk = chunk
        self.on_read = on_read
        self.line = 0
        try:
            self.seekable = stream.seekable()
            start = stream.tell() if self.seekable else 0
        except (AttributeError, OSError):
            self.seekable, start = False, 0
        self.offset = self._position = start
        self.bytes_read = start
        # How many double quotes the last line given as None held: CSV reads past a record
        # cut short by finding where its quoted field closes.
        self.skipped_quotes = 0
        self._separator: bytes | None = None

    def _read(self) -> bytes:
        data = self.stream.read(self.chunk)
        self._position += len(data)
        if self._position > self.bytes_read:  # never backwards, even when read again
            self.bytes_read = self._position
            if self.on_read:
                self.on_read(self.bytes_read)
        return data

    def _start(self) -> tuple[bytes, bytes]:
        """The first bytes (without a BOM) and the line separator: \\r only when a file's
        first 64 KiB hold a \\r and no \\n. A spreadsheet workbook is refused here."""
        data = b""
        while b"\n" not in data and len(data) <= self.limit:
            more = self._read()
            if not more:
                break
            data += more
            if b"\r" in data and len(data) >= 65_536:
                break
        if problem := not_text(data):
            raise InvalidInput(problem)
        if data.startswith(_BOM):
            data = data[len(_BOM) :]
            self.offset += len(_BOM)
        return data, b"\r" if b"\n" not in data and b"\r" in data else b"\n"

    def restart(self, offset: int, line: int) -> None:
        """Read again from ``offset``, where line ``line + 1`` starts (a seekable stream only);
        iterate anew afterwards."""
        self.stream.seek(offset)
        self.offset = self._position = offset
        self.line = line

    def __iter__(self) -> Iterator[bytes | None]:
        if self._separator is None:
            data, self._separator = self._start()
        else:
            data = self._read()
        separator = self._separator
        pending, skipping, skipped = b"", False, 0
        while data:
            if skipping:
                cut = data.find(separator)
                self.skipped_quotes += data.count(b'"', 0, None if cut < 0 else cut)
                if cut < 0:
                    skipped += len(data)
                    data = self._read()
                    continue
                skipping, data = False, data[cut + 1 :]
                self.line += 1
                self.offset += skipped + cut + 1
                yield None
            pieces = (pending + data).split(separator)
            pending = pieces.pop()
            for piece in pieces:
                self.line += 1
                self.offset += len(piece) + 1
                if len(piece) > self.limit:
                    self.skipped_quotes = piece.count(b'"')
                    yield None
                else:
                    yield piece + separator
            if len(pending) > self.limit:
                self.skipped_quotes = pending.count(b'"')
                pending, skipping, skipped = b"", True, len(pending)
            data = self._read()
        if skipping or pending:
            self.line += 1
            self.offset += skipped if skipping else len(pending)
            if not skipping and len(pending) > self.limit:
                self.skipped_quotes = pending.count(b'"')
            yield None if skipping or len(pending) > self.limit else pending


# Where a CSV record stands, read byte by byte as the csv module reads it.
_START, _FIELD, _QUOTED, _AFTER_QUOTE = range(4)


class _Shape:
    """How a record's bytes parse: whether its quoted fields close where a field ends (a quote
    followed by the delimiter, the line's end, or another quote doubling it), and how many
    fields it has (None once an over-long line was read past unseen)."""

    def __init__(self, delimiter: str, quote: str) -> None:
        self.delimiter, self.quote = ord(delimiter), ord(quote)
        self._field_end = re.compile(b"[" + re.escape(delimiter.encode()) + b"\r\n]")
        self.state = _START
        self.fields: int | None = 1
        self.broken = False

    @property
    def closed(self) -> bool:
        """At the end of the input: every quote closed where a field ends."""
        return not self.broken and self.state != _QUOTED

    def line(self, data: bytes) -> bool:
        """Read one line; True when the record ends with it (or breaks in it)."""
        position, size = 0, len(data)
        while position < size:
            state = self.state
            if state == _QUOTED:
                position = data.find(self.quote, position) + 1
                if not position:
                    return False
                self.state = _AFTER_QUOTE
                continue
            if state == _FIELD:
                found = self._field_end.search(data, position)
                if found is None:
                    return False
                position = found.start()
            byte = data[position]
            position += 1
            if byte == self.delimiter:
                self.fields = None if self.fields is None else self.fields + 1
                self.state = _START
            elif byte in (10, 13):
                return True
            elif state == _AFTER_QUOTE:
                if byte != self.quote:  # text after a closing quote: it closed nothing
                    self.broken = True
                    return True
                self.state = _QUOTED
            elif state == _START:
                self.state = _QUOTED if byte == self.quote else _FIELD
        return False

    def skipped(self, quotes: int) -> bool:
        """An over-long line read past: only its number of quotes is known. True when the
        record ends with it."""
        self.fields = None
        inside = (self.state == _QUOTED) != bool(quotes % 2)
        self.state = _QUOTED if inside else _START
        return not inside


Raw = tuple[int, "bytes | None", int]  # a line's number, its bytes, where the next line starts


class _TextLines:
    """Decoded lines for the csv module, one record at a time. An iterator class, not a
    generator: it raises RecordTooLong or QuoteNeverClosed for one record and goes on with the
    next line afterwards. It holds the current record's lines (at most the limit), to read
    them again when the record is rejected."""

    def __init__(self, lines: LineReader) -> None:
        self._reader = lines
        self._lines = iter(lines)
        self.limit = lines.limit
        self.fallback: str | None = None
        self.replay: deque[Raw] = deque()  # lines to give again before reading on
        self.record: list[Raw] = []
        self.record_bytes = 0
        self.width: int | None = None  # the header's number of fields, once read
        self.shape = lambda: _Shape(",", '"')

    def __iter__(self) -> _TextLines:
        return self

    @property
    def next_line(self) -> int:
        return self.replay[0][0] if self.replay else self._reader.line + 1

    def peek(self) -> str:
        """The first line's text (given again afterwards), '' for an empty file."""
        try:
            raw = self._raw()
        except StopIteration:
            return ""
        self.replay.appendleft(raw)
        return "" if raw[1] is None else decode_line(raw[1])[0]

    def begin(self) -> None:
        self.record, self.record_bytes = [], 0

    def _raw(self) -> Raw:
        if self.replay:
            return self.replay.popleft()
        data = next(self._lines)
        return self._reader.line, data, self._reader.offset

    def __next__(self) -> str:
        raw = self._raw()
        if raw[1] is None:
            raise self._over_limit(raw, self._reader.skipped_quotes)
        self.record.append(raw)
        self.record_bytes += len(raw[1])
        if self.record_bytes > self.limit + 2:  # quoted fields spanning many lines
            raise self._over_limit(None, None)
        text, encoding = decode_line(raw[1])
        if encoding != "utf-8" and self.fallback is None:
            self.fallback = encoding
        return text

    def spans_badly(self, values: list[str]) -> str | None:
        """Why a record read over several lines is not one (a quote never closed, or closed
        leaving the wrong number of fields), or None; its other lines are then read again."""
        if len(self.record) < 2:
            return None
        shape = self.shape()
        for index, (_, data, _) in enumerate(self.record):
            if shape.line(data or b"") and index < len(self.record) - 1:
                shape.broken = True  # the record ended before the csv module's did
            if shape.broken:
                break
        if shape.closed and (self.width is None or len(values) == self.width):
            return None
        self._read_again(self.record[0])
        if not shape.closed:
            return NEVER_CLOSED
        return (
            f"a quote opened on this line closes on line {self.record[-1][0]}, leaving "
            f"{plural(len(values), 'field')} where the header has {self.width}; the row is "
            "skipped and reading goes on at the next line"
        )

    def _over_limit(self, skipped_line: Raw | None, quotes: int | None) -> Exception:
        """The record is over the limit. A quoted field that closes where a field ends, leaving
        the header's number of fields, is a long record: read past to its end. Otherwise the
        quote was never closed: read again from the line after the record's first."""
        first = self.record[0] if self.record else skipped_line
        assert first is not None
        shape, ended = self.shape(), False
        for _, data, _ in self.record:
            if ended := shape.line(data or b""):
                break
        if skipped_line is not None and not ended:
            ended = shape.skipped(quotes or 0)
        self.begin()
        while not ended:
            try:
                _, data, _ = self._raw()
            except StopIteration:
                break
            ended = shape.skipped(self._reader.skipped_quotes) if data is None else shape.line(data)
        width_ok = shape.fields is None or self.width is None or shape.fields == self.width
        if shape.closed and width_ok:
            return RecordTooLong(self.limit)
        if not self._read_again(first):
            return QuoteNeverClosed(
                "an opening quote is never closed; the lines after it were read past up to "
                f"line {self._reader.line}"
            )
        return QuoteNeverClosed(NEVER_CLOSED)

    def _read_again(self, first: Raw) -> bool:
        """Go on at the line after ``first``: from the lines held, or from the stream."""
        held = self.record[1:] if self.record and self.record[0] is first else []
        if held:
            self.replay.extendleft(reversed(held))
            return True
        if not self._reader.seekable:
            return False
        self.replay.clear()
        self._reader.restart(first[2], first[0])
        self._lines = iter(self._reader)
        return True


class CsvRecords:
    """The records of a CSV file with the line each starts on; a record that cannot be read
    (over the limit, or a quote never closed) is given as a ValueError for that record alone.

    Without a dialect, the fields are split by the delimiter the header line uses (, ; tab or
    |), quoted with double quotes, a doubled quote standing for one, as Excel writes them."""

    def __init__(self, lines: LineReader, dialect: Any = None) -> None:
        # Fields up to our own limit; ours is the clearer refusal past it.
        csv.field_size_limit(max(csv.field_size_limit(), lines.limit + 1))
        self._text = _TextLines(lines)
        if dialect is None:
            self._reader = csv.reader(
                self._text, csv.excel, delimiter=detect_delimiter(self._text.peek())
            )
        else:
            self._reader = csv.reader(self._text, dialect)
        used = self._reader.dialect
        self._text.shape = lambda: _Shape(used.delimiter, used.quotechar or '"')

    @property
    def delimiter(self) -> str:
        return self._reader.dialect.delimiter

    @property
    def encoding(self) -> str:
        """utf-8, or the encoding the first line that was not UTF-8 was read with."""
        return self._text.fallback or "utf-8"

    def header(self) -> list[str] | None:
        """The first record (the column names), or None for an empty file. Records after it
        that span lines must have as many fields."""
        for _, values in self:
            if isinstance(values, Exception):
                raise values
            self._text.width = len(values)
            return values
        return None

    def __iter__(self) -> Iterator[tuple[int, list[str] | ValueError]]:
        text = self._text
        while True:
            start = text.next_line
            text.begin()
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except (RecordTooLong, QuoteNeverClosed) as error:
                yield start, ValueError(str(error))
                continue
            except csv.Error as error:
                yield start, ValueError(f"not valid CSV: {error}")
                continue
            if problem := text.spans_badly(values):
                yield start, ValueError(problem)
                continue
            yield start, values
