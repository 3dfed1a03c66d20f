"""The items of a big JSON file, one at a time: a top-level list, or an object whose "items"
(or "data", "results"...) key holds the list. Each item's raw bytes are cut out of the stream by
its brackets and given to ``json.loads`` alone, so memory holds one item, never the file; an item
over the limit is skipped chunk by chunk and given as None.

Strings are matched by a regular expression and brackets counted, so a bracket inside a string
never counts; the item's own syntax is then checked by ``json.loads``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from bot.import_files import CHUNK_BYTES, MAX_RECORD_BYTES

ITEM_KEYS = ("items", "data", "results", "reviews", "responses", "tickets")
_WHITESPACE = re.compile(rb"[ \t\r\n]*")
# Everything up to the next bracket that is not inside a string, complete strings included.
_FLAT = re.compile(rb'(?:[^"\[\]{}]+|"[^"\\]*(?:\\.[^"\\]*)*")*', re.S)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_SCALAR = re.compile(rb"[^,\]}\s]*")
_OUTSIDE = re.compile(rb'["\[\]{}]')
_INSIDE = re.compile(rb'["\\]')
_OPEN, _CLOSE = b"[{", b"]}"
_PAIRS = {ord("]"): ord("["), ord("}"): ord("{")}


class JsonBroken(Exception):
    """The file's structure breaks here; nothing after it can be read reliably."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class JsonItems:
    """``for number, line, raw in JsonItems(stream)``: each item's number (from 1), the line it
    starts on and its bytes (None when over ``limit``). Raises JsonBroken where the structure
    breaks; the items before it were given."""

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
        self.bytes_read = 0
        self._buffer = b""
        self._pos = 0
        self._mark: int | None = None  # the start of the value being cut out, kept on refills
        self._line = 1  # the line at buffer offset _counted
        self._counted = 0
        self._started = False

    # ----- the buffer ----------------------------------------------------------------------------

    def _refill(self) -> bool:
        """Read another chunk, dropping what was used; False at the end of the file."""
        keep = self._pos if self._mark is None else self._mark
        self._line_at(keep)
        self._buffer = self._buffer[keep:]
        self._pos -= keep
        self._counted -= keep
        if self._mark is not None:
            self._mark -= keep
        data = self.stream.read(self.chunk)
        if not data:
            return False
        if not self._started:
            self._started = True
            data = data.removeprefix(b"\xef\xbb\xbf")
        self.bytes_read += len(data)
        if self.on_read:
            self.on_read(self.bytes_read)
        self._buffer += data
        return True

    def _line_at(self, offset: int) -> int:
        if offset > self._counted:
            self._line += self._buffer.count(b"\n", self._counted, offset)
            self._counted = offset
        return self._line

    def _broken(self, message: str) -> JsonBroken:
        return JsonBroken(message, self._line_at(self._pos))

    def _next_byte(self) -> int | None:
        """The next byte that is not white space (not consumed), None at the end."""
        while True:
            self._pos = _WHITESPACE.match(self._buffer, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._refill():
                return None

    def _expect(self, allowed: bytes, what: str) -> int:
        byte = self._next_byte()
        if byte is None:
            raise self._broken(f"the file ends where {what} was expected")
        if byte not in allowed:
            raise self._broken(f"{what} was expected, not {chr(byte)!r}")
        self._pos += 1
        return byte

    # ----- values --------------------------------------------------------------------------------

    def _value(self) -> bytes | None:
        """The bytes of the value that starts at the next byte; None (and skipped) when over
        the limit."""
        if self._next_byte() is None:
            raise self._broken("the file ends where a value was expected")
        self._mark = start = self._pos
        try:
            first = self._buffer[start]
            if first in _OPEN:
                end = self._container()
            elif first == ord('"'):
                end = self._string()
            else:
                end = self._scalar()
            if end is None:
                return None
            self._pos = end
            start = self._mark or 0  # the buffer may have moved
            return None if end - start > self.limit else self._buffer[start:end]
        finally:
            self._mark = None

    def _too_long(self, position: int) -> bool:
        return position - (self._mark or 0) > self.limit

    def _container(self) -> int | None:
        openers: list[int] = []
        position = self._pos
        while True:
            buffer = self._buffer
            if position < len(buffer):
                byte = buffer[position]
                if byte in _OPEN:
                    openers.append(byte)
                    position += 1
                    continue
                if byte in _CLOSE:
                    opened = openers.pop()
                    if opened != _PAIRS[byte]:
                        self._pos = position
                        raise self._broken(f"{chr(byte)!r} does not close {chr(opened)!r}")
                    position += 1
                    if not openers:
                        return position
                    continue
                position = _FLAT.match(buffer, position).end()  # type: ignore[union-attr]
                if position < len(buffer) and buffer[position] != ord('"'):
                    continue  # stopped at a bracket
            # The buffer ends, or a string does not end in it: more is needed.
            if self._too_long(len(self._buffer)):
                self._pos = position
                self._skip(len(openers), inside=False)
                return None
            position -= self._mark or 0
            if not self._refill():
                self._pos = len(self._buffer)
                raise self._broken("the file ends inside an item")
            position += self._mark or 0

    def _string(self) -> int | None:
        while True:
            found = _STRING.match(self._buffer, self._mark or 0)
            if found:
                return found.end()
            if self._too_long(len(self._buffer)):
                self._pos = (self._mark or 0) + 1
                self._skip(0, inside=True)
                return None
            if not self._refill():
                raise self._broken("the file ends inside a string")

    def _scalar(self) -> int | None:
        while True:
            end = _SCALAR.match(self._buffer, self._mark or 0).end()  # type: ignore[union-attr]
            if end < len(self._buffer):
                return end
            if self._too_long(end):
                self._pos = end
                self._skip_scalar()
                return None
            if not self._refill():
                return len(self._buffer)

    def _skip(self, depth: int, *, inside: bool) -> None:
        """Read past the rest of an over-long value, a chunk at a time, keeping none of it:
        ``depth`` brackets are open, ``inside`` a string or not."""
        self._mark = None
        escaped = False
        while True:
            buffer, position = self._buffer, self._pos
            while True:
                if escaped:
                    if position >= len(buffer):
                        break
                    position, escaped = position + 1, False
                found = (_INSIDE if inside else _OUTSIDE).search(buffer, position)
                if found is None:
                    position = len(buffer)
                    break
                byte, position = buffer[found.start()], found.end()
                if inside:
                    if byte == ord("\\"):
                        escaped = True
                        continue
                    inside = False
                    if depth <= 0:  # the over-long value was this string
                        self._pos = position
                        return
                elif byte == ord('"'):
                    inside = True
                else:
                    depth += 1 if byte in _OPEN else -1
                    if depth <= 0:
                        self._pos = position
                        return
            self._pos = position
            if not self._refill():
                raise self._broken("the file ends inside an item")

    def _skip_scalar(self) -> None:
        self._mark = None
        while True:
            end = _SCALAR.match(self._buffer, self._pos).end()  # type: ignore[union-attr]
            self._pos = end
            if end < len(self._buffer) or not self._refill():
                return

    # ----- the document --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[int, int, bytes | None]]:
        first = self._next_byte()
        if first == ord("["):
            yield from self._list()
        elif first == ord("{"):
            yield from self._object()
        elif first is None:
            raise self._broken("the file is empty")
        else:
            raise self._broken(f"a JSON file starts with [ or {{, not {chr(first)!r}")
        if self._next_byte() is not None:
            raise self._broken("more follows the end of the JSON document")

    def _list(self) -> Iterator[tuple[int, int, bytes | None]]:
        self._pos += 1  # the [
        number = 0
        while True:
            if self._next_byte() == ord("]"):
                self._pos += 1
                return
            number += 1
            line = self._line_at(self._pos)
            yield number, line, self._value()
            if self._expect(b",]", "',' or ']' after an item") == ord("]"):
                return

    def _object(self) -> Iterator[tuple[int, int, bytes | None]]:
        """Items from the first list under one of ITEM_KEYS; without one, the object is the
        only item."""
        line = self._line_at(self._pos)
        self._pos += 1  # the {
        members: list[bytes] = []
        size, too_long, listed = 0, False, False
        if self._next_byte() == ord("}"):
            self._pos += 1
            yield 1, line, b"{}"
            return
        while True:
            if self._next_byte() != ord('"'):
                raise self._broken("a key in double quotes was expected")
            key_bytes = self._value()
            self._expect(b":", "':' after a key")
            key = _key(key_bytes)
            if not listed and key in ITEM_KEYS and self._next_byte() == ord("["):
                listed = True
                yield from self._list()
            else:
                value = self._value()
                if value is None or key_bytes is None:
                    too_long = True
                elif not too_long and not listed:
                    size += len(key_bytes) + len(value) + 2
                    too_long = size > self.limit
                    members.append(key_bytes + b":" + value)
            if self._expect(b",}", "',' or '}' after a value") == ord("}"):
                break
        if not listed:
            yield 1, line, None if too_long else b"{" + b",".join(members) + b"}"


def _key(raw: bytes | None) -> str | None:
    """A short key's text, to see whether it names the list of items."""
    if raw is None or len(raw) > 100:
        return None
    try:
        key = json.loads(raw)
    except ValueError:
        return None
    return key if isinstance(key, str) else None
