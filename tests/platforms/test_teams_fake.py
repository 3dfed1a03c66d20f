"""The fake Bot Connector answers what botbuilder's real clients expect (tests/teams_fake.py).

Why: the Teams adapter's tests trust this fake as a stand-in for Microsoft's service, so its
paths, verbs, bodies, status codes and refusals are checked here through botframework-connector's
own ``ConnectorClient``/``TeamsConnectorClient`` and botbuilder's ``TeamsInfo``.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
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

from tests.fake_thread import FakeThread
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


async def personal_conversation(client: ConnectorClient, member: str, tenant: str) -> str:
    created = await client.conversations.create_conversation(
        ConversationParameters(members=[ChannelAccount(id=member)], tenant_id=tenant)
    )
    return created.id


async def refused(call: Any) -> ErrorResponseException:
    with pytest.raises(ErrorResponseException) as caught:
        await call
    return caught.value


async def test_per_tenant_rate_throttles_every_call_of_a_tenant(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    client.config.retry_policy.retries = 0  # or urllib3 would retry the GET below by itself
    alice = await personal_conversation(client, "29:alice", "tenant-1")
    bob = await personal_conversation(client, "29:bob", "tenant-1")
    carol = await personal_conversation(client, "29:carol", "tenant-2")
    send = client.conversations.send_to_conversation
    fake.per_tenant_rate = 3.0  # a burst of 3, then a token every 333 ms

    for conversation in (alice, bob, alice):  # no conversation gets near its own limit
        await send(conversation, message())
    error = await refused(send(bob, message("refused")))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "1"
    assert error.error.error.code == "Throttled"
    # Any connector call of the tenant counts, not only sends.
    members = await refused(client.conversations.get_conversation_members(alice))
    assert members.response.status_code == 429
    await send(carol, message())  # another tenant has its own budget
    assert fake.posted_counts() == {alice: 2, bob: 1, carol: 1}
    assert fake.rate_limited_count == 2

    await asyncio.sleep(0.4)  # one token back, not two
    await send(bob, message("later"))
    assert (await refused(send(bob, message()))).response.status_code == 429
    assert fake.posted_counts() == {alice: 2, bob: 2, carol: 1}
    assert [a["text"] for a in fake.activities[bob]] == ["hello", "later"]
    assert [c.tenant_id for c in fake.calls_to("send")] == ["tenant-1"] * 4 + [
        "tenant-2",
        "tenant-1",
        "tenant-1",
    ]


async def test_tenant_and_conversation_rates_take_nothing_from_each_other(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    fake.per_conversation_rate = 1.0  # one token per conversation, one more a second
    fake.per_tenant_rate = 2.0  # two tokens for the tenant, one more every 500 ms

    def in_tenant(conversation_id: str, text: str) -> Activity:
        # Conversations the fake did not create: the activity names its tenant.
        return message(text, conversation=ConversationAccount(id=conversation_id, tenant_id="t9"))

    send = client.conversations.send_to_conversation
    await send("a:1", in_tenant("a:1", "one"))
    # Refused by the conversation's rate: the tenant keeps its second token...
    assert (await refused(send("a:1", in_tenant("a:1", "x")))).response.status_code == 429
    await send("a:2", in_tenant("a:2", "two"))  # ...which this takes.
    # Refused by the tenant's rate: a:3's own token stays...
    error = await refused(send("a:3", in_tenant("a:3", "y")))
    assert "tenant" in error.error.error.message
    await asyncio.sleep(0.55)
    # ...so once the tenant has a token again, a:3 can send (its own bucket would need 1 s).
    await send("a:3", in_tenant("a:3", "three"))
    texts = {cid: [a["text"] for a in stored] for cid, stored in fake.activities.items()}
    assert texts == {"a:1": ["one"], "a:2": ["two"], "a:3": ["three"]}
    assert fake.rate_limited_count == 2
    assert {c.tenant_id for c in fake.calls} == {"t9"}


async def test_the_tenant_a_call_counts_against(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    fake.add_member(TEAM, user_id="29:a", aad_object_id="aad-a", name="A", tenant_id="tenant-7")
    created = await personal_conversation(client, "29:b", "tenant-8")
    await client.conversations.send_to_conversation(created, message())
    await client.conversations.reply_to_activity(CHANNEL_THREAD, "1", message())  # team roster
    await client.conversations.send_to_conversation("a:nobody-knows", message())
    assert [(c.operation, c.tenant_id) for c in fake.calls] == [
        ("create_conversation", "tenant-8"),
        ("send", "tenant-8"),
        ("reply", "tenant-7"),
        ("send", ""),
    ]


async def test_injected_faults_fail_a_seeded_fifth_and_store_nothing_for_them(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    fake.inject_faults(0.2, seed=11, hang_seconds=0.5)
    client.config.connection.timeout = 0.1  # gives up well before a held call is answered
    calls = 120
    seen: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    delivered_texts: set[str] = set()
    for n in range(calls):
        conversation, text = f"a:{n % 10}", f"message {n}"
        try:
            await client.conversations.send_to_conversation(conversation, message(text))
        except ErrorResponseException as error:
            status = error.response.status_code
            assert (status, error.error.error.code) in [
                (429, "Throttled"),
                (500, "InternalServerError"),
            ]
            if status == 429:
                assert error.response.headers["Retry-After"] == "1"
            seen[str(status)] += 1
        except ClientRequestError as error:
            assert "ReadTimeout" in repr(error.inner_exception)
            seen["timeout"] += 1
        else:
            delivered[conversation] += 1
            delivered_texts.add(text)

    failures = sum(seen.values())
    assert 0.1 * calls < failures < 0.3 * calls  # roughly a fifth
    assert set(seen) == {"429", "500", "timeout"}
    assert fake.fault_counts == seen
    assert fake.rate_limited_count == 0
    assert len(fake.calls_to("send")) == calls  # botbuilder never retries a POST
    assert fake.posted_counts() == dict(delivered)
    assert fake.duplicates() == {cid: count - 1 for cid, count in delivered.items()}
    stored = {a["text"] for activities in fake.activities.values() for a in activities}
    assert stored == delivered_texts  # nothing stored for a failed call


async def test_inject_faults_targets_only_the_given_operations(
    fake: FakeConnector, client: ConnectorClient
) -> None:
    fake.inject_faults(1.0, kinds=("500",))  # default: "send" only
    assert (
        await refused(client.conversations.send_to_conversation("a:1", message()))
    ).response.status_code == 500
    await client.conversations.reply_to_activity("a:1", "1", message("a reply"))
    fake.inject_faults(1.0, kinds=("429",), operations=["reply"])
    assert (
        await refused(client.conversations.reply_to_activity("a:1", "1", message()))
    ).response.status_code == 429
    fake.inject_faults(0)
    await client.conversations.send_to_conversation("a:1", message("sent"))
    assert fake.fault_counts == Counter({"500": 1, "429": 1})
    assert [a["text"] for a in fake.activities["a:1"]] == ["a reply", "sent"]
    assert fake.posted_counts() == {"a:1": 2}
    with pytest.raises(ValueError):
        fake.inject_faults(-0.1)


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


# -- running on a thread of its own -----------------------------------------------------------


def test_fake_thread_serves_a_blocking_caller_on_the_main_thread() -> None:
    with FakeThread(FakeConnector()) as running:
        fake = running.fake
        running.call(fake.inject_faults, 1.0, kinds=("timeout",), hang_seconds=30)
        request = urllib.request.Request(
            f"{fake.service_url}v3/conversations/a:1/activities",
            data=json.dumps({"type": "message", "text": "hi"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(TimeoutError):  # held: the blocking caller gives up
            urllib.request.urlopen(request, timeout=0.2)
        running.call(fake.inject_faults, 0)
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
            assert int(json.load(response)["id"]) > ACTIVITY_ID_BASE
        assert running.call(fake.posted_counts) == {"a:1": 1}
        assert running.call(lambda: dict(fake.fault_counts)) == {"timeout": 1}
        started = time.monotonic()
    # Leaving the block closed the fake at once, though a call was still being held.
    assert time.monotonic() - started < 5
