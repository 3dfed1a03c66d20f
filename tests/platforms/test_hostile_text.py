"""Hostile text through the entry points and every renderer (property-based, hypothesis):
mentions and broadcast tokens, mrkdwn and Markdown control sequences, HTML and script, zero-width
and right-to-left characters, terminal escapes, SQL-looking text, very long strings. Nothing
crashes, nothing pings, nothing is injected, and a refusal is a clear one-line message."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import time
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from adapters.shell.render import ActionNumbers, render_message
from adapters.slack.blocks import fallback_text, render_blocks
from adapters.teams.cards import render_parts
from bot.app import Application
from bot.chat.voice_commands import voice_receipt
from bot.compose.suggestion_cards import announcement, receipt, rollup_message, voting_card
from bot.config import Settings
from bot.console.web import TEMPLATE_OPTIONS, prepare_templates
from bot.events import CommandInvoked
from bot.messages import Message
from bot.plugins import VoiceLogged
from bot.services.members import add_member, find_member
from bot.services.permissions import OPERATOR
from bot.services.rollups import Rollup, RollupRow
from bot.services.suggestions import MAX_SUGGESTION
from bot.storage.models import Member, Suggestion, Team
from bot.storage.types import utcnow
from bot.text_safety import csv_cell
from tests.conftest import actor, make_member
from tests.slack_fake import check_blocks
from tests.slack_support import MENTION_MARKUP, SIGNING_SECRET, TEAM, slack_stack
from tests.teams_fake import adaptive_card_error
from tests.teams_support import teams_stack

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0123ABC>",
    "<#C0123|general>",
    "<!subteam^S123>",
    "@channel",
    "<at>Everyone</at>",
    "*bold* _it_ ~strike~ `code`",
    "```block```",
    "[click](https://evil.example.com)",
    "<https://evil.example.com|innocent>",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "&amp; &lt; &gt;",
    "\u200b\u200c\u200d\ufeff",
    "\u202e\u2066\u2067",
    "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "'; DROP TABLE suggestions; --",
    '=HYPERLINK("http://evil")',
    "+cmd|' /C calc'!A0",
    "\r\n\t",
    "{{ 7 * 7 }} {% raw %}",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30)), min_size=1, max_size=12
).map("".join)
FAST = settings(max_examples=60, deadline=None)


def idea(text: str, anonymous: bool = False) -> Suggestion:
    suggestion = Suggestion(
        id=7, text=text, anonymous=anonymous, status="new", platform="remote", vote_count=2
    )
    suggestion.author = None if anonymous else Member(id=1, display_name=text[:200] or "x")
    suggestion.team = Team(id=1, name=text[:100] or "t")
    suggestion.objective = None
    return suggestion


def messages(text: str) -> list[Message]:
    named, anonymous = idea(text), idea(text, anonymous=True)
    # A rollup names objectives by the title a strategist typed, and teams by their names.
    rows = [RollupRow("objective-key", total=3, title=text[:200]), RollupRow(text[:100], total=2)]
    rollup = Rollup("objective", None, utcnow(), "all teams", rows, RollupRow("total"), [])
    return [
        receipt(named),
        announcement(named),
        Message(fallback=text, cards=(voting_card(anonymous),)),
        rollup_message(rollup, "all time"),
        # A colleague's logged voice, quoted back to them.
        voice_receipt(VoiceLogged(item_id=3, themes=(), sentiment="mixed", text=text)),
    ]


def _mrkdwn_texts(node: Any, inside: bool = False) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        mrkdwn = node.get("type") == "mrkdwn"
        for key, value in node.items():
            if key == "text" and isinstance(value, str) and (mrkdwn or inside):
                found.append(value)
            else:
                found += _mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            found += _mrkdwn_texts(item)
    return found


@FAST
@given(hostile_text)
def test_slack_blocks_never_ping_and_stay_valid(text: str) -> None:
    for message in messages(text):
        blocks = render_blocks(message)
        check_blocks(blocks, limit=50)  # what slack_sdk and Slack would accept
        for shown in [*_mrkdwn_texts(blocks), fallback_text(message)]:
            assert not any(marker in shown for marker in MENTION_MARKUP), shown


def _of_type(node: Any, kind: str) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == kind else []
        return found + [x for value in node.values() for x in _of_type(value, kind)]
    if isinstance(node, list):
        return [x for item in node for x in _of_type(item, kind)]
    return []


@FAST
@given(hostile_text)
def test_teams_cards_never_mention_and_stay_valid(text: str) -> None:
    for message in messages(text):
        for card in render_parts(message):
            assert adaptive_card_error(card) is None
            # A Teams mention needs an entity; the bot never adds one for people's text.
            assert not card.get("msteams", {}).get("entities")
            # People's words go into TextRuns, which Teams shows as plain text; a TextBlock
            # (Markdown) never carries them raw.
            for block in _of_type(card, "TextBlock"):
                assert "<at>" not in block["text"] and "](" not in block["text"], block


@FAST
@given(hostile_text)
@example("\u202eevil")
def test_the_terminal_shows_no_escape_sequences(text: str) -> None:
    for message in messages(text):
        shown = render_message(message, ActionNumbers())
        assert "\x1b" not in shown and "\x07" not in shown
        # Nor a direction override, which would show "evil" as "live" in the terminal too.
        assert not set(shown) & {chr(c) for c in range(0x202A, 0x202F)}


@FAST
@given(hostile_text)
def test_console_html_escapes_everything(text: str) -> None:
    environment = jinja2.Environment(**TEMPLATE_OPTIONS)  # the console's own, translated
    prepare_templates(environment)
    html = environment.get_template("error.html").render(title=text, text=text, pages=[])
    body = html.split("<main", 1)[1]
    assert "<script" not in body and "<img" not in body and "{{ 7" not in body.replace("{{ 7 *", "")


@FAST
@given(hostile_text)
def test_csv_cells_cannot_become_formulas(text: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([csv_cell(text)])
    [cell] = next(csv.reader(io.StringIO(buffer.getvalue())))
    assert not cell or cell[0] not in "=+-@\t\r"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=hostile_text)
async def test_hostile_ideas_are_kept_as_written_or_refused_clearly(
    app: Application, text: str
) -> None:
    async with app.db.transaction() as session:  # hypothesis reuses the fixture's app
        if await find_member(session, "remote", "eve") is None:
            await add_member(session, OPERATOR, "remote", "eve", platforms=["remote"])
    reply = await app.router.handle(
        CommandInvoked(actor("eve"), command="suggest", text=text + " (idea)")
    )
    if reply.error:
        assert "\n" not in reply.error and len(reply.error) < 300
    else:
        [message] = reply.messages
        assert message.cards[0].title.startswith("Suggestion #")


async def test_a_megabyte_idea_is_refused_with_the_limit(app: Application) -> None:
    await make_member(app, "eve")
    reply = await app.router.handle(
        CommandInvoked(actor("eve"), command="suggest", text="x" * 1_000_000)
    )
    assert reply.error and f"the limit is {MAX_SUGGESTION}" in reply.error


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=x", "plain"])
def test_csv_cell(value: str) -> None:
    cell = csv_cell(value)
    assert cell == value if value == "plain" else cell == "'" + value


async def test_invalid_utf8_to_the_slack_endpoint_is_refused_not_crashed(
    settings: Settings,
) -> None:
    """Bytes that are not UTF-8, signed with the real secret: as a raw body, a 400 saying so
    (slack-bolt alone answers 500); percent-encoded in a form field, an idea like any other."""
    async with slack_stack(settings, ideas_channel=False) as slack:
        slack.fake.add_user("UEVE", real_name="Eve")
        raw = b"command=%2Fsuggest&user_id=UEVE&team_id=" + TEAM.encode() + b"&text=caf\xe9+\xff"
        stamp = str(int(time.time()))
        signature = (
            "v0="
            + hmac.new(
                SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256
            ).hexdigest()
        )
        async with slack.session.post(
            slack.url,
            data=raw,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature,
            },
        ) as response:
            assert response.status == 400 and "not UTF-8" in await response.text()
        # Percent-encoded, the bytes reach Bolt as text with the bad ones replaced: kept.
        status, _ = await slack.command("/suggest", "caf%E9 %FF idea", "UEVE")
        assert status == 200
        await slack.settle()
        async with slack.app.db.transaction() as session:
            assert await session.scalar(select(Suggestion.text)) is not None


async def test_invalid_utf8_to_the_teams_endpoint_is_refused_not_crashed(
    settings: Settings,
) -> None:
    async with (
        teams_stack(settings) as teams,
        teams.session.post(
            teams.url,
            data=b'{"type": "message", "text": "caf\xe9 \xff"}',
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 400 and "not UTF-8" in await response.text()
