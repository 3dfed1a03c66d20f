"""Run an async fake (``FakeSlack``, ``FakeConnector``, ...) on its own event loop in a thread.

Why: a benchmark, or a test that starts real ``advocacy serve`` child processes, blocks its main
thread (``subprocess.wait``, ``time.sleep``, a synchronous HTTP client) while the bot talks to
the fake. A fake served from the blocked thread's loop could never answer, so it gets a loop of
its own in a daemon thread. Same approach as ``LoopbackServer(own_thread=True)`` in
tests/fake_server.py (own loop, daemon thread, a ready event, stop through
``call_soon_threadsafe``), generalised from a bare aiohttp app to any object with
``async start()``/``async close()``, and used from synchronous code::

    with FakeThread(FakeSlack()) as running:
        run_the_bot(slack_api_url=running.fake.api_url)  # blocks this thread
        assert running.call(running.fake.duplicates) == {}

``call`` runs a function on the fake's loop, so reading its state cannot race its handlers.
(``FakeConnector`` serves from a further thread of its own and guards its state with a lock;
``call`` works for it too.)
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

T = TypeVar("T")


class AsyncFake(Protocol):
    """What FakeThread needs: a server started and closed on the loop it runs on."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


F = TypeVar("F", bound=AsyncFake)


class FakeThread(Generic[F]):
    """Starts ``fake`` on a new event loop in a daemon thread; ``with`` or start()/stop()."""

    def __init__(self, fake: F, *, timeout: float = 30.0) -> None:
        """``timeout``: seconds to wait for the fake to start, close, or answer ``call``."""
        self.fake = fake
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            raise RuntimeError("the fake is not running")
        return self._loop

    def start(self) -> F:
        """Start the fake (its URL attributes are set on return) and return it."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._ready.clear()
        self._error = None
        name = f"fake-{type(self.fake).__name__}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        if not self._ready.wait(self.timeout):
            raise TimeoutError(f"{name} did not start within {self.timeout} s")
        if self._error is not None:
            self._thread.join(self.timeout)
            self._thread = None
            self._loop = None
            raise self._error
        return self.fake

    def stop(self) -> None:
        """Close the fake on its loop, then stop the loop and wait for the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            if thread.is_alive():
                self.call(self.fake.close)
        finally:
            if thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
            thread.join(self.timeout)
            self._thread = None
            self._loop = None

    def call(self, fn: Callable[..., T | Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the fake's loop (awaited if it returns an awaitable);
        returns its result or raises its exception in the calling thread."""
        loop = self.loop
        if threading.current_thread() is self._thread:
            raise RuntimeError("call() from the fake's own thread would deadlock")

        async def invoke() -> T:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                return await result
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), loop).result(self.timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self.fake.start())
        except BaseException as error:  # reported by start()
            self._error = error
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            # stop() has closed the fake; whatever is still pending goes with the loop.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
