"""What an adapter's own commands (``advocacy slack sync``, ``advocacy teams package``, the
shell) need from the core: settings, error handling and output in the CLI's house style, and
the running application seen through the adapter's context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from bot.app import Application, open_application
from bot.cli.runtime import (
    cli_settings,
    fail_on_domain_error,
    file_progress,
    print_json,
    print_table,
    run_with_app,
    stdout_console,
)
from bot.config import Settings
from bot.platform.context import AdapterContext
from bot.platform.contract import AdapterFactory, ChatAdapter
from bot.platform.registry import AdapterRegistry
from bot.services.adapter_store import AdapterStore

T = TypeVar("T")

__all__ = [
    "AdapterRun",
    "LocalCore",
    "LocalRun",
    "cli_settings",
    "fail_on_domain_error",
    "file_progress",
    "local_run",
    "open_local",
    "print_json",
    "print_table",
    "run_with_adapter",
    "stdout_console",
]


@dataclass(frozen=True)
class AdapterRun:
    """One platform as a command sees it: its context (with its own store) and, when the
    configuration enables it, the running adapter, so commands send through its pacing."""

    context: AdapterContext
    adapter: ChatAdapter | None


def _context(app: Application, platform: str) -> AdapterContext:
    return AdapterContext(
        settings=app.settings,
        db=app.db,
        router=app.router,
        metrics=app.metrics,
        sealer=app.sealer,
        inbox=app.inbox,
        store=AdapterStore(app.db, app.sealer, platform),
    )


def run_with_adapter(
    platform: str,
    work: Callable[[AdapterRun], Awaitable[T]],
    *,
    start_adapters: bool = True,
    existing_database: bool = False,
) -> T:
    """Open the application (with the enabled adapters started unless ``start_adapters`` is
    False), run ``work`` with the platform's view of it, close everything."""

    async def with_run(app: Application) -> T:
        return await work(AdapterRun(_context(app, platform), app.adapters.get(platform)))

    return run_with_app(with_run, adapters=start_adapters, existing_database=existing_database)


@dataclass(frozen=True)
class LocalRun:
    """A platform run inside this process (the shell): its context, its adapter, and the
    outbox, which it drains itself because no server runs."""

    context: AdapterContext
    adapter: ChatAdapter
    _app: Application

    async def deliver_due(self) -> int:
        """Send what is due now (retries later wait for the next call); how many were sent."""
        assert self._app.worker is not None
        stats = await self._app.worker.drain(wait_for_retries=False)
        return sum(stats.sent.values())


# What a local session may be handed: the platform's run, or the application it runs in (the
# tests' running application, with the platform's adapter enabled).
LocalCore = LocalRun | Application


def local_run(core: LocalCore, platform: str) -> LocalRun:
    """The platform's run in ``core``: itself, or made from the running application."""
    if isinstance(core, LocalRun):
        return core
    return LocalRun(_context(core, platform), core.adapters[platform], core)


@asynccontextmanager
async def open_local(settings: Settings, factory: AdapterFactory) -> AsyncIterator[LocalRun]:
    """The application with one adapter, for a session in this terminal; other platforms'
    messages stay queued for the server."""
    registry = AdapterRegistry([factory])
    async with open_application(settings, registry=registry) as app:
        context = _context(app, factory.platform)
        yield LocalRun(context, app.adapters[factory.platform], app)
