"""The browser-test infrastructure itself: a real Chromium fills in and submits a plain HTML
form served by a tiny aiohttp app on the loopback, and a screenshot of the result is saved."""

from __future__ import annotations

import html

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.browser_support import chromium_page, requires_chromium, screenshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

FORM_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Greeter</title></head>
<body>
  <h1>Greeter</h1>
  <form method="post" action="/greet">
    <label for="name">Your name</label>
    <input id="name" name="name" type="text" required>
    <button type="submit">Greet me</button>
  </form>
</body>
</html>
"""

RESULT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Greeting</title></head>
<body><h1 id="greeting">Hello, {name}!</h1><p>{count} form field(s) received.</p></body>
</html>
"""


def greeter_app() -> web.Application:
    async def form(_request: web.Request) -> web.Response:
        return web.Response(text=FORM_PAGE, content_type="text/html")

    async def greet(request: web.Request) -> web.Response:
        data = await request.post()
        name = html.escape(str(data.get("name", "")))
        return web.Response(
            text=RESULT_PAGE.format(name=name, count=len(data)), content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", form)
    app.router.add_post("/greet", greet)
    return app


@requires_chromium
async def test_real_browser_submits_a_form_and_takes_a_screenshot() -> None:
    async with TestServer(greeter_app(), host="127.0.0.1", port=0) as server:
        base_url = str(server.make_url("/")).rstrip("/")
        async with chromium_page(base_url=base_url) as page:
            await page.goto("/")
            assert await page.title() == "Greeter"

            await page.get_by_label("Your name").fill("Ada <Lovelace>")
            await page.get_by_role("button", name="Greet me").click()
            await page.wait_for_url(f"{base_url}/greet")

            greeting = page.get_by_role("heading", level=1)
            assert await greeting.inner_text() == "Hello, Ada <Lovelace>!"
            assert "1 form field(s) received." in await page.inner_text("body")

            path = await screenshot(page, "greeter result")

    assert path.name == "greeter-result.png"
    assert path.is_file()
    assert path.read_bytes().startswith(PNG_SIGNATURE)
