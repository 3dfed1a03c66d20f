"""Google Chat: requests checked with google-auth against the fake issuer's keys, events through
the inbox to the core, replies in the HTTP answer or through the Chat API, sends mapped to the
outbox's errors, and people's text escaped in every card."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.google_chat import GoogleChatAdapterFactory
from adapters.google_chat.cards import dialog_response, limit_problems, render_message
from adapters.google_chat.config import GoogleChatConfig
from bot.config import Settings
from bot.events import ActionInvoked, CommandInvoked, FormSubmitted, MessageReceived, Reply
from bot.messages import Button, Card, Fact, FieldKind, Form, FormField, Message
from bot.platform import DeliveryError, DeliveryTarget
from bot.storage.models import AdapterRecord
from tests.contract.harness import Recorder
from tests.google_chat_support import (
    AUDIENCE,
    GoogleChatStack,
    added_event,
    click_event,
    find_button,
    form_inputs,
    google_chat_stack,
    message_event,
    pings,
    readable_text,
    submit_button,
)

ALICE, ALICE_NAME = "users/111", "Alice Martin"


@pytest.fixture
async def chat(sqlite_settings: Settings) -> AsyncIterator[GoogleChatStack]:
    async with google_chat_stack(sqlite_settings) as stack:
        stack.fake.add_user(ALICE)
        yield stack


DELIVERY_IDS = itertools.count(1)


def target(user: str = ALICE, *, sealed: bool = False) -> DeliveryTarget:
    """A new delivery's target (each delivery has its own id, as the outbox gives them)."""
    return DeliveryTarget(next(DELIVERY_IDS), "google_chat", user, sealed=sealed)


async def test_a_message_reaches_the_core_and_the_answer_comes_in_the_response(
    chat: GoogleChatStack,
) -> None:
    recorder = Recorder(script=lambda event: Reply.say("hello, Alice")).install(chat.app)
    status, answer = await chat.post(message_event(ALICE, ALICE_NAME, "hi there"))
    assert status == 200
    assert answer["actionResponse"]["type"] == "NEW_MESSAGE"
    assert "hello, Alice" in readable_text(answer)
    [event] = recorder.of_type(MessageReceived)
    assert (event.text, event.actor.user_id) == ("hi there", ALICE)


@pytest.mark.parametrize(
    "token",
    ["forged", "wrong_audience", "wrong_issuer", "expired", "project_token", "none"],
)
async def test_a_request_without_google_chat_s_own_token_is_refused_and_recorded_nowhere(
    chat: GoogleChatStack, token: str
) -> None:
    recorder = Recorder().install(chat.app)
    fake = chat.fake
    tokens = {
        "forged": fake.forged_token(AUDIENCE),
        "wrong_audience": fake.request_token("https://elsewhere.example.com/google-chat/events"),
        "wrong_issuer": fake.request_token(AUDIENCE, issuer="https://evil.example.com"),
        "expired": fake.request_token(AUDIENCE, issued=1_700_000_000, lifetime=3600),
        # A project-number token is not what an endpoint-URL app accepts.
        "project_token": fake.request_token(AUDIENCE, project_number=True),
        "none": "not-a-jwt",
    }
    status, _ = await chat.post(message_event(ALICE, ALICE_NAME, "let me in"), token=tokens[token])
    assert status == 401
    await chat.settle()
    assert recorder.events == []
    assert fake.messages == {}


async def test_the_keys_are_read_once_and_kept_as_cache_control_allows(
    chat: GoogleChatStack,
) -> None:
    Recorder(script=lambda event: Reply()).install(chat.app)
    for text in ("one", "two", "three"):
        assert (await chat.post(message_event(ALICE, ALICE_NAME, text)))[0] == 200
    assert chat.fake.certs_requests == 1


async def test_a_project_number_audience_takes_chat_s_own_tokens(tmp_path: Path) -> None:
    config = GoogleChatConfig.from_env(
        {"GOOGLE_CHAT_AUDIENCE_TYPE": "project_number", "GOOGLE_CHAT_AUDIENCE": "123456789"},
        "https://x.example.com",
    )
    assert config.issuer == ("chat@system.gserviceaccount.com",)
    assert config.keys_url.endswith("/x509/chat@system.gserviceaccount.com")
    with pytest.raises(ValueError, match="GOOGLE_CHAT_AUDIENCE"):
        GoogleChatConfig.from_env({"GOOGLE_CHAT_AUDIENCE_TYPE": "project_number"}, "https://x")


