"""The registry that finds adapters: each platform is one package under ``adapters/`` that
declares an ``advocacy.adapters`` entry point naming its factory class (in ``pyproject.toml``,
``name = "adapters.name:NameAdapterFactory"``; loaded and called with no arguments); the core
discovers it at run time and never imports it by name."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from importlib.metadata import entry_points

from bot.config import Settings
from bot.platform.context import AdapterContext
from bot.platform.contract import AdapterFactory, AdapterStatus, ChatAdapter
from bot.platform.entry_points import ENTRY_POINT_GROUP
from bot.services.adapter_store import AdapterStore

log = logging.getLogger(__name__)


class AdapterRegistry:
    def __init__(self, factories: Iterable[AdapterFactory] = ()) -> None:
        self._factories: dict[str, AdapterFactory] = {}
        for factory in factories:
            self.register(factory)

    @classmethod
    def discover(cls) -> AdapterRegistry:
        """Every adapter installed with the project (``advocacy.adapters`` entry points)."""
        registry = cls()
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                factory_class = entry_point.load()
            except Exception as error:  # a broken optional adapter must not stop the bot
                log.error("adapter %s could not be loaded: %s", entry_point.name, error)
                continue
            registry.register(factory_class())
        return registry

    def register(self, factory: AdapterFactory) -> None:
        self._factories[factory.platform] = factory

    @property
    def platforms(self) -> list[str]:
        return sorted(self._factories)

    def statuses(self, settings: Settings) -> dict[str, AdapterStatus]:
        return {name: self._factories[name].status(settings) for name in self.platforms}

    def create_enabled(self, context: AdapterContext) -> dict[str, ChatAdapter]:
        adapters = {}
        for name, status in self.statuses(context.settings).items():
            if status.enabled:
                store = AdapterStore(context.db, context.sealer, name)
                adapters[name] = self._factories[name].create(replace(context, store=store))
        return adapters
