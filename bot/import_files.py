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

import codecs
import csv
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

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
_EXPORT_CSV = "export the data as CSV (UTF-8) and import that."
_NOT_TEXT = (
    (b"PK\x03\x04", "This is an Excel workbook (.xlsx), not a CSV file: " + _SAVE_AS_CSV),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "This is an Excel workbook (.xls), not a CSV file: " + _SAVE_AS_CSV,
    ),
    (b"%PDF-", "This is a PDF document, not a CSV file: " + _EXPORT_CSV),
    (b"\x1f\x8b", "This is a gzip archive, not a CSV file: unpack it and import the file inside."),
    (b"7z\xbc\xaf\x27\x1c", "This is a 7-Zip archive, not a CSV file: unpack it first."),
    (b"Rar!\x1a\x07", "This is a RAR archive, not a CSV file: unpack it first."),
    (b"SQLite format 3\x00", "This is a SQLite database, not a CSV file: " + _EXPORT_CSV),
    (b"{\\rtf", "This is a rich-text document (.rtf), not a CSV file: " + _EXPORT_CSV),
    (b"\x89PNG", "This is a PNG image, not a CSV file: " + _EXPORT_CSV),
    (b"\xff\xd8\xff", "This is a JPEG image, not a CSV file: " + _EXPORT_CSV),
    (b"GIF8", "This is a GIF image, not a CSV file: " + _EXPORT_CSV),
)
# Text encodings a file names with its first bytes (UTF-32's before UTF-16's: they share two).
_ENCODING_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
SNIFF_BYTES = 64 * 1024
# Bytes no text holds (controls other than tab, line feed, form feed, carriage return): a few in
# a text file are a bad row, reported on its line; this share of a file's start is not text.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")
BINARY_SHARE = 0.05


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
    spreadsheet workbook or a PDF read as CSV is otherwise a screen of garbage columns. A stream
    in UTF-16 or UTF-32 must go through ``open_import_file``, which reads them."""
    for signature, problem in _NOT_TEXT:
        if head.startswith(signature):
            return problem
    if (encoding := bom_encoding(head)) is not None:
        return f"This file is {encoding.upper()} text; open it with open_import_file to read it."
    controls = len(_CONTROL.findall(head[:SNIFF_BYTES]))
    if controls >= 8 and controls > BINARY_SHARE * min(len(head), SNIFF_BYTES):
        return (
            "This file holds binary data, not text (no CSV, JSON or text export looks like "
            "this): " + _EXPORT_CSV
        )
    return None


def bom_encoding(head: bytes) -> str | None:
    """utf-16-le, utf-16-be, utf-32-le or utf-32-be when the file starts with that byte-order
    mark, or is UTF-16 without one (every other byte of its text is zero); None otherwise. A
    UTF-8 BOM is skipped where lines are read."""
    for mark, encoding in _ENCODING_BOMS:
        if head.startswith(mark):
            return encoding
    sample = head[: 4096 - 4096 % 2]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 8:
        return None
    half = len(sample) // 2
    even_zeros, odd_zeros = sample[0::2].count(0), sample[1::2].count(0)
    if odd_zeros > 0.4 * half and even_zeros < 0.05 * half:
        return "utf-16-le"
    if even_zeros > 0.4 * half and odd_zeros < 0.05 * half:
        return "utf-16-be"
    return None


class Utf8Transcoder:
    """A UTF-16 or UTF-32 file read as UTF-8 bytes, so every reader after it (lines, CSV, JSON)
    reads one encoding. Excel's "Unicode Text" export is UTF-16 with tabs. Seeking back reads
    again from the start (rare: a quote never closed); ``source_position`` is how far the file
    itself was read, for progress."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self.raw = raw
        self.encoding = encoding
        marks = [mark for mark, name in _ENCODING_BOMS if name == encoding]
        self._start = len(marks[0]) if raw.read(4).startswith(marks[0]) else 0
        self._rewind()

    def _rewind(self) -> None:
        self.raw.seek(self._start)
        self._decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        self._pending = b""
        self._position = 0
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._pending) < size) and not self._ended:
            chunk = self.raw.read(CHUNK_BYTES)
            self._ended = not chunk
            self._pending += self._decoder.decode(chunk, final=self._ended).encode("utf-8")
        if size < 0:
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        self._position += len(data)
        return data

    def seekable(self) -> bool:
        return self.raw.seekable()

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise OSError("a transcoded file seeks from its start only")
        if offset < self._position:
            self._rewind()
        while self._position < offset and self.read(min(CHUNK_BYTES, offset - self._position)):
            pass
        return self._position

    @property
    def source_position(self) -> int:
        return self.raw.tell()

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> Utf8Transcoder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def source_position(stream: BinaryIO, position: int) -> int:
    """How far into the file itself ``position`` bytes of ``stream`` are (they differ when the
    file is transcoded)."""
    return stream.source_position if isinstance(stream, Utf8Transcoder) else position


def file_encoding(stream: BinaryIO) -> str | None:
    """The encoding a transcoded file is read in, or None for a file read as it is."""
    return stream.encoding if isinstance(stream, Utf8Transcoder) else None


def encoding_note(encoding: str) -> str | None:
    """What to tell the person about the encoding a file was read in: nothing for UTF-8."""
    if encoding == "utf-8":
        return None
    if encoding.startswith(("utf-16", "utf-32")):
        return f"(read as {encoding.upper()})"
    return f"(read as {encoding}: the file is not UTF-8)"


def open_import_file(path: Path) -> BinaryIO:
    """The file opened for reading as UTF-8 (or Windows-1252) bytes, or a one-line error: a
    missing or unreadable file, or one that is not text (a workbook, a PDF, binary data),
    saying what it seems to be and what to export instead. UTF-16 and UTF-32 files (told by
    their byte-order mark, or UTF-16 by its zero bytes) are read through a transcoder."""
    try:
        stream = path.open("rb")
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None
    if not stream.seekable():  # a pipe: read as it comes (LineReader still refuses binary)
        return stream
    try:
        head = stream.read(SNIFF_BYTES)
        stream.seek(0)
        if (encoding := bom_encoding(head)) is not None:
            transcoded = Utf8Transcoder(stream, encoding)
            if problem := not_text(transcoded.read(SNIFF_BYTES)):
                raise InvalidInput(problem)
            transcoded.seek(0)
            return cast(BinaryIO, transcoded)
        if problem := not_text(head):
            raise InvalidInput(problem)
    except OSError as error:
        stream.close()
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None
    except BaseException:
        stream.close()
        raise
    return stream


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

    def file_position(self, offset: int) -> int:
        """How far into the file itself ``offset`` (a position in the bytes read, such as
        ``offset``) lies, for a progress bar: exact for a file read as it is, in proportion for
        a transcoded one."""
        if self._position <= 0:
            return 0
        return round(self.bytes_read * min(offset, self._position) / self._position)

    def _read(self) -> bytes:
        data = self.stream.read(self.chunk)
        self._position += len(data)
        done = source_position(self.stream, self._position)
        if done > self.bytes_read:  # never backwards, even when read again
            self.bytes_read = done
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
