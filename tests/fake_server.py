"""How every fake of a remote service is served: an aiohttp app on 127.0.0.1, on a free port.

A fake subclasses ``LoopbackServer`` and builds its app in ``make_app``; a test uses it as
``async with FakeThing() as fake:`` (or ``await fake.start()`` / ``await fake.close()``) and
points the bot at ``fake.url``. A bare app is served the same way:
``async with LoopbackServer(app) as server:``.

``own_thread=True`` serves from an event loop of its own, in a daemon thread: botframework and
MSAL call their servers with blocking ``requests`` from inside the bot's loop (and a CLI test
blocks the test's loop), so a server sharing that loop could never answer. ``tls=`` also serves
the app over HTTPS on a second port (``https_url``).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from types import TracebackType
from typing import Self

from aiohttp import web


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1 (the port is known before serving)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LoopbackServer:
    """An aiohttp app on 127.0.0.1: ``url`` (and ``https_url`` with ``tls``) once started."""

    def __init__(
        self,
        app: web.Application | None = None,
        *,
        own_thread: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.url = ""  # http://127.0.0.1:PORT
        self.https_url = ""  # https://127.0.0.1:PORT, when tls is given
        self._app = app
        self._own_thread = own_thread
        self._tls = tls
        self._runner: web.AppRunner | None = None  # served on the caller's loop
        self._thread: threading.Thread | None = None  # served on a loop of its own
        self._loop: asyncio.AbstractEventLoop | None = None

    def make_app(self) -> web.Application:
        """The app to serve, built at each start; a fake overrides this."""
        if self._app is None:
            raise TypeError("give LoopbackServer an app, or override make_app")
        return self._app

    async def start(self) -> None:
        app = self.make_app()
        sockets: list[tuple[socket.socket, ssl.SSLContext | None]] = [(bound_socket(), None)]
        if self._tls is not None:
            sockets.append((bound_socket(), self._tls))
        self.url = f"http://127.0.0.1:{sockets[0][0].getsockname()[1]}"
        if self._tls is not None:
            self.https_url = f"https://127.0.0.1:{sockets[1][0].getsockname()[1]}"
        if self._own_thread:
            await self._start_in_thread(app, sockets)
            return
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runner = runner
        try:
            for sock, ssl_context in sockets:
                await web.SockSite(runner, sock, ssl_context=ssl_context).start()
        except BaseException:
            await self.close()
            for sock, _ in sockets:
                sock.close()
            raise

    async def close(self) -> None:
        """Stop serving (aiohttp waits for requests in flight); closing twice is harmless."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
            self._loop = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _start_in_thread(
        self, app: web.Application, sockets: list[tuple[socket.socket, ssl.SSLContext | None]]
    ) -> None:
        ready = threading.Event()
        failed: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            runner = web.AppRunner(app, access_log=None)
            try:
                loop.run_until_complete(runner.setup())
                for sock, ssl_context in sockets:
                    site = web.SockSite(runner, sock, ssl_context=ssl_context)
                    loop.run_until_complete(site.start())
            except BaseException as error:  # reported to start()
                failed.append(error)
                for sock, _ in sockets:
                    sock.close()
                loop.close()
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(runner.cleanup())
                loop.close()

        thread = threading.Thread(target=run, name="fake-server", daemon=True)
        thread.start()
        await asyncio.to_thread(ready.wait)
        if failed:
            thread.join()
            raise failed[0]
        self._loop, self._thread = loop, thread
