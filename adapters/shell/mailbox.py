"""The shell platform's "server side": one append-only mailbox file per user.

Deliveries to shell members are written here by whichever process drains the outbox (the
server, a CLI command or a shell session), and every ``advocacy shell`` session reads its user's
file, so messages cross processes the way a real chat platform would carry them.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class MailboxEntry:
    ref: str
    sent_at: str
    message: dict[str, Any]


class Mailbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, user_id: str, workspace: str = "", suffix: str = ".jsonl") -> Path:
        name = quote(f"{workspace}/{user_id}" if workspace else user_id, safe="")
        return self.directory / f"{name}{suffix}"

    def append(self, user_id: str, entry: MailboxEntry, workspace: str = "") -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps({"ref": entry.ref, "sent_at": entry.sent_at, "message": entry.message})
        # Only this account may read a person's messages (sign-in links, anonymous notices).
        descriptor = os.open(
            self._path(user_id, workspace), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
        )
        with open(descriptor, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(line + "\n")
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def unread(self, user_id: str, workspace: str = "") -> list[MailboxEntry]:
        """Entries after the user's read mark; the mark moves past them."""
        path = self._path(user_id, workspace)
        if not path.exists():
            return []
        mark_path = self._path(user_id, workspace, ".read")
        offset = int(mark_path.read_text() or 0) if mark_path.exists() else 0
        with open(path, encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            try:
                handle.seek(offset)
                data = handle.read()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        complete, _, _ = data.rpartition("\n")
        if not complete:
            return []
        entries = []
        for line in complete.split("\n"):
            if line.strip():
                record = json.loads(line)
                entries.append(MailboxEntry(record["ref"], record["sent_at"], record["message"]))
        mark_path.write_text(str(offset + len(complete.encode("utf-8")) + 1))
        return entries
