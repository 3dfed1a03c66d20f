"""Test runs that share one PostgreSQL (CI runs the suite on two Pythons at once) take turns
around the test that restarts it: every test holds a shared lock, that one an exclusive lock,
so no other run has a test in flight while the cluster is down."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_PATH = Path(tempfile.gettempdir()) / "advocacy-tests-postgres.lock"


@contextmanager
def postgres_turn(*, exclusive: bool) -> Iterator[None]:
    """Hold this machine's lock on the shared PostgreSQL: shared to use it, exclusive to stop it."""
    with open(LOCK_PATH, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
