"""Customer evidence weighs ideas: the customer voice that says what an idea says is found when
the idea is filed and as voice arrives, counted by customer with its main theme, shown (scrubbed,
escaped) on the idea's cards, the board, the rollup and the console, sorts the board, and once
the idea is done its theme is watched in the objectives report."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from adapters.slack.blocks import fallback_text, render_blocks
from adapters.teams.cards import render_parts
from bot.app import Application
from bot.cli.main import cli
from bot.compose.suggestion_cards import voting_card
from bot.config import Settings
from bot.domain import Role
from bot.events import CommandInvoked
from bot.messages import Message
from bot.plugins import load_extensions
from bot.services.members import get_member
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.rollups import build_rollup
from bot.services.suggestion_evidence import (
    LexicalMatcher,
    evidence_summaries,
    find_evidence,
    uncached_terms,
)
from bot.services.suggestion_moderation import merge_suggestions
from bot.services.suggestions import answer_suggestion
from bot.services.theme_watch import watch_themes
from bot.services.voice_index import voice_index_for
from bot.storage.models import IdeaEvidence, Suggestion, SuggestionResponse, VoiceItem
from bot.storage.types import utcnow
from content.settings import content_settings
from content.voice.evidence import EmbeddingMatcher, embeddings_installed, themes_of, weigh_stored
from content.voice.pipeline import AlertRules, VoicePipeline, VoiceRecord
from content.voice.scrub import scrub
from content.voice.themes import Taxonomy
from tests.conftest import SECRET, actor, make_member
from tests.operations.test_console import Browser, browsers, server, signed_in  # noqa: F401 (fixtures)
from tests.slack_support import MENTION_MARKUP
from tests.teams_fake import adaptive_card_error

REFUNDS = [
    ("acme", "Still waiting for my refund after three weeks, this is slow."),
    ("acme", "My refund request has been waiting for weeks."),
    ("globex", "The refund for the double charge never arrived, weeks later."),
    (None, "Refund requests take forever to be processed."),
]
UNRELATED = [
    ("initech", "The dashboard export is broken since Monday."),
    ("umbrella", "Love the onboarding guide, very clear."),
    ("hooli", "Please add a dark mode to the mobile app."),
    ("stark", "Support answered in ten minutes, brilliant."),
    ("wayne", "The invoice layout is confusing and the PDF is ugly."),
    ("wonka", "Search does not find older messages."),
    ("tyrell", "Your prices went up without notice."),
    ("cyberdyne", "The app crashes when I upload a photo."),
]
IDEA = "Process refund requests faster: customers wait weeks for a refund."


async def store_voice(
    app: Application,
    texts: Sequence[tuple[str | None, str]],
    *,
    days_ago: float = 1,
    prefix: str = "t",
) -> list[dict[str, Any]]:
    """Customer voice through the real pipeline (themes, sentiment), then weighed against the
    open ideas as every import does."""
    received = utcnow() - timedelta(days=days_ago)
    records = [
        VoiceRecord(
            line=n,
            source="helpdesk",
            external_id=f"{prefix}{n}",
            text=text,
            customer=customer,
            received_at=received,
        )
        for n, (customer, text) in enumerate(texts, start=1)
    ]
    taxonomy = content_settings(app.settings).taxonomy()
    async with app.db.transaction() as session:
        pipeline = await VoicePipeline.load(session, taxonomy, AlertRules())
        report = await pipeline.store(session, records, sealer=app.sealer)
    await weigh_stored(app.db, app.extensions.evidence, report.stored)
    return report.stored


async def suggest(app: Application, user: str, text: str) -> Suggestion:
    reply = await app.router.handle(CommandInvoked(actor(user), command="suggest", text=text))
    assert reply.error is None, reply.error
    number = int(re.search(r"#(\d+)", reply.messages[0].cards[0].title).group(1))
    async with app.db.transaction() as session:
        return await session.get_one(Suggestion, number)


async def evidence_of(app: Application, idea_id: int) -> dict[int, str | None]:
    async with app.db.transaction() as session:
        rows = await session.execute(
            select(VoiceItem.external_id, IdeaEvidence.theme)
            .join(IdeaEvidence, IdeaEvidence.voice_item_id == VoiceItem.id)
            .where(IdeaEvidence.suggestion_id == idea_id)
        )
        return dict(rows.all())


# ----- matching ---------------------------------------------------------------------------------


async def test_a_filed_idea_finds_the_customers_who_said_the_same_and_not_the_others(
    app: Application,
) -> None:
    await make_member(app, "ann")
    await store_voice(app, [*REFUNDS, *UNRELATED])
    # The same complaint from long ago is history, not evidence.
    await store_voice(app, [("old", "My refund took weeks to arrive.")], days_ago=400, prefix="o")

    idea = await suggest(app, "ann", IDEA)

    found = await evidence_of(app, idea.id)
    assert set(found) == {"t1", "t2", "t3", "t4"}
    assert set(found.values()) == {"billing"}  # the theme idea and customers share
    # Customers, not tickets: acme wrote twice; an item with no customer named counts once.
    assert idea.evidence_count == 3 and idea.evidence_theme == "billing"


async def test_the_receipt_and_the_channel_card_show_the_evidence(app: Application) -> None:
    await make_member(app, "ann")
    await store_voice(app, [*REFUNDS, *UNRELATED])
    reply = await app.router.handle(CommandInvoked(actor("ann"), command="suggest", text=IDEA))
    facts = {f.label: f.value for f in reply.messages[0].cards[0].facts}
    assert facts["Customer evidence"] == "3 customers said something similar (theme: billing)"
    assert facts["A customer said"].startswith("“") and "refund" in facts["A customer said"]
    assert "Another said" in facts


async def test_the_same_words_from_two_customers_are_quoted_once(app: Application) -> None:
    """Two customers (or a ticket and a colleague's note of it) in the same words: the card's
    two quotes are two different things said, not one twice."""
    await make_member(app, "ann")
    same = "Still waiting for my refund after three weeks, this is slow and weeks late."
    await store_voice(app, [("acme", same), ("globex", same.upper()), *REFUNDS[2:]])
    idea = await suggest(app, "ann", IDEA)
    async with app.db.transaction() as session:
        summary = (await evidence_summaries(session, [idea], scrub))[idea.id]
    first, second = summary.quotes
    assert first.casefold() != second.casefold()


async def test_new_voice_weighs_the_open_ideas_it_says_the_same_as(app: Application) -> None:
    await make_member(app, "ann")
    await make_member(app, "boss", role=Role.MANAGER)
    idea = await suggest(app, "ann", IDEA)
    closed = await suggest(app, "ann", "Refund requests should be processed in a day.")
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        await answer_suggestion(session, app.sealer, boss, closed.id, "No", status="declined")
    assert idea.evidence_count == 0

    await store_voice(app, [*REFUNDS, *UNRELATED])

    assert set(await evidence_of(app, idea.id)) == {"t1", "t2", "t3", "t4"}
    assert await evidence_of(app, closed.id) == {}  # a declined idea gathers no more
    async with app.db.transaction() as session:
        again = await session.get_one(Suggestion, idea.id)
        assert (again.evidence_count, again.evidence_theme) == (3, "billing")
    # Arriving again (a re-sent batch) changes nothing.
    await store_voice(app, REFUNDS)
    async with app.db.transaction() as session:
        assert (await session.get_one(Suggestion, idea.id)).evidence_count == 3


async def test_a_voice_import_from_the_cli_weighs_open_ideas(
    app: Application, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not app.settings.database_url.startswith("sqlite"):
        pytest.skip("the CLI is pointed at the test's SQLite file")
    await make_member(app, "ann")
    idea = await suggest(app, "ann", IDEA)
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "created_at", "customer", "comment"])
        for n, (customer, text) in enumerate([*REFUNDS, *UNRELATED], start=1):
            writer.writerow([n, utcnow().date().isoformat(), customer or "", text])
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("ADVOCACY_SECRET_KEY", SECRET)
    monkeypatch.setenv("ADVOCACY_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, cli, ["voice", "import", str(path), "--source", "desk", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert set(await evidence_of(app, idea.id)) == {"1", "2", "3", "4"}

    listed = await asyncio.to_thread(
        runner.invoke, cli, ["suggestions", "evidence", str(idea.id), "--json"]
    )
    detail = json.loads(listed.stdout)
    assert detail["headline"] == "3 customers said something similar (theme: billing)"
    assert len(detail["items"]) == 4 and "author" not in detail


async def test_merging_an_idea_brings_its_evidence_to_the_one_it_joins(app: Application) -> None:
    await make_member(app, "ann")
    await make_member(app, "boss", role=Role.ADMIN, team=None)
    await store_voice(app, [*REFUNDS, *UNRELATED])
    refunds = await suggest(app, "ann", IDEA)
    dashboard = await suggest(app, "ann", "Fix the dashboard export, it keeps breaking.")
    assert set(await evidence_of(app, dashboard.id)) == {"t5"}  # t5: the broken export
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        await merge_suggestions(session, app.sealer, boss, refunds.id, dashboard.id)
    assert set(await evidence_of(app, dashboard.id)) == {"t1", "t2", "t3", "t4", "t5"}
    async with app.db.transaction() as session:
        assert (await session.get_one(Suggestion, dashboard.id)).evidence_count == 4


async def test_an_anonymous_ideas_time_stays_to_the_hour_with_its_evidence(
    app: Application,
) -> None:
    await make_member(app, "ann")
    await store_voice(app, [*REFUNDS, *UNRELATED])
    idea = await suggest(app, "ann", f"--anonymous {IDEA}")
    await store_voice(app, [("initech", "Refund requests wait weeks, please fix.")], prefix="n")
    async with app.db.transaction() as session:
        again = await session.get_one(Suggestion, idea.id)
    assert again.anonymous and again.evidence_count == 4
    assert again.updated_at.minute == again.updated_at.second == 0


async def test_refresh_looks_again_and_drops_what_no_longer_matches(app: Application) -> None:
    await make_member(app, "ann")
    await store_voice(app, REFUNDS)
    idea = await suggest(app, "ann", IDEA)
    strict = LexicalMatcher(lambda text: (), no_theme=0.99)
    async with app.db.transaction() as session:
        await find_evidence(session, strict, await session.get_one(Suggestion, idea.id), fresh=True)
    assert await evidence_of(app, idea.id) == {}
    async with app.db.transaction() as session:
        assert (await session.get_one(Suggestion, idea.id)).evidence_count == 0


# ----- showing ----------------------------------------------------------------------------------

HOSTILE = [
    ("acme", "<!channel> my refund is late and missing, mail jo@example.com <@U123> &amp;"),
    ("globex", "@everyone <at>Everyone</at> refund late and missing [x](https://evil.example)"),
]


async def hostile_card(app: Application) -> Message:
    await make_member(app, "ann")
    await store_voice(app, UNRELATED, prefix="u")
    await store_voice(app, HOSTILE)
    idea = await suggest(app, "ann", "Refunds arrive late or go missing: fix the refund process.")
    async with app.db.transaction() as session:
        idea = await session.get_one(Suggestion, idea.id)
        summary = (await evidence_summaries(session, [idea], scrub))[idea.id]
    assert summary.count == 2 and len(summary.quotes) == 2
    assert all("jo@example.com" not in q for q in summary.quotes)  # scrubbed
    return Message(fallback="idea", cards=(voting_card(idea, evidence=summary),))


def _mrkdwn(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "mrkdwn" else []
        return found + [t for value in node.values() for t in _mrkdwn(value)]
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn(item)]
    return []


async def test_customer_quotes_on_a_slack_card_ping_nobody(app: Application) -> None:
    message = await hostile_card(app)
    blocks = render_blocks(message)
    shown = _mrkdwn(blocks)
    assert any("2 customers said something similar" in text for text in shown)
    assert any("&lt;!channel&gt;" in text for text in shown)
    for text in [*shown, fallback_text(message)]:
        assert not any(marker in text for marker in MENTION_MARKUP), text
        assert "jo@example.com" not in text


async def test_customer_quotes_on_a_teams_card_mention_nobody(app: Application) -> None:
    message = await hostile_card(app)
    [card] = render_parts(message)
    assert adaptive_card_error(card) is None
    assert not card.get("msteams", {}).get("entities")
    body = json.dumps(card)
    assert "2 customers said something similar" in body and "@everyone" in body
    assert "jo@example.com" not in body

    def text_blocks(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["text"]] if node.get("type") == "TextBlock" else []
            return own + [t for value in node.values() for t in text_blocks(value)]
        if isinstance(node, list):
            return [t for item in node for t in text_blocks(item)]
        return []

    for text in text_blocks(card):  # Markdown blocks never carry customers' words raw
        assert "<at>" not in text and "](" not in text, text


async def test_without_a_scrubber_no_customer_words_are_shown(app: Application) -> None:
    await make_member(app, "ann")
    await store_voice(app, [*REFUNDS, *UNRELATED])
    idea = await suggest(app, "ann", IDEA)
    async with app.db.transaction() as session:
        summary = (await evidence_summaries(session, [idea], None))[idea.id]
    assert summary.count == 3 and summary.quotes == ()


# ----- sorting ----------------------------------------------------------------------------------


async def three_ideas(app: Application) -> list[Suggestion]:
    """Ideas with no, some (1 customer) and most (3) evidence, filed in that order... oldest is
    the most backed, so newest-first and evidence-first differ."""
    await make_member(app, "ann")
    await store_voice(app, [*REFUNDS, *UNRELATED])
    most = await suggest(app, "ann", IDEA)
    some = await suggest(app, "ann", "Fix the dashboard export, it keeps breaking.")
    none = await suggest(app, "ann", "Free coffee on Fridays.")
    return [most, some, none]


async def test_the_chat_board_sorts_by_customer_evidence(app: Application) -> None:
    most, some, none = await three_ideas(app)
    reply = await app.router.handle(
        CommandInvoked(actor("ann"), command="suggestions", text="evidence")
    )
    [message] = reply.messages
    titles = [c.title for c in message.cards]
    assert titles[0] == "Open ideas, most customer evidence first"
    assert titles[1:4] == [f"Suggestion #{i.id}" for i in (most, some, none)]
    labels = [b.label for b in message.cards[0].buttons]
    assert "Most customers" in labels
    facts = {f.label: f.value for f in message.cards[1].facts}
    assert facts["Customer evidence"] == "3 customers said something similar (theme: billing)"


async def test_the_cli_lists_ideas_by_customer_evidence(
    app: Application, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not app.settings.database_url.startswith("sqlite"):
        pytest.skip("the CLI is pointed at the test's SQLite file")
    most, some, none = await three_ideas(app)
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("ADVOCACY_SECRET_KEY", SECRET)
    monkeypatch.setenv("ADVOCACY_DATA_DIR", str(tmp_path / "data"))
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["suggestions", "list", "--sort", "evidence", "--json"]
    )
    listed = json.loads(result.stdout)
    assert [r["id"] for r in listed] == [most.id, some.id, none.id]
    assert [r["customers"] for r in listed] == [3, 1, 0]
    newest = await asyncio.to_thread(CliRunner().invoke, cli, ["suggestions", "list", "--json"])
    assert [r["id"] for r in json.loads(newest.stdout)] == [none.id, some.id, most.id]


async def test_the_console_board_sorts_by_evidence_and_shows_quotes(
    app: Application,
    browsers: list[Browser],  # noqa: F811 (the console tests' fixture)
) -> None:
    await make_member(app, "boss", role=Role.ADMIN, team=None)
    most, some, none = await three_ideas(app)
    await signed_in(app, browsers[0], "boss")
    status, html = await browsers[0].get("/console/suggestions?sort=evidence")
    assert status == 200
    ids = [int(n) for n in re.findall(r'id="idea-(\d+)"', html)]
    assert ids == [most.id, some.id, none.id]
    assert "3 customers said something similar (theme: billing)" in html
    assert "Still waiting for my refund" in html or "Where is my refund" in html
    assert 'aria-current="true">Most customers</a>' in html


async def test_the_rollup_shows_the_waiting_ideas_customers_back(app: Application) -> None:
    most, some, _ = await three_ideas(app)
    async with app.db.transaction() as session:
        rollup = await build_rollup(session, OPERATOR, app.sealer, scrub=scrub)
    assert [s.id for s in rollup.most_evidence] == [most.id, some.id]
    assert rollup.evidence[most.id].headline.startswith("3 customers")
    assert len(rollup.evidence[most.id].quotes) == 2


# ----- theme watch ------------------------------------------------------------------------------


async def test_a_done_ideas_theme_is_watched_before_and_after(app: Application) -> None:
    await make_member(app, "ann")
    await make_member(app, "boss", role=Role.ADMIN, team=None)
    await store_voice(app, [*REFUNDS, *UNRELATED], days_ago=5, prefix="recent")
    idea = await suggest(app, "ann", IDEA)
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        await answer_suggestion(session, app.sealer, boss, idea.id, "Shipped", status="done")
        # Done ten days ago: the windows are ten days either side.
        done = utcnow() - timedelta(days=10)
        await session.execute(
            update(SuggestionResponse)
            .where(SuggestionResponse.suggestion_id == idea.id)
            .values(created_at=done)
        )
    # Billing voice: 3 items in the 10 days before (one more 15 days before it), 6 after.
    await store_voice(
        app,
        [("a", "Refund missing, awful."), ("b", "Charged twice, terrible."), ("c", "Bad invoice.")],
        days_ago=12,
        prefix="before",
    )
    await store_voice(app, [("d", "Invoice wrong.")], days_ago=25, prefix="older")
    async with app.db.transaction() as session:
        [watch] = await watch_themes(session, timedelta(days=30), utcnow())
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    assert watch.suggestion_id == idea.id and watch.theme == "billing"
    assert round(watch.window.total_seconds() / 86_400) == 10
    # 4 refunds, an invoice and prices that went up.
    assert (watch.before.count, watch.after.count) == (3, 6)
    assert watch.before.sentiment is not None and watch.before.sentiment < 0
    [shown] = report.watched_themes
    assert (shown.suggestion_id, shown.before, shown.after) == (idea.id, watch.before, watch.after)

    reply = await app.router.handle(CommandInvoked(actor("boss"), command="report", text=""))
    [card] = [c for c in reply.messages[0].cards if c.title.startswith("Customer themes")]
    assert f"#{idea.id}" in card.text and "billing went from 3 items" in card.text
    assert "to 6 items" in card.text and "10 days" in card.text


async def test_an_idea_done_just_now_is_too_early_to_compare(app: Application) -> None:
    await make_member(app, "ann")
    await make_member(app, "boss", role=Role.ADMIN, team=None)
    await store_voice(app, [*REFUNDS, *UNRELATED])
    idea = await suggest(app, "ann", IDEA)
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        await answer_suggestion(session, app.sealer, boss, idea.id, "Shipped", status="done")
        [watch] = await watch_themes(session, timedelta(days=30), utcnow())
    assert watch.too_early


# ----- which matcher ----------------------------------------------------------------------------


def test_the_start_up_log_says_which_matcher_matches_customer_evidence(
    settings: Settings,
) -> None:
    extensions = load_extensions(settings)
    summary = extensions.summaries["content"]
    assert extensions.evidence is not None
    assert f"customer evidence matched by {extensions.evidence.name}" in summary
    if embeddings_installed():
        assert isinstance(extensions.evidence, EmbeddingMatcher)
    else:
        assert extensions.evidence.name == "lexical" and "install the embeddings extra" in summary
    off = load_extensions(replace(settings, env={**settings.env, "EVIDENCE_MATCHER": "lexical"}))
    assert not isinstance(off.evidence, EmbeddingMatcher)


PARAPHRASE = ("wayne", "It has been a month and I still have not been reimbursed for the return.")
needs_embeddings = pytest.mark.skipif(
    not embeddings_installed(), reason="the embeddings extra is not installed"
)


@needs_embeddings
async def test_embeddings_find_a_paraphrase_that_shares_no_word(app: Application) -> None:
    await store_voice(app, [*REFUNDS, *UNRELATED, PARAPHRASE])
    # Paraphrases score 0.3 to 0.5 with this model (benchmarks/evidence_quality.py): the test
    # checks the mechanism at a bar below this one's, not where the bar is.
    matcher = EmbeddingMatcher(themes_of(Taxonomy.load()), threshold=0.4)
    lexical = LexicalMatcher(themes_of(Taxonomy.load()))
    async with app.db.transaction() as session:
        ids = dict((await session.execute(select(VoiceItem.external_id, VoiceItem.id))).all())
        by_meaning = {m.voice_item_id for m in await matcher.for_idea(session, IDEA, utcnow())}
        by_words = {m.voice_item_id for m in await lexical.for_idea(session, IDEA, utcnow())}
    paraphrase = ids[f"t{len(REFUNDS) + len(UNRELATED) + 1}"]
    assert paraphrase in by_meaning and paraphrase not in by_words
    assert {ids[f"t{n}"] for n in range(1, 5)} <= by_meaning
    assert ids["t7"] not in by_meaning  # a dark mode for the app


@needs_embeddings
async def test_embeddings_weigh_open_ideas_when_a_paraphrase_arrives(app: Application) -> None:
    await make_member(app, "ann")
    await store_voice(app, UNRELATED, prefix="u")
    idea = await suggest(app, "ann", IDEA)
    app.extensions.evidence = EmbeddingMatcher(themes_of(Taxonomy.load()))
    await store_voice(app, [("wayne", "Still no refund: I want my money back, it has been ages.")])
    assert set(await evidence_of(app, idea.id)) == {"t1"}


async def test_the_server_warms_the_voice_index_outside_any_request(app: Application) -> None:
    await store_voice(app, [*REFUNDS, *UNRELATED])
    await store_voice(app, [("old", "My refund took weeks to arrive.")], days_ago=400, prefix="o")
    [job] = [
        factory(app) for factory in app.extensions.jobs if factory(app).name == "evidence-index"
    ]
    await job.run()
    index = voice_index_for(app.db, uncached_terms)
    assert index.count == len(REFUNDS) + len(UNRELATED)  # the old item is out of the window
    await make_member(app, "ann")
    idea = await suggest(app, "ann", IDEA)
    assert idea.evidence_count == 3
