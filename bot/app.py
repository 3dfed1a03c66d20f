"""The composition root: the one place that builds settings, database, services, adapters and
workers and wires them together. Nothing else creates them; nothing reaches for a global."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from bot.chart_links import ChartLinks
from bot.chat.router import EventRouter
from bot.config import Settings
from bot.i18n import set_default_locale
from bot.inbox import Inbox
from bot.links import TrackedLinks
from bot.metrics import Metrics
from bot.outbox.worker import OutboxWorker
from bot.platform.capabilities import capabilities_of
from bot.platform.context import AdapterContext
from bot.platform.contract import AdapterStatus, ChatAdapter
from bot.platform.registry import AdapterRegistry
from bot.plugins import Extensions, load_extensions
from bot.sealing import Sealer, load_or_create_secret
from bot.storage import migrate
from bot.storage.database import Database, describe_database_url

log = logging.getLogger(__name__)


@dataclass
class Application:
    settings: Settings
    db: Database
    sealer: Sealer
    metrics: Metrics
    router: EventRouter
    registry: AdapterRegistry
    links: TrackedLinks
    charts: ChartLinks
    extensions: Extensions
    inbox: Inbox
    adapters: dict[str, ChatAdapter] = field(default_factory=dict)
    statuses: dict[str, AdapterStatus] = field(default_factory=dict)
    worker: OutboxWorker | None = None

    def platform_states(self) -> dict[str, str | None]:
        """Each known platform: None when it sends here, else why it does not. A command run
        without adapters reads it from the configuration, as the server would."""
        statuses = self.statuses or self.registry.statuses(self.settings)
        return {
            name: None if status.enabled else f"{name} is not enabled: {status.reason}"
            for name, status in statuses.items()
        }

    def log_adapters(self) -> None:
        """Say which adapters are enabled, and why the others are not; then the plugins."""
        if not self.statuses:
            log.warning("no chat adapter is installed; reinstall the project (pip install -e .)")
        for name, status in self.statuses.items():
            if status.enabled:
                level = logging.WARNING if status.warning else logging.INFO
                log.log(level, "adapter %s: enabled (%s)", name, status.reason)
                adapter = self.adapters.get(name)
                extras = capabilities_of(adapter) if adapter is not None else []
                if extras:
                    log.info("adapter %s: also offers %s", name, ", ".join(extras))
            else:
                level = logging.WARNING if status.warning else logging.INFO
                log.log(level, "adapter %s: disabled (%s)", name, status.reason)
        for name in self.extensions.names:
            summary = self.extensions.summaries.get(name, "loaded")
            log.info("plugin %s: %s", name, summary)


@asynccontextmanager
async def open_application(
    settings: Settings,
    *,
    registry: AdapterRegistry | None = None,
    extensions: Extensions | None = None,
    upgrade: bool = True,
    with_adapters: bool = True,
) -> AsyncIterator[Application]:
    """Build the application; migrations are applied on start unless ``upgrade`` is False."""
    set_default_locale(settings.locale)
    db = Database(settings.database_url, search_path=settings.database_schema)
    try:
        if upgrade:
            before, after = await migrate.upgrade(db)
            if before != after:
                log.info(
                    "database %s migrated from %s to %s",
                    describe_database_url(db.url),
                    before or "empty",
                    after,
                )
        secret = load_or_create_secret(settings.secret_key, settings.data_dir)
        sealer = Sealer(secret)
        links = TrackedLinks(secret, settings.public_url)
        metrics = Metrics()
        extensions = extensions if extensions is not None else load_extensions(settings)
        charts = ChartLinks(secret, settings.public_url)
        router = EventRouter(
            db,
            sealer,
            metrics,
            suggestion_channels=settings.suggestion_channels,
            extensions=extensions,
            charts=charts,
            public_url=settings.public_url,
            links=links,
            answer_after=settings.answer_after,
        )
        inbox = Inbox(db, sealer, metrics)
        app = Application(
            settings=settings,
            inbox=inbox,
            db=db,
            sealer=sealer,
            metrics=metrics,
            router=router,
            registry=registry if registry is not None else AdapterRegistry.discover(),
            links=links,
            charts=charts,
            extensions=extensions,
        )
        if with_adapters:
            app.statuses = app.registry.statuses(settings)
            app.adapters = app.registry.create_enabled(
                AdapterContext(
                    settings=settings,
                    db=db,
                    router=router,
                    metrics=metrics,
                    sealer=sealer,
                    inbox=inbox,
                )
            )
        app.worker = OutboxWorker(
            db,
            app.adapters,
            sealer,
            metrics,
            links,
            max_attempts=settings.delivery_max_attempts,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            platform_states=app.platform_states() if with_adapters else None,
        )
        router.on_queued = app.worker.wake
        for adapter in app.adapters.values():
            await adapter.start()
        try:
            yield app
        finally:
            for adapter in app.adapters.values():
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("adapter %s did not stop cleanly", adapter.platform)
            await inbox.close()
    finally:
        await db.dispose()