async def test_a_redelivered_message_counts_once(chat: GoogleChatStack) -> None:
    recorder = Recorder(script=lambda event: Reply()).install(chat.app)
    for _ in range(3):
        body = message_event(ALICE, ALICE_NAME, "said once", message_id="same")
        assert (await chat.post(body))[0] == 200
    await chat.settle()
    assert [e.text for e in recorder.of_type(MessageReceived)] == ["said once"]


async def test_a_slash_command_arrives_as_a_command(chat: GoogleChatStack) -> None:
    recorder = Recorder(script=lambda event: Reply()).install(chat.app)
    body = message_event(ALICE, ALICE_NAME, "a public status page", command="suggest")
    assert (await chat.post(body))[0] == 200
    [event] = recorder.of_type(CommandInvoked)
    assert (event.command, event.text) == ("suggest", "a public status page")


def vote_card() -> Message:
    return Message(
        "Idea 42",
        cards=(
            Card(
                "Idea 42",
                text="A status page",
                facts=(Fact("Votes", "3"),),
                buttons=(Button("Vote", "vote", {"idea": 42}),),
            ),
        ),
    )


async def test_a_press_names_the_card_by_the_reference_send_returned_and_updates_it(
    chat: GoogleChatStack,
) -> None:
    adapter = chat.app.adapters["google_chat"]
    sent = await adapter.send(target(), vote_card())
    posted = chat.fake.messages[sent.platform_ref]
    recorder = Recorder(
        script=lambda event: Reply(update=Message("voted", cards=(Card("Idea 42 ✓ voted"),)))
    ).install(chat.app)
    press = click_event(ALICE, ALICE_NAME, {"name": posted.name}, find_button(posted.body, "Vote"))
    for _ in range(2):  # Chat delivers the same click twice: it counts once
        status, answer = await chat.post(press)
        assert status == 200
    [event] = recorder.of_type(ActionInvoked)
    assert (event.action_id, event.value, event.message_ref) == (
        "vote",
        {"idea": 42},
        sent.platform_ref,
    )
    assert answer == {} or answer["actionResponse"]["type"] == "UPDATE_MESSAGE"
    first = chat.answers[0][1]
    assert first["actionResponse"]["type"] == "UPDATE_MESSAGE"
    assert "Idea 42 ✓ voted" in readable_text(first)


async def test_a_refused_dialog_answer_shows_the_dialog_again_with_the_reason(
    chat: GoogleChatStack,
) -> None:
    form = Form(
        "suggest",
        "Suggest an idea",
        (
            FormField("text", "Your idea", FieldKind.MULTILINE, required=True),
            FormField("anonymous", "Anonymous", FieldKind.CHECKBOX),
        ),
        context={"source": "chat"},
    )

    def answer(event: object) -> Reply:
        if isinstance(event, FormSubmitted):
            return Reply.fail("Say a bit more (at least 10 characters).")
        return Reply(form=form)

    recorder = Recorder(script=answer).install(chat.app)
    sent = await chat.app.adapters["google_chat"].send(
        target(), Message("x", cards=(Card("Ideas", buttons=(Button("Suggest", "suggest.open"),)),))
    )
    posted = chat.fake.messages[sent.platform_ref]
    status, dialog = await chat.post(
        click_event(ALICE, ALICE_NAME, {"name": posted.name}, find_button(posted.body, "Suggest"))
    )
    assert status == 200 and dialog["actionResponse"]["type"] == "DIALOG"
    body = dialog["actionResponse"]["dialogAction"]["dialog"]["body"]
    status, again = await chat.post(
        click_event(
            ALICE,
            ALICE_NAME,
            {"name": posted.name},
            submit_button(body),
            dialog="SUBMIT_DIALOG",
            form_inputs=form_inputs(body, {"text": "short", "anonymous": True}),
        )
    )
    [submitted] = recorder.of_type(FormSubmitted)
    assert submitted.values == {"text": "short", "anonymous": True}
    assert submitted.context == {"source": "chat"}
    shown = readable_text(again)
    assert "Say a bit more" in shown and "short" in shown
    assert again["actionResponse"]["type"] == "DIALOG"


