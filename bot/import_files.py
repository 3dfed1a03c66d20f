"""Read import files in bounded memory: physical lines of at most 1 MiB, decoded one at a time,
and CSV records with the line each starts on. Whatever the file's size, only one read chunk and
one record are held; an over-long line is read past in chunks and reported, never kept.

Also what the database cannot store: PostgreSQL's text type takes no NUL character, and a lone
surrogate is not Unicode text (neither engine's driver can encode it). Such a value is refused
here, for its row alone, on every engine alike.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

MAX_RECORD_BYTES = 1024 * 1024
CHUNK_BYTES = 256 * 1024
_BOM = b"\xef\xbb\xbf"


class RecordTooLong(Exception):
    """One line or record is over the limit; the rest of the file is still read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the row is over {describe_size(limit)}, the limit for one row")


def describe_size(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:g} MiB"
    return f"{size / 1024:g} KiB" if size >= 1024 else f"{size:,} bytes"


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


class LineReader:
    """The physical lines of a binary stream, each with its terminator; a line over ``limit``
    bytes is read past chunk by chunk and given as None, so it costs no memory.

    ``line`` is the number of the last line given, ``bytes_read`` how far the stream was read
    (for a progress bar). Lines end with \\n, or with \\r alone in old Mac exports."""

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
        self.bytes_read = 0
        # How many double quotes the last line given as None held: CSV reads past a record
        # cut short by finding where its quoted field closes.
        self.skipped_quotes = 0

    def _read(self) -> bytes:
        data = self.stream.read(self.chunk)
        self.bytes_read += len(data)
        if self.on_read and data:
            self.on_read(self.bytes_read)
        return data

    def _start(self) -> tuple[bytes, bytes]:
        """The first bytes (without a BOM) and the line separator: \\r only when a file's
        first 64 KiB hold a \\r and no \\n."""
        data = b""
        while b"\n" not in data and len(data) <= self.limit:
            more = self._read()
            if not more:
                break
            data += more
            if b"\r" in data and len(data) >= 65_536:
                break
        data = data.removeprefix(_BOM)
        return data, b"\r" if b"\n" not in data and b"\r" in data else b"\n"

    def __iter__(self) -> Iterator[bytes | None]:
        data, separator = self._start()
        pending, skipping = b"", False
        while data:
            if skipping:
                cut = data.find(separator)
                self.skipped_quotes += data.count(b'"', 0, None if cut < 0 else cut)
                if cut < 0:
                    data = self._read()
                    continue
                skipping, data = False, data[cut + 1 :]
                self.line += 1
                yield None
            pieces = (pending + data).split(separator)
            pending = pieces.pop()
            for piece in pieces:
                self.line += 1
                if len(piece) > self.limit:
                    self.skipped_quotes = piece.count(b'"')
                    yield None
                else:
                    yield piece + separator
            if len(pending) > self.limit:
                self.skipped_quotes = pending.count(b'"')
                pending, skipping = b"", True
            data = self._read()
        if skipping or pending:
            self.line += 1
            if not skipping and len(pending) > self.limit:
                self.skipped_quotes = pending.count(b'"')
            yield None if skipping or len(pending) > self.limit else pending


class _TextLines:
    """Decoded lines for the csv module. An iterator class, not a generator: it raises
    RecordTooLong for one record and goes on with the next line afterwards.

    A record cut short inside a quoted field is read past to where that field closes (where
    the record's double quotes are even again), so its other lines are not taken for rows."""

    def __init__(self, lines: LineReader) -> None:
        self._reader = lines
        self._lines = iter(lines)
        self.limit = lines.limit
        self.record_bytes = 0
        self.record_quotes = 0
        self.fallback: str | None = None

    def __iter__(self) -> _TextLines:
        return self

    def __next__(self) -> str:
        data = next(self._lines)
        if data is None:
            self._read_past(self.record_quotes + self._reader.skipped_quotes)
            raise RecordTooLong(self.limit)
        self.record_quotes += data.count(b'"')
        self.record_bytes += len(data)
        if self.record_bytes > self.limit + 2:  # quoted fields spanning many lines
            self._read_past(self.record_quotes)
            raise RecordTooLong(self.limit)
        text, encoding = decode_line(data)
        if encoding != "utf-8" and self.fallback is None:
            self.fallback = encoding
        return text

    def _read_past(self, quotes: int) -> None:
        while quotes % 2:
            data = next(self._lines, b"")
            if data == b"":
                return
            quotes += self._reader.skipped_quotes if data is None else data.count(b'"')


class CsvRecords:
    """The records of a CSV file with the line each starts on; a record that cannot be read
    (over the limit, or broken quoting) is given as a ValueError for that record alone."""

    def __init__(self, lines: LineReader, dialect: Any = csv.excel) -> None:
        # Fields up to our own limit; ours is the clearer refusal past it.
        csv.field_size_limit(max(csv.field_size_limit(), lines.limit + 1))
        self._lines = lines
        self._text = _TextLines(lines)
        self._reader = csv.reader(self._text, dialect)

    @property
    def encoding(self) -> str:
        """utf-8, or the encoding the first line that was not UTF-8 was read with."""
        return self._text.fallback or "utf-8"

    def header(self) -> list[str] | None:
        """The first record (the column names), or None for an empty file."""
        for _, values in self:
            if isinstance(values, Exception):
                raise values
            return values
        return None

    def __iter__(self) -> Iterator[tuple[int, list[str] | ValueError]]:
        while True:
            start = self._lines.line + 1
            self._text.record_bytes = self._text.record_quotes = 0
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except RecordTooLong as error:
                yield start, ValueError(str(error))
                continue
            except csv.Error as error:
                yield start, ValueError(f"not valid CSV: {error}")
                continue
            yield start, values
