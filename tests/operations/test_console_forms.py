"""Refused console forms, over real HTTP: every form comes back with what was typed and the reason
in a red alert beside the field it is about (the field marked invalid and focused), nothing kept;
a cron that never fires is refused; people's text is isolated and shown in written order. (In a
real browser, at desktop and phone width: tests/operations/test_console_browser.py.)"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.charts import objectives_figure
from bot.domain import ContentStatus, Role
from bot.services.content import add_content
from bot.services.digests import add_digest
from bot.services.objectives import add_objective
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.suggestions import answer_suggestion, file_suggestion
from bot.storage.models import ContentItem, Digest, Suggestion
from tests.conftest import make_member
from tests.operations import test_console
from tests.operations.test_console import Browser, signed_in

server, browsers = test_console.server, test_console.browsers  # the same fixtures

CONTROLS = ("input", "select", "textarea")


@dataclass
class Tag:
    name: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Page(HTMLParser):
    """The page's tags in order (enough to say what sits next to what), with each tag's text."""

    tags: list[Tag] = field(default_factory=list)
    _open: list[Tag] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(Tag(tag, {k: v if v is not None else "" for k, v in attrs}))
        if tag not in ("input", "br", "img", "meta", "link", "source"):
            self._open.append(self.tags[-1])

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop().name != tag:
            pass

    def handle_data(self, data: str) -> None:
        for tag in self._open:
            tag.text += data

    def by_id(self, id_: str) -> Tag:
        [found] = [t for t in self.tags if t.attrs.get("id") == id_]
        return found

    def index(self, tag: Tag) -> int:
        return next(i for i, t in enumerate(self.tags) if t is tag)


def parsed(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def refused_beside(html: str, control_id: str) -> tuple[str, Tag]:
    """The reason shown beside the control ``control_id``, and the control: the reason is a red
    alert between the control's label and the control, which points at it and is focused."""
    page = parsed(html)
    control = page.by_id(control_id)
    alert = page.by_id(f"{control_id}-error")
    assert alert.name == "p" and alert.attrs["role"] == "alert"
    assert "field-error" in alert.attrs["class"].split()
    assert control.attrs["aria-invalid"] == "true"
    assert control.attrs["aria-describedby"] == alert.attrs["id"]
    assert "autofocus" in control.attrs  # the browser scrolls to it: seen without scrolling
    [label] = [t for t in page.tags if t.name == "label" and t.attrs.get("for") == control_id]
    between = page.tags[page.index(alert) + 1 : page.index(control)]
    assert page.index(label) < page.index(alert) and not [t for t in between if t.name in CONTROLS]
    # One alert on the page, and no success notice.
    assert [t for t in page.tags if t.attrs.get("role") == "alert"] == [alert]
    assert not [t for t in page.tags if t.attrs.get("role") == "status"]
    return alert.text, control


@pytest.mark.parametrize(
    ("cron", "says"), [("0 9 30 2 *", "never fires"), ("61 * * * *", "61"), ("0 9 * *", "five")]
)
async def test_a_refused_schedule_comes_back_typed_with_the_reason_beside_the_cron(
    app: Application, browsers: list[Browser], cron: str, says: str
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    await signed_in(app, browsers[0], "dana")
    csrf = await browsers[0].csrf("/console/digests")
    typed = {
        "name": "Month end",
        "kind": "voice",
        "audience": "team:Support",
        "cron": cron,
        "timezone": "Europe/Berlin",
        "local_time": "on",
    }
    status, location, html = await browsers[0].post(
        "/console/digests", {"csrf": csrf, "form": "new-digest", **typed}
    )
    assert (status, location) == (422, "")  # the page again, not a redirect that forgets
    reason, control = refused_beside(html, "cron")
    assert reason.startswith("Not done:") and says in reason and control.attrs["value"] == cron
    page = parsed(html)
    for name in ("name", "audience", "timezone"):
        assert page.by_id(name).attrs["value"] == typed[name]
    [kind] = [t for t in page.tags if t.name == "option" and "selected" in t.attrs]
    assert kind.attrs["value"] == "voice" and "checked" in page.by_id("local_time").attrs
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Digest.id))) == 0