async def test_installing_the_app_remembers_the_dm_space_across_a_restart(
    chat: GoogleChatStack,
) -> None:
    Recorder(script=lambda event: Reply.say("welcome")).install(chat.app)
    chat.fake.add_user("users/222")
    assert (await chat.post(added_event("users/222", "Bob")))[0] == 200
    await chat.settle()
    async with chat.app.db.transaction() as session:
        [record] = (await session.scalars(select(AdapterRecord))).all()
    # The space is sealed: the row does not say it in plain text.
    assert "dm-222" not in json.dumps(record.value) and "dm-222" not in str(record.secret)
    # A fresh adapter (a restart) finds it in the database, without asking the API.
    fresh = GoogleChatAdapterFactory().create(chat.app.adapters["google_chat"].context)
    await fresh.start()
    try:
        chat.fake.calls.clear()
        await fresh.send(target("users/222"), Message.text("digest"))
        assert [c.path for c in chat.fake.calls] == ["/v1/spaces/dm-222/messages"]
    finally:
        await fresh.stop()


async def test_an_unknown_dm_is_found_with_the_api_and_a_missing_one_is_permanent(
    chat: GoogleChatStack,
) -> None:
    adapter = chat.app.adapters["google_chat"]
    assert (await adapter.send(target(), Message.text("first"))).platform_ref
    assert chat.fake.calls[0].path == "/v1/spaces:findDirectMessage"
    with pytest.raises(DeliveryError) as refused:
        await adapter.send(target("users/999"), Message.text("never added the app"))
    assert refused.value.permanent


@pytest.mark.parametrize(
    ("status", "retry_after", "kind"),
    [
        (429, 7, "retry"),
        (400, None, "permanent"),
        (403, None, "permanent"),
        (404, None, "permanent"),
        (401, None, "down"),
        (500, None, "later"),
    ],
)
async def test_api_failures_become_the_outbox_s_errors(
    chat: GoogleChatStack, status: int, retry_after: float | None, kind: str
) -> None:
    adapter = chat.app.adapters["google_chat"]
    await adapter.send(target(), Message.text("warm up"))  # the DM space is known now
    chat.fake.fail_next(status, retry_after=retry_after)
    with pytest.raises(DeliveryError) as failed:
        await adapter.send(target(), Message.text("this one fails"))
    error = failed.value
    assert (error.retry_after == retry_after) if kind == "retry" else error.retry_after is None
    assert error.permanent == (kind == "permanent")
    assert error.platform_down == (kind == "down")


async def test_a_sealed_send_logs_no_recipient(
    chat: GoogleChatStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat.fake.fail_next(403)
    with pytest.raises(DeliveryError) as failed:
        await chat.app.adapters["google_chat"].send(target(sealed=True), Message.text("answered"))
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("adapters", "bot"))]
    assert ALICE not in str(failed.value) and not [m for m in ours if "111" in m]


def test_people_s_text_never_pings_or_links_and_stays_readable() -> None:
    hostile = "<users/all> @all [click](http://evil.example) <a href='x'>y</a> <b>bold</b> & *star*"
    body = render_message(
        Message(
            hostile,
            cards=(Card(hostile, text=hostile, facts=(Fact(hostile, hostile),), footer=hostile),),
        )
    )
    assert pings(body) == []
    assert limit_problems(body) == []
    assert "<users/all>" in readable_text(body) and "<b>bold</b>" in readable_text(body)


def test_a_long_message_stays_within_the_card_limits() -> None:
    many = tuple(Card(f"Item {i}", text="x" * 3000, facts=(Fact("a", "b"),) * 30) for i in range(8))
    body = render_message(Message("digest", cards=many))
    assert limit_problems(body) == []
    form = Form("f", "Form", tuple(FormField(f"f{i}", f"Field {i}") for i in range(150)))
    assert (
        limit_problems(
            {
                "cardsV2": [
                    {
                        "card": dialog_response(form)["actionResponse"]["dialogAction"]["dialog"][
                            "body"
                        ]
                    }
                ]
            }
        )
        == []
    )


