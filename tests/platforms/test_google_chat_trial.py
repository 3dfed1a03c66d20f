"""Defects found trying Google Chat as its admin, employees and managers would (issue 16's
trial): settings an operator gets wrong are named in the start-up status, never a traceback
or a server that will not start."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.google_chat import GoogleChatAdapterFactory
from bot.config import ChannelRef, Settings
from bot.messages import Message
from bot.platform import DeliveryTarget
from tests.google_chat_support import GoogleChatStack, google_chat_stack, readable_text

PUBLIC = "https://advocacy.example.com"


def status(env: dict[str, str]) -> tuple[bool, str, bool]:
    found = GoogleChatAdapterFactory().status(Settings(public_url=PUBLIC, env=env))
    return found.enabled, found.reason, found.warning


def key_file(directory: Path, **changes: object) -> str:
    from tests.google_chat_fake import _key_pair

    _, pem, _ = _key_pair("trial")
    info = {
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "bot@p.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
        **changes,
    }
    path = directory / "key.json"
    path.write_text(json.dumps(info))
    return str(path)


@pytest.mark.parametrize("content", ["[1, 2]", '"a string"', "null", "42"])
def test_a_key_file_that_is_json_but_not_an_object_is_named_not_a_traceback(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    enabled, reason, warning = status({"GOOGLE_CHAT_SERVICE_ACCOUNT_FILE": str(path)})
    assert not enabled and warning
    assert "is not a service account key" in reason


def test_a_key_whose_private_key_is_broken_disables_google_chat_by_name(tmp_path: Path) -> None:
    broken = "-----BEGIN PRIVATE KEY-----\nnotakey\n-----END PRIVATE KEY-----\n"
    path = key_file(tmp_path, private_key=broken)
    enabled, reason, warning = status({"GOOGLE_CHAT_SERVICE_ACCOUNT_FILE": path})
    assert not enabled and warning
    assert "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE" in reason and "private_key" in reason


def test_a_project_number_audience_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    enabled, reason, warning = status(
        {
            "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE": key_file(tmp_path),
            "GOOGLE_CHAT_AUDIENCE_TYPE": "project_number",
            "GOOGLE_CHAT_AUDIENCE": f"{PUBLIC}/google-chat/events",
        }
    )
    assert not enabled and warning and "project number" in reason


def test_an_endpoint_url_audience_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    enabled, reason, warning = status(
        {
            "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE": key_file(tmp_path),
            "GOOGLE_CHAT_AUDIENCE": "123456789012",
        }
    )
    assert not enabled and warning
    assert "GOOGLE_CHAT_AUDIENCE_TYPE=project_number" in reason


def test_a_misspelt_setting_is_named_with_the_one_meant() -> None:
    enabled, reason, warning = status({"GOOGLE_CHAT_SERVICE_ACOUNT_FILE": "/etc/key.json"})
    assert not enabled and warning
    assert "GOOGLE_CHAT_SERVICE_ACOUNT_FILE" in reason
    assert "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE" in reason


def test_a_misspelt_setting_beside_a_good_key_is_still_named(tmp_path: Path) -> None:
    enabled, reason, warning = status(
        {
            "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE": key_file(tmp_path),
            "GOOGLE_CHAT_AUDIENCE_TYP": "project_number",
        }
    )
    assert enabled and warning
    assert "GOOGLE_CHAT_AUDIENCE_TYP " in reason and "GOOGLE_CHAT_AUDIENCE_TYPE" in reason


@pytest.fixture
async def chat(sqlite_settings: Settings) -> AsyncIterator[GoogleChatStack]:
    async with google_chat_stack(sqlite_settings) as stack:
        yield stack


@pytest.mark.parametrize("written", ["google_chat:spaces/AAAAideas", "google_chat:AAAAideas"])
async def test_a_space_in_suggestions_channels_is_reached_as_the_readme_names_it(
    chat: GoogleChatStack, written: str
) -> None:
    """``SUGGESTIONS_CHANNELS=google_chat:spaces/AAAA…`` (a space's resource name, as the Chat
    API and its URLs give it) was split as workspace "spaces" and channel "AAAA…", and every
    post to it was refused with a 404 and dead-lettered."""
    chat.fake.add_space("spaces/AAAAideas")
    channel = ChannelRef.parse(written)
    to = DeliveryTarget(7, "google_chat", channel.channel_id, channel.workspace, channel=True)
    await chat.app.adapters["google_chat"].send(to, Message.text("New idea #1"))
    [posted] = chat.fake.in_space("spaces/AAAAideas")
    assert "New idea #1" in readable_text(posted.body) or posted.body.get("text")


def test_a_direction_override_in_people_s_text_does_not_reorder_what_a_manager_reads() -> None:
    """U+202E before "evil" shows "live": the console and charts drop such overrides, and so
    do Google Chat's cards and notifications (the words stay, in the order they were written)."""
    from adapters.google_chat.cards import render_message
    from bot.messages import Card

    idea = "Refund \u202eevil\u202c now, \u2067שלום\u2069 مرحبا"
    body = render_message(Message(f"New idea #3: {idea}", cards=(Card("New idea #3", idea),)))
    shown = json.dumps(body, ensure_ascii=False)
    assert not any(chr(c) in shown for c in range(0x202A, 0x202F))
    assert "evil" in shown and "שלום" in shown and "مرحبا" in shown


def test_an_optional_field_whose_label_says_so_is_not_marked_optional_twice() -> None:
    """/voice's form labels read "Which customer or segment (optional) (optional)"."""
    from adapters.google_chat.cards import form_message
    from bot.messages import FieldKind, Form, FormField

    form = Form(
        "voice",
        "Log customer voice",
        (
            FormField("text", "What the customer said", FieldKind.MULTILINE, required=True),
            FormField("customer", "Which customer or segment (optional)", FieldKind.TEXT),
            FormField("note", "A note", FieldKind.TEXT),
        ),
    )
    labels = [
        widget["textInput"]["label"]
        for section in form_message(form)["cardsV2"][0]["card"]["sections"]
        for widget in section["widgets"]
        if "textInput" in widget
    ]
    assert labels == [
        "What the customer said",
        "Which customer or segment (optional)",
        "A note (optional)",
    ]
