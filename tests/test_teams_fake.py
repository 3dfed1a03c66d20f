"""The fake Bot Connector answers what botbuilder's real clients expect (tests/teams_fake.py).

Why: the Teams adapter's tests trust this fake as a stand-in for Microsoft's service, so its
paths, verbs, bodies, status codes and refusals are checked here through botframework-connector's
own ``ConnectorClient``/``TeamsConnectorClient`` and botbuilder's ``TeamsInfo``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
)
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from botframework.connector.models import ErrorResponseException
from msrest.exceptions import ClientRequestError, HttpOperationError

from tests.teams_fake import ACTIVITY_ID_BASE, ADAPTIVE_CARD, FakeConnector, adaptive_card_error

TEAM = "19:team@thread.tacv2"
CHANNEL_THREAD = f"{TEAM};messageid=1699999999999"
VALID_CARD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "Answer every customer within one hour", "wrap": True},
        {
            "type": "ColumnSet",
            "columns": [{"type": "Column", "items": [{"type": "TextBlock", "text": "92%"}]}],
        },
    ],
    "actions": [
        {"type": "Action.Submit", "title": "Useful", "data": {"vote": "useful"}},
        {"type": "Action.OpenUrl", "title": "Read", "url": "https://example.com/a"},
    ],
    "msteams": {"width": "Full"},  # Teams-only; removed before validation
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as connector:
        yield connector


@pytest.fixture
def client(fake: FakeConnector) -> ConnectorClient:
    # No app id: botbuilder sends no Authorization header (fine unless require_token is set).
    return ConnectorClient(MicrosoftAppCredentials(None, None), base_url=fake.service_url)


def message(text: str = "hello", **kwargs: Any) -> Activity:
    return Activity(type="message", text=text, **kwargs)


def card_message(card: Any) -> Activity:
    return message("", attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)])


def turn_context(fake: FakeConnector, client: ConnectorClient, conversation_id: str) -> TurnContext:
    activity = Activity(
        type="message",
        channel_id="msteams",
        service_url=fake.service_url,
        conversation=ConversationAccount(id=conversation_id),
        channel_data={"team": {"id": TEAM}},
    )
    context = TurnContext(TestAdapter(), activity)
    context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY] = client
    return context


# -- activities ----------------------------------------------------------------------------


async def test_send_reply_update_delete(fake: FakeConnector, client: ConnectorClient) -> None:
    first = await client.conversations.send_to_conversation("a:1", message("one"))
    second = await client.conversations.send_to_conversation("a:1", message("two"))
    reply = await client.conversations.reply_to_activity(CHANNEL_THREAD, "1699999999999", message())
    assert int(first.id) > ACTIVITY_ID_BASE and int(second.id) > int(first.id)
    assert int(reply.id) > int(second.id)

    updated = await client.conversations.update_activity("a:1", first.id, message("one, edited"))
    assert updated.id == first.id
    assert [a["text"] for a in fake.activities["a:1"]] == ["one, edited", "two"]
    assert [a["id"] for a in fake.activities["a:1"]] == [first.id, second.id]
    assert fake.activities[CHANNEL_THREAD][0]["replyToId"] == "1699999999999"

    await client.conversations.delete_activity("a:1", second.id)
    assert [a["id"] for a in fake.activities["a:1"]] == [first.id]

    call = fake.calls_to("reply")[0]
    assert call.method == "POST"
    assert call.path == f"/v3/conversations/{CHANNEL_THREAD}/activities/1699999999999"
    assert (call.conversation_id, call.activity_id) == (CHANNEL_THREAD, "1699999999999")
    assert call.body["text"] == "hello" and call.body["type"] == "message"
    assert call.authorization is None and call.status == 201
    assert [c.operation for c in fake.calls] == ["send", "send", "reply", "update", "delete"]


async def test_update_or_delete_of_unknown_activity_is_404(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.update_activity("a:1", "404404", message())
    assert caught.value.response.status_code == 404
    assert caught.value.error.error.code == "NotFound"
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.delete_activity("a:1", "404404")
    assert caught.value.response.status_code == 404


async def test_create_conversation(fake: FakeConnector, client: ConnectorClient) -> None:
    def personal(activity: Activity | None = None) -> ConversationParameters:
        return ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id="28:bot"),
            members=[ChannelAccount(id="29:alice")],
            tenant_id="tenant-1",
            activity=activity,
        )

    created = await client.conversations.create_conversation(personal(message("welcome")))
    assert created.id.startswith("a:")
    assert created.service_url == fake.service_url
    assert fake.activities[created.id] == [
        {"type": "message", "text": "welcome", "id": created.activity_id}
    ]
    again = await client.conversations.create_conversation(personal())
    assert again.id == created.id  # the same member gets the same 1:1 conversation
    other = await client.conversations.create_conversation(
        ConversationParameters(members=[ChannelAccount(id="29:bob")], tenant_id="tenant-1")
    )
    assert other.id != created.id
    assert [body["members"][0]["id"] for body in fake.created] == ["29:alice"] * 2 + ["29:bob"]
    assert fake.rosters[created.id] == [{"id": "29:alice"}]

    # A new thread in a Teams channel (TeamsInfo.send_message_to_teams_channel).
    thread = await client.conversations.create_conversation(
        ConversationParameters(
            is_group=True, channel_data={"channel": {"id": TEAM}}, activity=message("news")
        )
    )
    assert thread.id == f"{TEAM};messageid={thread.activity_id}"
    assert fake.activities[thread.id][0]["text"] == "news"


async def test_create_conversation_without_members_is_refused(client: ConnectorClient) -> None:
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.create_conversation(ConversationParameters(is_group=False))
    assert caught.value.response.status_code == 400
    assert caught.value.error.error.code == "BadArgument"


# -- members and teams -----------------------------------------------------------------------


async def test_paged_members_return_everyone_once(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    for n in range(5):
        fake.add_member(TEAM, user_id=f"29:{n}", aad_object_id=f"aad-{n}", name=f"User {n}")
    seen: list[str] = []
    tokens: list[str | None] = []
    token = None
    while True:
        page = await client.conversations.get_teams_conversation_paged_members(TEAM, 2, token)
        seen += [member.aad_object_id for member in page.members]
        tokens.append(page.continuation_token)
        token = page.continuation_token
        if not token:
            break
    assert seen == [f"aad-{n}" for n in range(5)]
    assert tokens[-1] is None and len(tokens) == 3
    first = page.members[0]
    assert first.user_principal_name == "user.4@example.com"
    assert (first.tenant_id, first.user_role, first.name) == ("tenant-1", "user", "User 4")
    assert fake.calls_to("paged_members")[1].path == f"/v3/conversations/{TEAM}/pagedmembers"


async def test_page_size_defaults_to_200_and_is_capped_at_500(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    fake.rosters[TEAM] = [{"id": f"29:{n}", "aadObjectId": f"aad-{n}"} for n in range(501)]
    default = await client.conversations.get_teams_conversation_paged_members(TEAM)
    assert len(default.members) == 200 and default.continuation_token
    capped = await client.conversations.get_teams_conversation_paged_members(TEAM, 1000)
    assert len(capped.members) == 500 and capped.continuation_token
    rest = await client.conversations.get_teams_conversation_paged_members(
        TEAM, 1000, capped.continuation_token
    )
    assert [m.id for m in rest.members] == ["29:500"] and rest.continuation_token is None


async def test_members_through_teams_info(fake: FakeConnector, client: ConnectorClient) -> None:
    alice = fake.add_member(
        TEAM, user_id="29:alice", aad_object_id="aad-alice", name="Alice Martin", user_role="owner"
    )
    context = turn_context(fake, client, CHANNEL_THREAD)  # a channel thread: the team's roster
    members = await TeamsInfo.get_members(context)
    assert [(m.id, m.aad_object_id, m.user_role) for m in members] == [
        ("29:alice", "aad-alice", "owner")
    ]
    by_id = await TeamsInfo.get_member(context, "29:alice")
    by_aad = await TeamsInfo.get_member(context, "aad-alice")
    assert by_id.email == by_aad.email == alice["email"]
    paged = await TeamsInfo.get_paged_members(context, page_size=10)
    assert [m.name for m in paged.members] == ["Alice Martin"]

    with pytest.raises(ErrorResponseException) as caught:
        await TeamsInfo.get_member(context, "29:nobody")
    assert caught.value.error.error.code == "MemberNotFoundInConversation"
    with pytest.raises(HttpOperationError) as unknown:
        await client.conversations.get_teams_conversation_paged_members("a:unknown")
    assert unknown.value.response.status_code == 404


async def test_team_details_and_channels_through_teams_info(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    # TeamsInfo uses the SYNCHRONOUS TeamsConnectorClient here: it blocks this event loop, which
    # only works because the fake serves from its own thread.
    fake.add_team(
        TEAM,
        name="Support",
        aad_group_id="group-1",
        channels=[{"id": TEAM}, {"id": "19:escalations@thread.tacv2", "name": "Escalations"}],
    )
    fake.add_member(TEAM, user_id="29:a", aad_object_id="aad-a", name="A")
    context = turn_context(fake, client, CHANNEL_THREAD)
    details = await TeamsInfo.get_team_details(context)
    assert (details.id, details.name, details.aad_group_id) == (TEAM, "Support", "group-1")
    assert (details.channel_count, details.member_count) == (2, 1)
    channels = await TeamsInfo.get_team_channels(context)
    assert [(c.id, c.name) for c in channels] == [
        (TEAM, None),
        ("19:escalations@thread.tacv2", "Escalations"),
    ]
    assert [c.operation for c in fake.calls] == ["team_details", "team_channels"]


# -- failures --------------------------------------------------------------------------------


async def test_429_surfaces_with_status_and_retry_after(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    fake.fail_next("send", status=429, retry_after=3)
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.send_to_conversation("a:1", message())
    error = caught.value
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "3"
    assert error.error.error.code == "Throttled"
    assert "a:1" not in fake.activities
    # One failure only: the next send goes through.
    await client.conversations.send_to_conversation("a:1", message())
    assert [c.status for c in fake.calls_to("send")] == [429, 201]


async def test_put_and_get_are_retried_by_botbuilder_itself(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    sent = await client.conversations.send_to_conversation("a:1", message())
    # urllib3 (msrest's retry policy) retries PUT/GET on 429 + Retry-After, silently.
    fake.fail_next("update", status=429, retry_after=0)
    await client.conversations.update_activity("a:1", sent.id, message("edited"))
    assert [c.status for c in fake.calls_to("update")] == [429, 200]

    # With retries off, the caller sees the 429 and its Retry-After.
    client.config.retry_policy.retries = 0
    fake.fail_next("update", status=429, retry_after=2)
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.update_activity("a:1", sent.id, message("again"))
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "2"

    # A 5xx on GET/PUT/DELETE that outlasts the retries (none left here) loses its status:
    # urllib3 raises, and msrest wraps it in ClientRequestError(RetryError)...
    fake.add_member("a:1", user_id="29:a", aad_object_id="aad-a", name="A")
    fake.fail_next("paged_members", status=503)
    with pytest.raises(ClientRequestError) as failed:
        await client.conversations.get_teams_conversation_paged_members("a:1")
    assert "RetryError" in repr(failed.value.inner_exception)
    assert not hasattr(failed.value, "response")
    # ...unless urllib3 is told to hand back the last answer instead.
    client.config.retry_policy.policy.raise_on_status = False
    fake.fail_next("paged_members", status=503)
    with pytest.raises(HttpOperationError) as kept:
        await client.conversations.get_teams_conversation_paged_members("a:1")
    assert kept.value.response.status_code == 503


async def test_fail_next_answers_like_the_service(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    fake.fail_next("send", status=503, times=2)
    fake.fail_next("reply", status=403, code="ConversationBlockedByUser")
    for _ in range(2):  # POST is never retried by botbuilder
        with pytest.raises(ErrorResponseException) as caught:
            await client.conversations.send_to_conversation("a:1", message())
        assert caught.value.response.status_code == 503
        assert caught.value.error.error.code == "ServiceUnavailable"
        assert "Retry-After" not in caught.value.response.headers
    with pytest.raises(ErrorResponseException) as blocked:
        await client.conversations.reply_to_activity("a:1", "1", message())
    assert blocked.value.error.error.code == "ConversationBlockedByUser"
    await client.conversations.send_to_conversation("a:1", message())
    with pytest.raises(ValueError):
        fake.fail_next("send", status=500, times=0)


async def test_per_conversation_rate(fake: FakeConnector, client: ConnectorClient) -> None:
    fake.per_conversation_rate = 2.0
    for _ in range(2):
        await client.conversations.send_to_conversation("a:1", message())
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.send_to_conversation("a:1", message())
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    await client.conversations.send_to_conversation("a:2", message())  # other conversation
    assert len(fake.activities["a:1"]) == 2


async def test_oversize_activity_is_413(fake: FakeConnector, client: ConnectorClient) -> None:
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.send_to_conversation("a:1", message("x" * 29_000))
    assert caught.value.response.status_code == 413
    assert caught.value.error.error.code == "MessageSizeTooBig"
    assert "a:1" not in fake.activities
    await client.conversations.send_to_conversation("a:1", message("x" * 27_000))


async def test_token_is_required_when_configured() -> None:
    async with FakeConnector(require_token="secret-token") as fake:
        anonymous = ConnectorClient(MicrosoftAppCredentials(None, None), fake.service_url)
        with pytest.raises(ErrorResponseException) as caught:
            await anonymous.conversations.send_to_conversation("a:1", message())
        assert caught.value.response.status_code == 401
        async with aiohttp.ClientSession() as session:
            url = f"{fake.service_url}v3/conversations/a:1/activities"
            headers = {"Authorization": "Bearer secret-token"}
            async with session.post(url, json={"type": "message"}, headers=headers) as response:
                assert response.status == 201
            headers = {"Authorization": "Bearer wrong"}
            async with session.post(url, json={"type": "message"}, headers=headers) as response:
                assert response.status == 401
        assert fake.calls[1].authorization == "Bearer secret-token"
    async with (
        FakeConnector(require_token=lambda token: token.startswith("ok-")) as fake,
        aiohttp.ClientSession() as session,
    ):
        url = f"{fake.service_url}v3/conversations/a:1/activities"
        headers = {"Authorization": "Bearer ok-1"}
        async with session.post(url, json={"type": "message"}, headers=headers) as response:
            assert response.status == 201


async def test_unknown_path_is_404(fake: FakeConnector) -> None:
    async with aiohttp.ClientSession() as session:
        for method, path in [("GET", "v3/nothing"), ("GET", "v3/conversations/a:1/activities")]:
            async with session.request(method, fake.service_url + path) as response:
                assert response.status == 404
                assert (await response.json())["error"]["code"] == "NotFound"
    assert [c.operation for c in fake.calls] == ["unknown", "unknown"]


# -- Adaptive Cards --------------------------------------------------------------------------


async def test_valid_card_is_accepted(fake: FakeConnector, client: ConnectorClient) -> None:
    sent = await client.conversations.send_to_conversation("a:1", card_message(VALID_CARD))
    stored = fake.activities["a:1"][0]
    assert stored["id"] == sent.id
    assert stored["attachments"][0]["content"]["msteams"] == {"width": "Full"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"body": [{"type": "FancyBlock", "text": "x"}]},
            "$.attachments[0].content.body[0].type: 'FancyBlock' is not one of [",
        ),
        (
            {"body": [{"type": "TextBlock"}]},
            "$.attachments[0].content.body[0]: 'text' is a required property",
        ),
        (
            {"body": [{"type": "Container", "items": [{"type": "Image"}]}]},
            "$.attachments[0].content.body[0].items[0]: 'url' is a required property",
        ),
        (
            {"body": [{"type": "TextBlock", "text": "x", "colour": "red"}]},
            "$.attachments[0].content.body[0]: Additional properties are not allowed",
        ),
    ],
)
async def test_invalid_card_is_400(
    fake: FakeConnector, client: ConnectorClient, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.send_to_conversation(
            "a:1", card_message({**VALID_CARD, **change})
        )
    assert caught.value.response.status_code == 400
    assert caught.value.error.error.code == "BadArgument"
    assert caught.value.error.error.message.startswith(expected)
    assert "a:1" not in fake.activities


async def test_cards_are_checked_on_update_and_create(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    sent = await client.conversations.send_to_conversation("a:1", card_message(VALID_CARD))
    broken = {**VALID_CARD, "body": [{"type": "TextBlock"}]}
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.update_activity("a:1", sent.id, card_message(broken))
    assert caught.value.response.status_code == 400
    with pytest.raises(ErrorResponseException) as caught:
        await client.conversations.create_conversation(
            ConversationParameters(
                members=[ChannelAccount(id="29:a")], activity=card_message(broken)
            )
        )
    assert caught.value.error.error.message.startswith("$.activity.attachments[0].content")
    assert fake.created == []


@pytest.mark.parametrize(
    ("card", "error"),
    [
        # What the 1.5 schema catches...
        ({"type": "AdaptiveCard", "body": [{"type": "Nope"}]}, "$.body[0].type: 'Nope'"),
        ({"type": "AdaptiveCard", "actions": [{"type": "Action.Fly"}]}, "$.actions[0].type"),
        ({"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": 5}]}, "$.body[0].text"),
        ({"type": "AdaptiveCard", "body": [{"text": "x"}]}, "'type' is a required property"),
        ({"type": "AdaptiveCard", "speak": "x", "colour": 1}, "Additional properties"),
        ({"type": "Card"}, "$.type: 'Card' is not one of ['AdaptiveCard']"),
        (
            {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "x", "size": "XL"}]},
            "$.body[0].size",
        ),
        (
            {"type": "AdaptiveCard", "actions": [{"type": "Action.OpenUrl", "title": "Go"}]},
            "$.actions[0]: 'url' is a required property",
        ),
        (
            {
                "type": "AdaptiveCard",
                "actions": [
                    {
                        "type": "Action.ShowCard",
                        "title": "More",
                        "card": {"type": "AdaptiveCard", "body": [{"type": "TextBlock"}]},
                    }
                ],
            },
            "$.actions[0].card.body[0]: 'text' is a required property",
        ),
        (
            {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "x", "msteams": {}}]},
            "Additional properties",  # msteams is only removed at the top level
        ),
        # ...and what it lets through.
        ({"type": "AdaptiveCard", "version": "1.6"}, None),
        ({"type": "AdaptiveCard", "version": "nine"}, None),
        ({"type": "AdaptiveCard"}, None),  # no version at all
        ({"body": [{"type": "TextBlock", "text": "no card type"}]}, None),
        (  # format "uri" is not asserted
            {"type": "AdaptiveCard", "actions": [{"type": "Action.OpenUrl", "url": "not a url"}]},
            None,
        ),
        ({"type": "AdaptiveCard", "actions": [{"type": "Action.Submit"}]}, None),  # no title
        ({"type": "AdaptiveCard", "version": "1.0", "rtl": True}, None),  # a 1.5 feature
        ({"type": "AdaptiveCard", "body": [], "msteams": {"width": "Full"}}, None),
    ],
)
def test_what_the_schema_catches(card: dict[str, Any], error: str | None) -> None:
    problem = adaptive_card_error(card)
    if error is None:
        assert problem is None
    else:
        assert problem is not None and error in problem, problem