async def test_every_console_form_shows_its_refusal_beside_its_field(
    app: Application, browsers: list[Browser]
) -> None:
    """The digest edit, content add and edit, answer, merge and hide forms, each refused."""
    await make_member(app, "admin", role=Role.ADMIN)
    await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        digest = await add_digest(
            session, OPERATOR, "weekly", kind="content", audience="all", cron="0 9 * * 1",
            timezone="UTC",
        )  # fmt: skip
        item = await add_content(session, OPERATOR, "https://example.com/a", title="Kept title")
        idea = await file_suggestion(session, app.sealer, ann, "An idea", platform="remote")
    await signed_in(app, browsers[0], "admin")
    csrf = await browsers[0].csrf("/console/digests")
    cases = [
        # (path, form, values sent, the control the reason is beside, what it keeps, reason)
        (
            "/console/digests/weekly/edit",
            f"edit-digest-{digest.id}",
            {"cron": "0 9 31 4 *", "timezone": "UTC", "audience": "all"},
            f"cron-{digest.id}",
            "0 9 31 4 *",
            "never fires",
        ),
        (
            "/console/digests/weekly/edit",
            f"edit-digest-{digest.id}",
            {"cron": "0 8 * * *", "timezone": "Mars/Olympus", "audience": "all"},
            f"tz-{digest.id}",
            "Mars/Olympus",
            "Mars/Olympus",
        ),
        (
            "/console/content",
            "new-content",
            {"url": "not a web address", "title": "Typed title", "summary": "Typed summary"},
            "url",
            "not a web address",
            "web address",
        ),
        (
            "/console/content",
            "new-content",
            {"url": "https://example.com/a", "title": "Again"},
            "url",
            "https://example.com/a",
            "already curated",
        ),
        (
            f"/console/content/{item.id}/edit",
            f"edit-content-{item.id}",
            {"title": "   ", "summary": "A typed summary"},
            f"title-{item.id}",
            "   ",
            "title",
        ),
        (
            f"/console/suggestions/{idea.id}/answer",
            f"answer-{idea.id}",
            {"status": "planned", "text": "x" * 3001},
            f"text-{idea.id}",
            "x" * 3001,
            "limit is 3000",
        ),
        (
            f"/console/suggestions/{idea.id}/merge",
            f"merge-{idea.id}",
            {"into": "twelve"},
            f"into-{idea.id}",
            "twelve",
            "not a suggestion number",
        ),
        (
            f"/console/suggestions/{idea.id}/hide",
            f"hide-{idea.id}",
            {"reason": " "},
            f"reason-{idea.id}",
            " ",
            "empty",
        ),
    ]
    for path, form, values, control_id, kept, says in cases:
        status, _, html = await browsers[0].post(path, {"csrf": csrf, "form": form, **values})
        assert status == 422, (path, values)
        reason, control = refused_beside(html, control_id)
        shown = control.text if control.name == "textarea" else control.attrs["value"]
        assert says in reason and shown.strip("\n") == kept, (path, reason)
        # A form folded away (in <details>) is opened to show it.
        folded = [t for t in parsed(html).tags if t.name == "details" and "open" in t.attrs]
        assert folded or form == "new-content", path
    async with app.db.transaction() as session:
        kept_item = await session.get(ContentItem, item.id)
        kept_idea = await session.get(Suggestion, idea.id)
        assert kept_item is not None and kept_item.title == "Kept title"
        assert kept_idea is not None and kept_idea.status == "new" and kept_idea.hidden_at is None
        assert (await session.get(Digest, digest.id)).cron == "0 9 * * 1"  # type: ignore[union-attr]


async def test_a_reason_about_no_field_is_shown_at_the_top_of_its_form(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, ann, "An idea", platform="remote")
    await signed_in(app, browsers[0], "boss")
    csrf = await browsers[0].csrf("/console/suggestions")
    form = f"merge-{idea.id}"
    status, _, html = await browsers[0].post(
        f"/console/suggestions/{idea.id}/merge", {"csrf": csrf, "form": form, "into": str(idea.id)}
    )
    page = parsed(html)
    alert = page.by_id(f"{form}-error")
    assert status == 422 and alert.attrs["role"] == "alert" and "autofocus" in alert.attrs
    assert "cannot be merged into itself" in alert.text
    assert page.by_id(form).attrs["aria-describedby"] == alert.attrs["id"]
    inside = page.tags[page.index(page.by_id(form)) : page.index(alert)]
    assert not [t for t in inside if t.name in CONTROLS and t.attrs.get("type") != "hidden"]
    assert page.by_id(f"into-{idea.id}").attrs["value"] == str(idea.id)


