"""The Slack fake answers like Slack, checked through slack_sdk's real AsyncWebClient over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fake_thread import FakeThread
from tests.slack_fake import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    # No retry handlers: the tests must see each failure exactly as Slack sent it.
    return AsyncWebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[])


@pytest.fixture(autouse=True)
def _quiet_slack_sdk(caplog: pytest.LogCaptureFixture) -> None:
    # slack_sdk logs a warning for each unknown block it skips; those are expected here.
    caplog.set_level(logging.ERROR, logger="slack_sdk")


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(label: str, action_id: str = "useful", value: str = "1") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


async def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value


# -- lifecycle and authentication ----------------------------------------------------------------


async def test_urls_point_at_a_loopback_port() -> None:
    fake = FakeSlack()
    await fake.start()
    try:
        assert fake.api_url.startswith("http://127.0.0.1:")
        assert fake.api_url.endswith("/api/")
        assert fake.api_url == fake.base_url + "/api/"
        assert fake.response_url("x") == fake.base_url + "/hooks/x"
    finally:
        await fake.close()


async def test_auth_test_answers_with_the_bot_identity(client: AsyncWebClient) -> None:
    answer = await client.auth_test()
    assert answer["team_id"] == "T0001"
    assert answer["user_id"] == "UBOT"
    assert answer["bot_id"] == "B0001"


async def test_a_missing_token_is_not_authed(fake: FakeSlack) -> None:
    anonymous = AsyncWebClient(base_url=fake.api_url, retry_handlers=[])
    error = await error_of(anonymous.auth_test())
    assert error.response["error"] == "not_authed"
    assert fake.calls[-1].token is None


async def test_a_wrong_token_is_invalid_auth(fake: FakeSlack) -> None:
    stranger = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url, retry_handlers=[])
    error = await error_of(stranger.chat_postMessage(channel="C1", text="hi"))
    assert error.response["error"] == "invalid_auth"
    assert fake.messages == {}


async def test_registered_tokens_and_form_token_arguments_are_accepted(fake: FakeSlack) -> None:
    fake.tokens.add("xoxb-other")
    other = AsyncWebClient(token="xoxb-other", base_url=fake.api_url, retry_handlers=[])
    assert (await other.auth_test())["ok"] is True
    # A `token` form argument works as in Slack; the recorded args do not keep it.
    async with aiohttp.ClientSession() as session:
        form = {"token": "xoxb-test", "channel": "C1", "text": "hi"}
        async with session.post(fake.api_url + "chat.postMessage", data=form) as response:
            assert (await response.json())["ok"] is True
    assert fake.calls[-1].token == "xoxb-test"
    assert "token" not in fake.calls[-1].args


async def test_a_token_inside_a_json_body_does_not_authenticate(fake: FakeSlack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.api_url + "auth.test", json={"token": "xoxb-test"}) as response,
    ):
        assert (await response.json())["error"] == "not_authed"


async def test_unknown_methods_are_refused(client: AsyncWebClient) -> None:
    error = await error_of(client.api_call("chat.teleport"))
    assert error.response["error"] == "unknown_method"


# -- messages ---------------------------------------------------------------------------------


async def test_posting_to_a_user_goes_to_a_stable_dm_with_increasing_ts(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="U123", text="one")
    second = await client.chat_postMessage(channel="U123", text="two")
    other = await client.chat_postMessage(channel="C777", text="three")
    assert first["channel"] == second["channel"] == "DU123"
    assert other["channel"] == "C777"
    assert float(first["ts"]) < float(second["ts"]) < float(other["ts"])
    assert len({first["ts"], second["ts"], other["ts"]}) == 3
    assert [m["text"] for m in fake.messages["DU123"]] == ["one", "two"]
    assert fake.messages["DU123"][0]["user"] == "UBOT"
    assert first["message"]["text"] == "one"
    opened = await client.conversations_open(users="U123")
    assert opened["channel"]["id"] == "DU123"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_message_errors(client: AsyncWebClient) -> None:
    assert (await error_of(client.chat_postMessage(channel="C1"))).response["error"] == "no_text"
    missing_user = await error_of(client.chat_postMessage(channel="UGONE1", text="hi"))
    assert missing_user.response["error"] == "user_not_found"
    no_channel = await error_of(client.api_call("chat.postMessage", json={"text": "hi"}))
    assert no_channel.response["error"] == "channel_not_found"


async def test_update_replaces_the_stored_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="U1", text="before", blocks=[section("old")])
    updated = await client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="after", blocks=[section("new")]
    )
    assert updated["ts"] == posted["ts"]
    [message] = fake.messages["DU1"]
    assert message["text"] == "after"
    assert message["blocks"] == [section("new")]
    missing = await error_of(client.chat_update(channel="DU1", ts="1.000000", text="x"))
    assert missing.response["error"] == "message_not_found"


async def test_ephemeral_and_permalink(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert answer["message_ts"]
    assert fake.ephemeral[0]["user"] == "U1"
    assert fake.ephemeral[0]["text"] == "only you"
    link = await client.chat_getPermalink(channel="C1", message_ts="1700000000.000100")
    assert link["permalink"] == "https://fake.slack.com/archives/C1/p1700000000000100"


# -- users --------------------------------------------------------------------------------------


async def test_users_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user("U1", name="ana", real_name="Ana Lima", tz="America/Sao_Paulo")
    user = (await client.users_info(user="U1"))["user"]
    assert user["real_name"] == "Ana Lima"
    assert user["tz"] == "America/Sao_Paulo"
    assert user["tz_offset"] == -3 * 3600
    assert (await error_of(client.users_info(user="U404"))).response["error"] == "user_not_found"


async def test_users_list_paginates_over_every_user_exactly_once(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ids = [f"U{n:03d}" for n in range(23)]
    for user_id in ids:
        fake.add_user(user_id, deleted=user_id == "U005", is_bot=user_id == "U007")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await client.users_list(limit=5, cursor=cursor)
        pages += 1
        assert len(page["members"]) <= 5
        seen += [member["id"] for member in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    assert pages == 5


async def test_users_list_caps_the_page_size(fake: FakeSlack, client: AsyncWebClient) -> None:
    for n in range(1001):
        fake.add_user(f"U{n:04d}")
    first = await client.users_list(limit=5000)
    assert len(first["members"]) == 1000
    default = await client.users_list()
    assert len(default["members"]) == 100
    bad = await error_of(client.users_list(cursor="not-a-cursor"))
    assert bad.response["error"] == "invalid_cursor"


# -- failures and rate limits ------------------------------------------------------------------


async def test_fail_next_429_carries_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    error = await error_of(client.chat_postMessage(channel="C1", text="hi"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert len(fake.calls_to("chat.postMessage")) == 1  # the client did not retry
    # Only the queued call fails.
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"] is True


async def test_fail_next_429_defaults_to_retry_after_one(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("users.info", status=429, times=2)
    for _ in range(2):
        error = await error_of(client.users_info(user="U1"))
        assert error.response.headers["Retry-After"] == "1"


async def test_fail_next_500_is_a_plain_server_error(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=500)
    error = await error_of(client.chat_postMessage(channel="C1", text="hi"))
    assert error.response.status_code == 500
    assert fake.messages == {}


async def test_fail_next_with_an_error_code(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found")
    error = await error_of(client.chat_postMessage(channel="C1", text="hi"))
    assert error.response.status_code == 200
    assert error.response["error"] == "channel_not_found"


async def test_channel_rate_limit_refuses_a_second_post_within_the_second(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.channel_rate_limit = 1.0
    await client.chat_postMessage(channel="C1", text="one")
    error = await error_of(client.chat_postMessage(channel="C1", text="two"))
    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert int(error.response.headers["Retry-After"]) >= 1
    # Another channel has its own budget; the refused message was not stored.
    await client.chat_postMessage(channel="C2", text="elsewhere")
    assert [m["text"] for m in fake.messages["C1"]] == ["one"]


async def test_channel_rate_limit_lets_posts_through_once_the_interval_passed(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.channel_rate_limit = 20.0  # one per 50 ms
    await client.chat_postMessage(channel="C1", text="one")
    await asyncio.sleep(0.06)
    assert (await client.chat_postMessage(channel="C1", text="two"))["ok"] is True


async def test_workspace_cap_refuses_a_burst_beyond_capacity_then_recovers(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.workspace_rate_limit = 5.0  # a token every 200 ms
    fake.workspace_burst = 3
    for n in range(3):  # every channel is new: only the workspace cap can refuse
        await client.chat_postMessage(channel=f"C{n}", text=f"m{n}")
    for n in (3, 4):
        error = await error_of(client.chat_postMessage(channel=f"C{n}", text=f"m{n}"))
        assert error.response.status_code == 429
        assert error.response["error"] == "ratelimited"
        assert error.response.headers["Retry-After"] == "1"
    assert fake.posted_counts() == {"C0": 1, "C1": 1, "C2": 1}
    assert sorted(fake.messages) == ["C0", "C1", "C2"]
    assert fake.rate_limited_count == 2

    await asyncio.sleep(0.25)  # one token back, not two
    assert (await client.chat_postMessage(channel="C3", text="m3"))["ok"] is True
    error = await error_of(client.chat_postMessage(channel="C4", text="m4"))
    assert error.response.status_code == 429
    assert fake.posted_counts() == {"C0": 1, "C1": 1, "C2": 1, "C3": 1}
    assert fake.rate_limited_count == 3


async def test_workspace_retry_after_counts_whole_seconds_to_the_next_token(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.workspace_rate_limit = 0.5  # a token every 2 s
    await client.chat_postMessage(channel="C1", text="one")
    error = await error_of(client.chat_postMessage(channel="C2", text="two"))
    assert error.response.headers["Retry-After"] == "2"


async def test_channel_and_workspace_limits_take_nothing_from_each_other(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.channel_rate_limit = 1.0
    fake.workspace_rate_limit = 10.0  # a token every 100 ms
    fake.workspace_burst = 2
    await client.chat_postMessage(channel="C1", text="a")
    # Refused by the channel limit: the workspace keeps its second token...
    assert (
        await error_of(client.chat_postMessage(channel="C1", text="b"))
    ).response.status_code == 429
    await client.chat_postMessage(channel="C2", text="c")  # ...which this takes.
    # Refused by the workspace cap: C3's channel slot stays free...
    assert (
        await error_of(client.chat_postMessage(channel="C3", text="d"))
    ).response.status_code == 429
    await asyncio.sleep(0.15)
    # ...so once the workspace has a token, C3 takes a post (its 1 s interval never started).
    await client.chat_postMessage(channel="C3", text="e")
    texts = {channel: [m["text"] for m in stored] for channel, stored in fake.messages.items()}
    assert texts == {"C1": ["a"], "C2": ["c"], "C3": ["e"]}
    assert fake.rate_limited_count == 2
    assert fake.duplicates() == {}


async def test_injected_faults_fail_a_seeded_fifth_and_store_nothing_for_them(
    fake: FakeSlack,
) -> None:
    fake.inject_faults(0.2, seed=7, hang_seconds=0.5)
    # The client gives up well before a held ("timeout") call is answered.
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=fake.api_url,
        retry_handlers=[],
        timeout=0.1,  # type: ignore[arg-type]
    )
    calls = 150
    seen: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    delivered_texts: set[str] = set()
    for n in range(calls):
        channel, text = f"C{n % 10}", f"message {n}"
        try:
            answer = await client.chat_postMessage(channel=channel, text=text)
        except SlackApiError as error:
            status = error.response.status_code
            assert status in (429, 500)
            if status == 429:
                assert error.response.headers["Retry-After"] == "1"
                assert error.response["error"] == "ratelimited"
            seen[str(status)] += 1
        except TimeoutError:
            seen["timeout"] += 1
        else:
            assert answer["ok"] is True and answer["channel"] == channel
            delivered[channel] += 1
            delivered_texts.add(text)

    failures = sum(seen.values())
    assert 0.1 * calls < failures < 0.3 * calls  # roughly a fifth
    assert set(seen) == {"429", "500", "timeout"}  # every kind asked for shows up
    assert fake.fault_counts == seen  # the fake counts exactly what the client went through
    assert fake.rate_limited_count == 0  # faults are not the rate limits
    assert len(fake.calls_to("chat.postMessage")) == calls  # no retries hid a failure
    assert fake.posted_counts() == dict(delivered)
    assert fake.duplicates() == {channel: count - 1 for channel, count in delivered.items()}
    stored = {m["text"] for messages in fake.messages.values() for m in messages}
    assert stored == delivered_texts  # nothing stored for a failed call


async def test_injected_faults_are_replayed_by_the_same_seed() -> None:
    async def outcomes(seed: int) -> list[int]:
        async with FakeSlack() as fake:
            fake.inject_faults(0.5, kinds=("429", "500"), seed=seed)
            client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[])
            statuses = []
            for _ in range(30):
                try:
                    await client.chat_postMessage(channel="C1", text="hi")
                    statuses.append(200)
                except SlackApiError as error:
                    statuses.append(error.response.status_code)
            return statuses

    first = await outcomes(3)
    assert first == await outcomes(3)
    assert set(first) == {200, 429, 500}
    assert first != await outcomes(4)


async def test_inject_faults_targets_only_the_given_methods_and_can_be_stopped(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.add_user("U1")
    fake.inject_faults(1.0, kinds=("500",))
    error = await error_of(client.chat_postMessage(channel="C1", text="hi"))
    assert error.response.status_code == 500
    assert (await client.users_info(user="U1"))["ok"] is True  # not a targeted method
    fake.inject_faults(1.0, kinds=("429",), methods=["users.info"])
    assert (await error_of(client.users_info(user="U1"))).response.status_code == 429
    fake.inject_faults(0)
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"] is True
    assert fake.fault_counts == Counter({"500": 1, "429": 1})
    assert fake.posted_counts() == {"C1": 1}
    for bad in (
        lambda: fake.inject_faults(1.5),
        lambda: fake.inject_faults(0.1, kinds=("teapot",)),
        lambda: fake.inject_faults(0.1, kinds=()),
    ):
        with pytest.raises(ValueError):
            bad()


async def test_a_held_call_is_released_when_the_fake_closes() -> None:
    fake = FakeSlack()
    await fake.start()
    fake.inject_faults(1.0, kinds=("timeout",), hang_seconds=30)
    async with aiohttp.ClientSession() as session:
        pending = asyncio.create_task(
            session.post(
                fake.api_url + "chat.postMessage",
                json={"channel": "C1", "text": "hi"},
                headers={"Authorization": "Bearer xoxb-test"},
            )
        )
        while not fake.calls:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await fake.close()
        assert time.monotonic() - started < 5  # not the 30 s hold, nor aiohttp's 60 s wait
        async with await pending as response:  # answered at once, as a failure
            assert response.status == 503
    assert fake.messages == {}


# -- Block Kit validation ----------------------------------------------------------------------


async def test_valid_blocks_are_accepted(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Digest", "emoji": True}},
        section("*Customers* said…"),
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "3 quotes"}]},
        {
            "type": "actions",
            "block_id": "feedback",
            "elements": [
                {**button("Useful"), "style": "primary"},
                button("Not relevant", "not_relevant", "0"),
                {
                    "type": "static_select",
                    "action_id": "theme",
                    "placeholder": {"type": "plain_text", "text": "Theme"},
                    "options": [{"text": {"type": "plain_text", "text": "Speed"}, "value": "s"}],
                },
            ],
        },
        {**section("Share it"), "accessory": button("x" * 75, "share")},
    ]
    posted = await client.chat_postMessage(channel="C1", text="digest", blocks=blocks)
    assert fake.messages["C1"][0]["blocks"] == blocks
    assert posted["message"]["blocks"] == blocks


@pytest.mark.parametrize(
    ("blocks", "reason"),
    [
        ([{"type": "spreadsheet", "text": "x"}], "unsupported type: spreadsheet"),
        ([{"type": "actions", "elements": [button("x" * 76)]}], "cannot exceed 75"),
        ([{**section("x"), "accessory": button("x" * 76)}], "cannot exceed 75"),
        ([section("x")] * 51, "no more than 50"),
        ([section("x" * 3001)], "cannot exceed 3000"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "150"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "plain_text"),
        ([{"type": "actions", "elements": [button("ok", "a" * 256)]}], "255"),
        ([{"type": "actions", "elements": [button("ok", "a", "v" * 2001)]}], "2000"),
        ([{"type": "section"}], "text or fields"),
        ([{"type": "image", "image_url": "https://example.com/a.png"}], "alt_text"),
        ([{"type": "actions", "elements": [{"type": "slider", "action_id": "a"}]}], "slider"),
        ([{**section("x"), "colour": "red"}], "unknown property: colour"),
        ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "invalid value"),
        ([{"type": "context", "elements": []}], "must not be empty"),
    ],
)
async def test_invalid_blocks_are_refused(
    fake: FakeSlack, client: AsyncWebClient, blocks: list[dict[str, Any]], reason: str
) -> None:
    error = await error_of(client.chat_postMessage(channel="C1", text="x", blocks=blocks))
    assert error.response["error"] == "invalid_blocks"
    assert reason in error.response["response_metadata"]["messages"][0]
    assert fake.messages == {}


async def test_form_encoded_blocks_are_decoded_and_validated(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        url = fake.api_url + "chat.postMessage"
        form = {"token": "xoxb-test", "channel": "C1", "blocks": '[{"type": "divider"}]'}
        async with session.post(url, data=form) as response:
            assert (await response.json())["ok"] is True
        form["blocks"] = '[{"type": "nope"}]'
        async with session.post(url, data=form) as response:
            assert (await response.json())["error"] == "invalid_blocks"
    assert fake.calls[0].args["blocks"] == [{"type": "divider"}]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_update_and_ephemeral_validate_blocks_too(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="x")
    bad = [{"type": "nope"}]
    update = await error_of(client.chat_update(channel="C1", ts=posted["ts"], blocks=bad))
    assert update.response["error"] == "invalid_blocks"
    ephemeral = await error_of(client.chat_postEphemeral(channel="C1", user="U1", blocks=bad))
    assert ephemeral.response["error"] == "invalid_blocks"


# -- response_url ---------------------------------------------------------------------------------


async def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    payload = {"replace_original": True, "text": "Thanks!", "blocks": [section("Thanks!")]}
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.response_url("vote"), json=payload) as response:
            assert response.status == 200
            assert await response.json() == {"ok": True}
        bad = {"blocks": [{"type": "nope"}]}
        async with session.post(fake.response_url("vote"), json=bad) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "invalid_blocks"
    first, second = fake.calls_to("response_url")
    assert first.args == payload
    assert first.hook == "vote"
    assert second.args == bad


# -- views ----------------------------------------------------------------------------------------


def home(text: str) -> dict[str, Any]:
    return {"type": "home", "blocks": [section(text)]}


def modal(title: str = "Suggest", blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "suggest",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": blocks
        or [
            {
                "type": "input",
                "block_id": "idea",
                "label": {"type": "plain_text", "text": "Your idea"},
                "element": {"type": "plain_text_input", "action_id": "idea", "multiline": True},
            }
        ],
    }


async def test_views_publish_stores_the_home_view_per_user(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.views_publish(user_id="U1", view=home("for U1"))
    await client.views_publish(user_id="U2", view=home("for U2"))
    again = await client.views_publish(user_id="U1", view=home("U1 again"))
    assert fake.published_views == {"U1": home("U1 again"), "U2": home("for U2")}
    assert first["view"]["id"].startswith("V")
    assert again["view"]["id"] == first["view"]["id"]
    error = await error_of(client.views_publish(user_id="U1", view=modal()))
    assert error.response["error"] == "invalid_arguments"


async def test_views_open_push_and_update(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = await client.views_open(trigger_id="t1", view=modal())
    await client.views_push(trigger_id="t2", view=modal("Step 2"))
    assert [view["title"]["text"] for view in fake.opened_views] == ["Suggest", "Step 2"]
    view_id = opened["view"]["id"]
    await client.views_update(view_id=view_id, view=modal("Sent"))
    assert fake.opened_views[0]["title"]["text"] == "Sent"
    assert fake.calls_to("views.open")[0].args["view"] == modal()  # the record is untouched
    stale = await error_of(client.views_update(view_id=view_id, hash="0.0", view=modal()))
    assert stale.response["error"] == "hash_conflict"
    missing = await error_of(client.views_update(view_id="V404", view=modal()))
    assert missing.response["error"] == "not_found"


@pytest.mark.parametrize(
    ("view", "reason"),
    [
        (modal("x" * 25), "title must be between 1 and 24"),
        (modal(blocks=[section("x")] * 101), "between 1 and 100 blocks"),
        (modal(blocks=[{"type": "actions", "elements": [button("x" * 76)]}]), "75"),
        (modal(blocks=[{"type": "nope"}]), "unsupported type: nope"),
        ({**modal(), "submit": None}, "submit is required"),
        ({"type": "modal", "blocks": [section("x")]}, "title"),
    ],
)
async def test_invalid_views_are_refused(
    fake: FakeSlack, client: AsyncWebClient, view: dict[str, Any], reason: str
) -> None:
    error = await error_of(client.views_open(trigger_id="t", view=view))
    assert error.response["error"] == "invalid_arguments"
    assert reason in error.response["response_metadata"]["messages"][0]
    assert fake.opened_views == []


# -- OAuth ----------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_oauth_v2_access_exchanges_a_code_once(fake: FakeSlack) -> None:
    fake.oauth_codes["c1"] = {"access_token": "xoxb-new", "team": {"id": "T9"}}
    anonymous = AsyncWebClient(base_url=fake.api_url, retry_handlers=[])
    answer = await anonymous.oauth_v2_access(client_id="id", client_secret="secret", code="c1")
    assert answer["access_token"] == "xoxb-new"
    again = await error_of(anonymous.oauth_v2_access(client_id="id", client_secret="s", code="c1"))
    assert again.response["error"] == "invalid_code"


# -- running on a thread of its own -------------------------------------------------------------


def test_fake_thread_serves_a_blocking_caller_on_the_main_thread() -> None:
    with FakeThread(FakeSlack()) as running:
        fake = running.fake
        assert fake.api_url.startswith("http://127.0.0.1:")

        def post(text: str) -> urllib.request.Request:
            return urllib.request.Request(
                fake.api_url + "chat.postMessage",
                data=urllib.parse.urlencode({"channel": "C1", "text": text}).encode(),
                headers={"Authorization": "Bearer xoxb-test"},
            )

        # urllib blocks this thread; the fake answers from its own loop.
        with urllib.request.urlopen(post("hi"), timeout=5) as response:
            assert json.load(response)["ok"] is True
        assert running.call(fake.posted_counts) == {"C1": 1}

        running.call(fake.inject_faults, 1.0, kinds=("429",))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(post("again"), timeout=5)
        with refused.value:  # an HTTPError holds the open response
            assert refused.value.code == 429
            assert refused.value.headers["Retry-After"] == "1"
        assert running.call(lambda: fake.fault_counts["429"]) == 1
        # Coroutines are awaited on the fake's loop; exceptions come back to the caller.
        assert running.call(asyncio.sleep, 0, "awaited") == "awaited"
        with pytest.raises(KeyError):
            running.call(lambda: fake.messages["C404"])
        url = fake.api_url
    # Closed with the block: nothing listens any more.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "auth.test", timeout=5)
    with pytest.raises(RuntimeError):
        running.call(fake.posted_counts)


def test_fake_thread_reports_a_fake_that_cannot_start() -> None:
    class Broken:
        async def start(self) -> None:
            raise OSError("port taken")

        async def close(self) -> None:
            raise AssertionError("never started, never closed")

    thread = FakeThread(Broken())
    with pytest.raises(OSError, match="port taken"):
        thread.start()
    thread.stop()  # nothing to stop
