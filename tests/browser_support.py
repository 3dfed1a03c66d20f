"""End-to-end tests in a real browser: Playwright (from PyPI) driving Debian's ``chromium``.

Playwright's own browser download does not work here, so the browser is the system one
(``.ci/run`` installs it with apt), launched headless with a fixed set of flags. Tests that
need it are marked ``@requires_chromium`` and skip only where it is missing::

    from tests.browser_support import chromium_page, requires_chromium, screenshot

    @requires_chromium
    async def test_form(base_url: str) -> None:
        async with chromium_page() as page:
            await page.goto(f"{base_url}/form")
            await page.get_by_label("Name").fill("Ada")
            await page.get_by_role("button", name="Send").click()
            await page.wait_for_url("**/done")
            assert await page.get_by_role("heading").inner_text() == "Thanks, Ada"
            await screenshot(page, "form-sent")

Each context manager starts and stops its own browser inside the running test's event loop,
so it fits this repo's function-scoped pytest-asyncio loops (``asyncio_mode = "auto"``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, ViewportSize

DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"
# Passed verbatim on every launch (Playwright adds its own automation switches to these).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
DEFAULT_VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
# Generous for a 2-core CI machine; Playwright's own default is 30 s.
DEFAULT_TIMEOUT_MS = 15_000

_screenshot_dir: Path | None = None


def chromium_path() -> str:
    """The browser executable: ``$CHROMIUM_PATH``, else Debian's ``/usr/bin/chromium``."""
    return os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM_PATH


def chromium_unavailable() -> str | None:
    """Why browser tests cannot run here, or ``None`` when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return (
            f"Chromium not found at {path} (apt-get install chromium, or set CHROMIUM_PATH); "
            ".ci/run installs it"
        )
    return None


_UNAVAILABLE = chromium_unavailable()
requires_chromium = pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")


@asynccontextmanager
async def chromium_browser() -> AsyncIterator[Browser]:
    """A headless system Chromium under Playwright, closed on exit."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=list(CHROMIUM_ARGS),
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def chromium_page(
    *,
    viewport: ViewportSize | None = None,
    base_url: str | None = None,
    timeout_ms: float = DEFAULT_TIMEOUT_MS,
) -> AsyncIterator[Page]:
    """A fresh page (in its own browser and context) with a fixed viewport.

    ``base_url`` lets ``page.goto("/path")`` resolve against the server under test.
    """
    async with chromium_browser() as browser:
        context = await browser.new_context(
            viewport=viewport or DEFAULT_VIEWPORT,
            base_url=base_url,
        )
        context.set_default_timeout(timeout_ms)
        try:
            yield await context.new_page()
        finally:
            await context.close()


def screenshot_dir() -> Path:
    """Where screenshots go: ``$SCREENSHOT_DIR`` (created if needed), else one temporary
    directory per test run, whose path is printed when it is made."""
    global _screenshot_dir
    configured = os.environ.get("SCREENSHOT_DIR")
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    if _screenshot_dir is None:
        _screenshot_dir = Path(tempfile.mkdtemp(prefix="advocacy-screenshots-"))
        print(f"screenshots are saved in {_screenshot_dir}")
    return _screenshot_dir


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Saves a PNG of ``page`` as ``<screenshot_dir()>/<name>.png`` and returns its path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.removesuffix(".png")).strip("-.") or "page"
    path = screenshot_dir() / f"{stem}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")
    return path
