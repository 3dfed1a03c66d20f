"""Employees bring customer voice in (issue 15): "Log as customer voice" on a Slack message (a
message shortcut) or a Teams message (a message action), and /voice in every adapter, each
through the customer-voice pipeline: personal data masked, themes, sentiment, urgent alerts,
counted as source "employee" and logged by the colleague. Customers' words never ping anyone."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.shell.mailbox import Mailbox
from adapters.shell.session import ShellSession
from adapters.teams.parse import VOICE_COMMAND, html_to_text
from bot.app import Application
from bot.config import Settings
from bot.domain import EMPLOYEE_VOICE_SOURCE
from bot.services.members import find_member
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.services.suggestions import file_suggestion
from bot.storage.models import IdeaEvidence, Suggestion, VoiceItem
from tests.conftest import make_member
from tests.slack_support import SlackStack, slack_stack, unescaped_markup, view_submission
from tests.teams_fake import adaptive_card_error
from tests.teams_support import (
    APP_ID,
    TENANT,
    TeamsStack,
    action,
    authenticated_teams_stack,
    cards_in,
    teams_stack,
    user,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ALERTS = "CALERTS"
ALICE = user("Alice")
CHANNEL = {
    "conversationType": "channel",
    "id": "19:support@thread.tacv2;messageid=1700000000000",
    "isGroup": True,
    "tenantId": TENANT,
}
LINK = "https://teams.microsoft.com/l/message/19:support@thread.tacv2/1700000000000"


async def voices(app: Application) -> list[VoiceItem]:
    async with app.db.transaction() as session:
        return list(await session.scalars(select(VoiceItem).order_by(VoiceItem.id)))


# ----- Slack ---------------------------------------------------------------------------------


@pytest.fixture
async def slack(settings: Settings) -> AsyncIterator[SlackStack]:
    async with slack_stack(settings, VOICE_ALERT_CHANNELS=f"slack:{ALERTS}") as stack:
        yield stack


def voice_shortcut(stack: SlackStack, text: str) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "log_customer_voice",
        "trigger_id": "trig.voice.1",
        "team": {"id": "T0001"},
        "user": {"id": "UALICE"},
        "channel": {"id": "CSALES", "name": "sales"},
        "message": {"type": "message", "user": "UCARL", "ts": "1700000456.000300", "text": text},
        "response_url": stack.fake.response_url("voice-shortcut"),
    }


async def test_a_slack_message_is_logged_as_customer_voice_from_its_shortcut(
    slack: SlackStack,
) -> None:
    slack.fake.add_user("UALICE", real_name="Alice Martin")
    said = (
        "From the Acme call <!channel>: they were charged twice and want a refund, "
        "write to jo@example.com &amp; <@U0BOSS>"
    )
    status, _ = await slack.interaction(voice_shortcut(slack, said))
    assert status == 200
    await slack.settle()
    [modal] = slack.fake.opened_views
    assert modal["callback_id"] == "voice"
    text_input = modal["blocks"][0]["element"]
    # Prefilled with the message as people read it, not Slack's markup.
    assert text_input["initial_value"] == (
        "From the Acme call @channel: they were charged twice and want a refund, "
        "write to jo@example.com & @U0BOSS"
    )
    link = json.loads(modal["private_metadata"])["source_url"]
    assert link.endswith("/archives/CSALES/p1700000456000300")

    await slack.interaction(
        view_submission(
            "UALICE", modal, {"text": text_input["initial_value"], "customer": "Acme Corp"}
        )
    )
    await slack.settle()
    [item] = await voices(slack.app)
    async with slack.app.db.transaction() as session:
        alice = await find_member(session, "slack", "UALICE")
    assert alice is not None
    assert (item.source, item.logged_by_id, item.customer, item.link) == (
        EMPLOYEE_VOICE_SOURCE,
        alice.id,
        "Acme Corp",
        link,
    )
    assert "jo@example.com" not in item.text and "[email]" in item.text  # scrubbed
    assert "billing" in item.themes and item.sentiment is not None
    # "refund" makes it urgent: one alert in the alert channel, and the colleague is told.
    [alert] = slack.fake.messages[ALERTS]
    assert "Urgent" in json.dumps(alert["blocks"])
    assert "logged in chat by Alice" in json.dumps(alert["blocks"])  # whom to ask
    confirmation = json.dumps(slack.fake.messages["DUALICE"][-1])
    assert f"Customer voice #{item.id} logged" in confirmation
    assert "urgent alert" in confirmation and "billing" in confirmation
    assert unescaped_markup(slack) == []


async def test_voice_in_slack_opens_the_form_prefilled_and_refuses_an_empty_answer_in_it(
    slack: SlackStack,
) -> None:
    await slack.command("/voice", "They love the new dashboard <!here>", "UBOB")
    await slack.settle()
    [modal] = slack.fake.opened_views
    assert modal["blocks"][0]["element"]["initial_value"] == "They love the new dashboard @here"
    status, body = await slack.interaction(view_submission("UBOB", modal, {"text": "   "}))
    assert status == 200
    assert json.loads(body)["errors"] == {
        "text": "Write what the customer said; it cannot be empty."
    }
    await slack.command("/voice", "x" * 3001, "UBOB")
    await slack.settle()
    refusal = json.dumps(slack.fake.calls_to("response_url")[-1].args)
    assert "3,001 characters; the most is 3,000" in refusal
    assert len(slack.fake.opened_views) == 1
    await slack.interaction(
        view_submission("UBOB", modal, {"text": "They love the new dashboard <!here>"})
    )
    await slack.settle()
    [item] = await voices(slack.app)
    assert item.source == EMPLOYEE_VOICE_SOURCE and "reporting" in item.themes
    assert ALERTS not in slack.fake.messages  # nothing urgent
    assert unescaped_markup(slack) == []


# ----- Teams ---------------------------------------------------------------------------------


def fetch_task(stack: TeamsStack, html: str) -> dict[str, Any]:
    """What Teams sends when someone picks "Log as customer voice" on a channel message."""
    return stack.activity(
        "invoke",
        ALICE,
        conversation=CHANNEL,
        name="composeExtension/fetchTask",
        value={
            "commandId": VOICE_COMMAND,
            "commandContext": "message",
            "context": {"theme": "default"},
            "messagePayload": {
                "id": "1700000000000",
                "messageType": "message",
                "from": {"user": {"id": "29:carl", "displayName": "Carl"}},
                "body": {"contentType": "html", "content": html},
                "linkToMessage": LINK,
            },
        },
    )


def submit_action(stack: TeamsStack, card: dict[str, Any], inputs: dict[str, Any]) -> dict:
    [submit] = card["actions"]
    return stack.activity(
        "invoke",
        ALICE,
        conversation=CHANNEL,
        name="composeExtension/submitAction",
        value={
            "commandId": VOICE_COMMAND,
            "commandContext": "message",
            "context": {"theme": "default"},
            "data": {**submit["data"], **inputs},
        },
    )


def task_card(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["task"]["type"] == "continue"
    card = answer["task"]["value"]["card"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert adaptive_card_error(card["content"]) is None
    return card["content"]


def inputs_of(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in card["body"] if item["type"].startswith("Input.")}


async def test_a_teams_message_is_logged_from_its_message_action_with_real_tokens(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    html = (
        "<p>Globex on the phone: <at>everyone</at> @everyone the <b>invoice</b> was wrong "
        "&amp; the refund took weeks</p><script>alert('x')</script><div>call +33 6 12 34 56 78"
        "</div>"
    )
    async with authenticated_teams_stack(settings, monkeypatch) as (teams, identity):
        teams.authorization = None
        status, _ = await teams.post(fetch_task(teams, html))
        assert status == 401  # no token: refused like any other request
        teams.authorization = "Bearer " + identity.issue_channel_token(
            APP_ID, teams.connector.service_url
        )
        status, answer = await teams.post(fetch_task(teams, html))
        assert status == 200
        card = task_card(answer)
        fields = inputs_of(card)
        prefilled = fields["text"]["value"]
        assert prefilled == html_to_text(html)
        assert "<" not in prefilled and "alert(" not in prefilled
        assert "everyone" in prefilled and "invoice" in prefilled

        # A refused answer comes back as the form, as it was filled in, with the reason.
        status, answer = await teams.post(
            submit_action(teams, card, {"text": " ", "customer": "Globex", "objective": "-"})
        )
        again = task_card(answer)
        assert "Write what the customer said" in json.dumps(again)
        assert inputs_of(again)["customer"]["value"] == "Globex"
        assert await voices(teams.app) == []

        submit = submit_action(
            teams, card, {"text": prefilled, "customer": "Globex", "objective": "-"}
        )
        status, answer = await teams.post(submit)
        assert status == 200 and answer["task"]["type"] == "message"
        status, repeat = await teams.post(submit)  # Teams retrying the same activity
        assert repeat["task"] == {"type": "message", "value": "Already received."}
        [item] = await voices(teams.app)
        assert f"Customer voice #{item.id} logged" in answer["task"]["value"]
        assert (item.source, item.customer, item.link) == (EMPLOYEE_VOICE_SOURCE, "Globex", LINK)
        assert "+33 6 12 34 56 78" not in item.text and "[phone]" in item.text
        assert "billing" in item.themes
        async with teams.app.db.transaction() as session:
            alice = await find_member(session, "teams", ALICE.aad, TENANT)
        assert alice is not None and item.logged_by_id == alice.id


async def test_voice_typed_in_teams_sends_the_form_card_and_logs_it(settings: Settings) -> None:
    async with teams_stack(settings) as teams:
        await teams.say(ALICE, "voice Setup took three weeks for us")
        form_message = teams.connector.activities[ALICE.conversation][-1]
        [form] = cards_in(form_message)
        assert adaptive_card_error(form) is None
        assert inputs_of_card(form)["text"]["value"] == "Setup took three weeks for us"
        status, _ = await teams.execute(
            ALICE,
            action(form, "Log it"),
            form_message["id"],
            inputs={"text": "Setup took three weeks for us", "customer": "", "objective": "-"},
        )
        assert status == 200
        [item] = await voices(teams.app)
        assert item.source == EMPLOYEE_VOICE_SOURCE and "onboarding" in item.themes


def inputs_of_card(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input."):
                found[node["id"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


# ----- the shell -----------------------------------------------------------------------------


async def test_voice_in_the_shell_asks_the_form_and_logs_it(
    app: Application, tmp_path: Path
) -> None:
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "reply-within-1h", "Answer within one hour")
    member = await make_member(app, "sam", platform="shell")
    out = io.StringIO()
    script = "/voice\nWe waited two days for an answer, email me at sam@example.org\nInitech\n2\n"
    session = ShellSession(
        app, Mailbox(tmp_path), "sam", stdin=io.StringIO(script), stdout=out, interactive=False
    )
    assert await session.run() == 0, out.getvalue()
    [item] = await voices(app)
    assert (item.source, item.logged_by_id, item.customer) == (
        EMPLOYEE_VOICE_SOURCE,
        member.id,
        "Initech",
    )
    assert "[email]" in item.text and "response time" in item.themes
    async with app.db.transaction() as session:
        [objective_id] = list(await session.scalars(select(VoiceItem.objective_id)))
    assert objective_id is not None
    assert f"Customer voice #{item.id} logged" in out.getvalue()
    # The receipt shows the words as colleagues will read them: the address masked.
    shown = " ".join(out.getvalue().replace("│", " ").split())
    assert "“We waited two days for an answer, email me at [email]”" in shown
    assert shown.count("sam@example.org") == 1  # only where it was typed


async def test_the_colleague_is_told_which_open_ideas_their_voice_weighs(
    app: Application, tmp_path: Path
) -> None:
    await make_member(app, "sam", platform="shell")
    out = io.StringIO()
    script = (
        "/suggest Add a callback option for enterprise customers when the chat queue is long\n"
        "/suggest Publish the API changelog every Friday\n"
        "/voice The chat queue was so long; as an enterprise customer I expect a callback option\n"
        "\n\n\n"
    )
    session = ShellSession(
        app, Mailbox(tmp_path), "sam", stdin=io.StringIO(script), stdout=out, interactive=False
    )
    assert await session.run() == 0, out.getvalue()
    receipt = out.getvalue().split("Customer voice #1 logged")[1]
    assert "It weighs 1 open idea as customer evidence: #1." in " ".join(receipt.split())
    assert "#2" not in receipt


async def test_the_same_words_logged_again_count_once(app: Application, tmp_path: Path) -> None:
    """A second press, or a second colleague who heard the same call, is not a second customer:
    counted twice, it would weigh an idea as two customers."""
    await make_member(app, "sam", platform="shell")
    await make_member(app, "kim", platform="shell")
    said = "We waited two days for an answer, email me at sam@example.org"
    for colleague, customer in (("sam", ""), ("sam", ""), ("kim", ""), ("kim", "Initech")):
        out = io.StringIO()
        script = f"/voice {said}\n\n{customer}\n\n"
        session = ShellSession(
            app,
            Mailbox(tmp_path),
            colleague,
            stdin=io.StringIO(script),
            stdout=out,
            interactive=False,
        )
        await session.run()
    items = await voices(app)
    assert [item.customer for item in items] == [None, "Initech"]
    assert "Customer voice #2 logged" in out.getvalue()  # another customer said the same
    out = io.StringIO()
    session = ShellSession(
        app,
        Mailbox(tmp_path),
        "sam",
        stdin=io.StringIO(f"/voice {said.upper()}\n\ninitech\n\n"),
        stdout=out,
        interactive=False,
    )
    assert await session.run() == 1
    assert len(await voices(app)) == 2
    shown = " ".join(out.getvalue().split())
    assert "from initech were already logged as customer voice #2 on" in shown
    assert "they count once" in shown


async def test_voice_a_colleague_logs_weighs_the_open_idea_that_says_the_same(
    app: Application, tmp_path: Path
) -> None:
    assert app.extensions.evidence is not None
    author = await make_member(app, "ann", platform="shell")
    async with app.db.transaction() as session:
        idea = await file_suggestion(
            session,
            app.sealer,
            author,
            "Staff the weekend support queue so weekend tickets get an answer before Monday.",
            platform="shell",
        )
        assert idea.evidence_count == 0
    await make_member(app, "sam", platform="shell")
    out = io.StringIO()
    script = (
        "/voice Nobody answered our ticket all weekend; staff the weekend support queue\n\n\n\n"
    )
    session = ShellSession(
        app, Mailbox(tmp_path), "sam", stdin=io.StringIO(script), stdout=out, interactive=False
    )
    assert await session.run() == 0, out.getvalue()
    [item] = await voices(app)
    async with app.db.transaction() as session:
        weighed = await session.get(Suggestion, idea.id)
        assert weighed is not None and weighed.evidence_count == 1
        linked = await session.scalars(
            select(IdeaEvidence.voice_item_id).where(IdeaEvidence.suggestion_id == idea.id)
        )
        assert list(linked) == [item.id]


# ----- what admins install -------------------------------------------------------------------


def test_the_slack_manifest_and_the_teams_package_declare_the_message_actions() -> None:
    import yaml

    from adapters.slack.adapter import VOICE_SHORTCUT_CALLBACK
    from adapters.teams.package import manifest

    slack = yaml.safe_load((Path(__file__).parents[2] / "adapters/slack/manifest.yaml").read_text())
    shortcuts = {s["callback_id"]: s for s in slack["features"]["shortcuts"]}
    assert shortcuts[VOICE_SHORTCUT_CALLBACK]["type"] == "message"
    assert shortcuts[VOICE_SHORTCUT_CALLBACK]["name"] == "Log as customer voice"
    assert "/voice" in {c["command"] for c in slack["features"]["slash_commands"]}
    teams = manifest("12345678-1234-1234-1234-123456789abc", "https://bot.example.com")
    [extension] = teams["composeExtensions"]
    assert extension["botId"] == teams["id"]
    [command] = [c for c in extension["commands"] if c["id"] == VOICE_COMMAND]
    assert (command["id"], command["type"], command["context"], command["fetchTask"]) == (
        VOICE_COMMAND,
        "action",
        ["message"],
        True,
    )
    assert len(command["title"]) <= 32
    assert "voice" in {c["title"] for c in teams["bots"][0]["commandLists"][0]["commands"]}