async def test_a_reaction_pushed_by_pub_sub_reaches_the_core_once(chat: GoogleChatStack) -> None:
    from bot.events import ReactionAdded
    from tests.google_chat_support import PUBSUB_AUDIENCE, reaction_push

    sent = await chat.app.adapters["google_chat"].send(target(), vote_card())
    recorder = Recorder(script=lambda event: Reply()).install(chat.app)
    push = reaction_push(ALICE, sent.platform_ref or "", "👍", message_id="pubsub-1")
    for _ in range(2):  # Pub/Sub redelivers with the same message id
        assert await chat.push(push) == 204
    await chat.settle()
    [event] = recorder.of_type(ReactionAdded)
    assert (event.emoji, event.message_ref, event.actor.user_id) == ("👍", sent.platform_ref, ALICE)
    # A push token for another account, or Chat's own token, is refused.
    other = chat.fake.push_token(PUBSUB_AUDIENCE, "someone@else.iam.gserviceaccount.com")
    assert await chat.push(push, token=other) == 401
    assert await chat.push(push, token=chat.fake.request_token(AUDIENCE)) == 401
    await chat.settle()
    assert len(recorder.events) == 1


async def test_with_a_project_number_audience_chat_s_own_jwt_is_taken_and_an_id_token_is_not(
    sqlite_settings: Settings,
) -> None:
    extra = {"GOOGLE_CHAT_AUDIENCE_TYPE": "project_number", "GOOGLE_CHAT_AUDIENCE": "4815162342"}
    async with google_chat_stack(sqlite_settings, **extra) as chat:
        recorder = Recorder(script=lambda event: Reply()).install(chat.app)
        body = message_event(ALICE, ALICE_NAME, "by project number")
        own = chat.fake.request_token("4815162342", project_number=True)
        assert (await chat.post(body, token=own))[0] == 200
        id_token = chat.fake.request_token("4815162342")  # issued by accounts.google.com
        assert (await chat.post(body, token=id_token))[0] == 401
        assert [e.text for e in recorder.of_type(MessageReceived)] == ["by project number"]


async def test_the_service_account_s_token_is_fetched_once_and_kept(chat: GoogleChatStack) -> None:
    adapter = chat.app.adapters["google_chat"]
    for number in range(3):
        await adapter.send(target(), Message.text(f"message {number}"))
    assert chat.fake.token_requests == 1


def test_the_status_says_why_google_chat_is_on_or_off(tmp_path: Path) -> None:
    def status(env: dict[str, str]) -> tuple[bool, str]:
        settings = Settings(public_url="https://advocacy.example.com", env=env)
        found = GoogleChatAdapterFactory().status(settings)
        return found.enabled, found.reason

    assert status({}) == (
        False,
        "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE is not set (the Chat app's key)",
    )
    broken = tmp_path / "key.json"
    broken.write_text('{"type": "authorized_user"}')
    enabled, reason = status({"GOOGLE_CHAT_SERVICE_ACCOUNT_FILE": str(broken)})
    assert not enabled and "is not a service account key" in reason
    enabled, reason = status({"GOOGLE_CHAT_AUDIENCE_TYPE": "audience"})
    assert not enabled and "endpoint_url or project_number" in reason


async def test_a_delivery_sent_again_after_a_crash_is_shown_once(chat: GoogleChatStack) -> None:
    """The outbox sends a delivery again when a crash lost Chat's answer: the same request id
    makes Chat return the message it created, so the person sees it once."""
    adapter = chat.app.adapters["google_chat"]
    again = target()
    first = await adapter.send(again, Message.text("your weekly digest"))
    second = await adapter.send(again, Message.text("your weekly digest"))
    assert first.platform_ref and first.platform_ref == second.platform_ref
    assert [p.name for p in chat.fake.messages.values()] == [first.platform_ref]
    # Another delivery of the same words is another message.
    third = await adapter.send(target(), Message.text("your weekly digest"))
    assert third.platform_ref != first.platform_ref
    assert len(chat.fake.messages) == 2