async def test_a_refused_form_comes_back_on_the_board_view_it_was_sent_from(
    app: Application, browsers: list[Browser]
) -> None:
    """Answering a done idea from the Done view: refused, the page is that view again (not the
    open ideas, where the idea and what was typed for it would be nowhere)."""
    boss = await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, ann, "A done idea", platform="remote")
        await answer_suggestion(session, app.sealer, boss, idea.id, "Shipped.", status="done")
        await file_suggestion(session, app.sealer, ann, "An open idea", platform="remote")
    await signed_in(app, browsers[0], "boss")
    csrf = await browsers[0].csrf("/console/suggestions?status=done&sort=top")
    form = f"answer-{idea.id}"
    status, _, html = await browsers[0].post(
        f"/console/suggestions/{idea.id}/answer",
        {
            "csrf": csrf,
            "form": form,
            "board": "sort=top&status=done&page=1",
            "status": "declined",
            "text": "   ",
        },
    )
    assert status == 422
    reason, _ = refused_beside(html, f"text-{idea.id}")
    assert "empty" in reason
    # The one idea on the Done view, with the status that was chosen for it kept.
    chosen = [
        t.attrs["value"] for t in parsed(html).tags if t.name == "option" and "selected" in t.attrs
    ]
    assert chosen == ["declined", "", ""]  # the status kept; the KPI check's choices left empty
    assert "Done ideas, most voted first" in html and "An open idea" not in html


async def test_a_reason_whose_form_is_gone_is_shown_at_the_top_of_the_page(
    app: Application, browsers: list[Browser]
) -> None:
    """A draft deleted meanwhile: its form is no longer on the page to show the reason."""
    await make_member(app, "dana", role=Role.STRATEGIST)
    await signed_in(app, browsers[0], "dana")
    csrf = await browsers[0].csrf("/console/content")
    status, _, html = await browsers[0].post(
        "/console/content/999/approve", {"csrf": csrf, "form": "approve-draft-999"}
    )
    [alert] = [t for t in parsed(html).tags if t.attrs.get("role") == "alert"]
    assert status == 422 and alert.attrs["class"] == "refused"
    assert "There is no content #999" in alert.text


async def test_peoples_text_is_isolated_and_shown_in_the_order_it_was_written(
    app: Application, browsers: list[Browser]
) -> None:
    """U+202E (right-to-left override) before 'evil' showed it as 'live'; and an idea's or a
    name's direction leaked into the words around it."""
    await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        ann = await session.merge(ann)
        ann.display_name = "\u202eAnn\u202c שרה"
        idea = await file_suggestion(
            session, app.sealer, ann, "Stop the \u202eevil\u202c spam", platform="remote"
        )
        objective = await add_objective(session, OPERATOR, "rtl", "\u202eevil goal")
    await signed_in(app, browsers[0], "boss")
    _, board = await browsers[0].get("/console/suggestions")
    _, report = await browsers[0].get("/console/objectives")
    for html in (board, report):
        assert not re.search("[\u202a-\u202e]", html)  # stored as written, shown in order
    assert '<p dir="auto">Stop the evil spam</p>' in board
    assert "From <bdi>Ann שרה</bdi>, <bdi>Support</bdi>" in board
    assert f"<bdi>{objective.title.replace(chr(0x202E), '')}</bdi>" in report
    async with app.db.transaction() as session:
        assert (await session.get(Suggestion, idea.id)).text == "Stop the \u202eevil\u202c spam"  # type: ignore[union-attr]


async def test_the_objectives_chart_names_every_objective_in_full_and_keeps_legends_off_the_bars(
    app: Application,
) -> None:
    titles = [
        "Get every new customer live in their first week, with a named contact",
        "No surprises on a customer's invoice",
    ]
    async with app.db.transaction() as session:
        for number, title in enumerate(titles):
            await add_objective(session, OPERATOR, f"o{number}", title)
        await add_content(
            session, OPERATOR, "https://example.com/x", title="x", status=ContentStatus.APPROVED
        )
        report = await build_objectives_report(session, OPERATOR, app.sealer)
    for narrow in (False, True):
        figure = objectives_figure(report, narrow=narrow)
        renderer = figure.canvas.get_renderer()
        texts = [t.get_text() for axes in figure.axes for t in axes.get_yticklabels()]
        texts += [t.get_text() for axes in figure.axes for t in axes.texts]
        for title in titles:  # wrapped onto lines, never cut
            assert title in [" ".join(text.split()) for text in texts], (narrow, texts)
        legends = [(axes, axes.get_legend()) for axes in figure.axes if axes.get_legend()]
        assert len(legends) == 2
        for axes, legend in legends:
            assert not legend.get_window_extent(renderer).overlaps(axes.get_window_extent(renderer))
        [sentiment] = [
            legend for axes, legend in legends if "Customer sentiment" in axes.get_title()
        ]
        assert "this period, negative" in [t.get_text() for t in sentiment.get_texts()]
        width, height = figure.get_size_inches() * figure.dpi
        assert (width < 500 and height > width) if narrow else width > 1000
