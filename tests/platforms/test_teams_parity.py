"""Teams as good as Slack (issue 17): "Turn into suggestion" on any message, a home card for
each member that equals Slack's Home tab, and a personal tab that opens the console. Real
botbuilder, real HTTP, the fake Bot Connector (which refuses invalid cards and follows the
Connector's REST paths), real JWT checks where a token matters."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack.blocks import core_action_id, home_view
from adapters.teams.cards import HOME_REFRESH
from adapters.teams.parse import SUGGEST_COMMAND, html_to_text
from bot.config import Settings
from bot.domain import Role
from bot.events import Actor, HomeOpened
from bot.services.members import add_member
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.storage.models import Suggestion
from tests.teams_fake import FakeConnector, adaptive_card_error
from tests.teams_support import (
    APP_ID,
    BOT,
    TENANT,
    TeamsStack,
    TeamsUser,
    action,
    actions_in,
    authenticated_teams_stack,
    cards_in,
    teams_stack,
    user,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ALICE, BOSS = user("Alice"), user("Boss")
CHANNEL = {
    "conversationType": "channel",
    "id": "19:support@thread.tacv2;messageid=1700000000000",
    "isGroup": True,
    "tenantId": TENANT,
}
BOT_ID = BOT["id"]
LINK = "https://teams.microsoft.com/l/message/19:support@thread.tacv2/1700000000000"


async def add(
    stack: TeamsStack, person: TeamsUser, role: Role = Role.EMPLOYEE, manager: bool = False
) -> None:
    async with stack.app.db.transaction() as session:
        await add_member(
            session,
            OPERATOR,
            "teams",
            person.aad,
            name=person.name,
            team="Support",
            role=role,
            workspace=TENANT,
            manager_user_id=BOSS.aad if manager else None,
        )


def sent_to(stack: TeamsStack, person: TeamsUser) -> list[dict[str, Any]]:
    return stack.connector.activities.get(person.conversation, [])


# ----- "Turn into suggestion" ------------------------------------------------------------------


def fetch_task(stack: TeamsStack, html: str) -> dict[str, Any]:
    """What Teams sends when someone picks "Turn into suggestion" on a channel message."""
    return stack.activity(
        "invoke",
        ALICE,
        conversation=CHANNEL,
        name="composeExtension/fetchTask",
        value={
            "commandId": SUGGEST_COMMAND,
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
            "commandId": SUGGEST_COMMAND,
            "commandContext": "message",
            "context": {"theme": "default"},
            "data": {**submit["data"], **inputs},
        },
    )


def dialog_card(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["task"]["type"] == "continue"
    card = answer["task"]["value"]["card"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert adaptive_card_error(card["content"]) is None
    return card["content"]


def inputs_of(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in card["body"] if item["type"].startswith("Input.")}


async def test_a_teams_message_turns_into_an_idea_with_its_link_kept(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    html = (
        "<p>We should <b>publish</b> the on-call rota &amp; its swaps</p>"
        "<script>alert('x')</script><div><at>everyone</at> agrees</div>"
    )
    async with authenticated_teams_stack(settings, monkeypatch) as (teams, identity):
        async with teams.app.db.transaction() as session:
            await add_objective(session, OPERATOR, "reply-within-1h", "Answer within one hour")
        teams.authorization = None
        status, _ = await teams.post(fetch_task(teams, html))
        assert status == 401  # no token: refused like any other request
        teams.authorization = "Bearer " + identity.issue_channel_token(
            APP_ID, teams.connector.service_url
        )
        await teams.say(ALICE, "hello")  # the bot knows Alice's personal chat
        before = len(sent_to(teams, ALICE))

        status, answer = await teams.post(fetch_task(teams, html))
        assert status == 200
        form = dialog_card(answer)
        assert answer["task"]["value"]["title"] == "Suggest an idea"
        fields = inputs_of(form)
        assert fields["text"]["value"] == html_to_text(html)
        assert "<" not in fields["text"]["value"] and "alert(" not in fields["text"]["value"]
        assert fields["anonymous"]["type"] == "Input.Toggle"
        assert "reply-within-1h" in {c["value"] for c in fields["objective"]["choices"]}

        # A refused answer comes back in the dialog, the reason above the fields, and every
        # choice as it was made.
        status, answer = await teams.post(
            submit_action(
                teams, form, {"text": " ", "objective": "reply-within-1h", "anonymous": "true"}
            )
        )
        again = dialog_card(answer)
        assert again["body"][0]["inlines"][0]["text"].startswith("⚠️ ")
        kept = inputs_of(again)
        assert kept["anonymous"]["value"] == "true"
        assert kept["objective"]["value"] == "reply-within-1h"
        assert await ideas(teams) == []

        submit = submit_action(
            teams,
            form,
            {"text": fields["text"]["value"], "objective": "reply-within-1h", "anonymous": "false"},
        )
        status, answer = await teams.post(submit)
        assert (status, answer) == (200, "")  # no response: Teams closes the dialog
        status, repeat = await teams.post(submit)  # Teams retrying the same activity
        assert (status, repeat) == (200, "")
        await teams.settle()
        [idea] = await ideas(teams)
        assert idea.source_url == LINK  # the original message, kept as the idea's source
        assert idea.text.startswith("We should publish the on-call rota & its swaps")
        assert idea.author_id is not None and not idea.anonymous
        # The confirmation reaches Alice in her personal chat, once; nothing in the channel.
        told = sent_to(teams, ALICE)[before:]
        assert len(told) == 1 and f"#{idea.id}" in json.dumps(cards_in(told[0]))
        assert not teams.connector.activities.get(CHANNEL["id"])

        # Anonymously, as Slack's shortcut does: no author, and no link to a message that
        # names its writer; the confirmation is private all the same.
        status, answer = await teams.post(fetch_task(teams, "<p>Rotate the release captain</p>"))
        form = dialog_card(answer)
        text = inputs_of(form)["text"]["value"]
        status, answer = await teams.post(
            submit_action(teams, form, {"text": text, "objective": "-", "anonymous": "true"})
        )
        assert (status, answer) == (200, "")
        await teams.settle()
        anonymous = (await ideas(teams))[-1]
        assert anonymous.text == "Rotate the release captain"
        assert anonymous.anonymous and anonymous.author_id is None
        assert anonymous.source_url is None
        assert f"#{anonymous.id}" in json.dumps(cards_in(sent_to(teams, ALICE)[-1]))
        assert not teams.connector.activities.get(CHANNEL["id"])


async def test_a_message_longer_than_an_idea_is_cut_in_the_dialog_and_said_so(
    settings: Settings,
) -> None:
    async with teams_stack(settings) as teams:
        await add(teams, ALICE)
        status, answer = await teams.post(fetch_task(teams, "<p>" + "word " * 1500 + "</p>"))
        assert status == 200
        form = dialog_card(answer)
        assert len(inputs_of(form)["text"]["value"]) == 3000
        notes = [
            item["inlines"][0]["text"] for item in form["body"] if item["type"] == "RichTextBlock"
        ]
        assert "The message was cut to its first 3,000 characters." in notes
        # A short one is not.
        status, answer = await teams.post(fetch_task(teams, "<p>Short</p>"))
        assert [i for i in dialog_card(answer)["body"] if i["type"] == "RichTextBlock"] == []


async def ideas(stack: TeamsStack) -> list[Suggestion]:
    async with stack.app.db.transaction() as session:
        return list(await session.scalars(select(Suggestion).order_by(Suggestion.id)))


def test_the_package_offers_both_message_actions_and_the_console_tab() -> None:
    from adapters.teams.package import manifest
    from adapters.teams.parse import VOICE_COMMAND

    document = manifest(APP_ID, "https://bot.example.com/")
    [extension] = document["composeExtensions"]
    commands = {c["id"]: c for c in extension["commands"]}
    assert set(commands) == {SUGGEST_COMMAND, VOICE_COMMAND}
    for command in commands.values():
        # What the v1.17 manifest schema asks of an action command on messages.
        assert (command["type"], command["context"], command["fetchTask"]) == (
            "action",
            ["message"],
            True,
        )
        assert len(command["id"]) <= 64 and len(command["title"]) <= 32
        assert len(command["description"]) <= 128
    [tab] = document["staticTabs"]
    assert set(tab) <= {"entityId", "name", "contentUrl", "websiteUrl", "scopes"}
    assert len(tab["entityId"]) <= 64 and len(tab["name"]) <= 128 and tab["scopes"] == ["personal"]
    assert tab["contentUrl"] == "https://bot.example.com/teams/tab"
    assert tab["websiteUrl"] == "https://bot.example.com/console"
    assert document["validDomains"] == ["bot.example.com"]


async def test_the_console_tab_is_a_page_teams_may_frame_and_links_to_the_console(
    settings: Settings,
) -> None:
    async with teams_stack(settings) as teams:
        base = teams.url.removesuffix("/api/messages")
        async with teams.session.get(f"{base}/teams/tab") as response:
            page = await response.text()
            headers = response.headers
        assert response.status == 200
        assert 'href="https://advocacy.example.com/console"' in page
        assert "frame-ancestors https://teams.microsoft.com" in headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in headers
        # The console itself still refuses every frame.
        async with teams.session.get(f"{base}/console") as console:
            assert console.headers["X-Frame-Options"] == "DENY"


async def test_the_console_tab_speaks_the_first_language_we_have_of_those_teams_asks_for(
    settings: Settings,
) -> None:
    """Teams' webview sends the client's Accept-Language, often with fallbacks (a Dutch client
    that also reads German): the tab speaks the best one we have, and says it varies by it."""
    async with teams_stack(settings) as teams:
        base = teams.url.removesuffix("/api/messages")
        pages = {}
        for header in ("nl-NL,nl;q=0.9,de;q=0.8", "de-DE", "ko"):
            async with teams.session.get(
                f"{base}/teams/tab", headers={"Accept-Language": header}
            ) as response:
                assert response.headers["Vary"] == "Accept-Language"
                pages[header] = await response.text()
        assert "<html lang=de>" in pages["nl-NL,nl;q=0.9,de;q=0.8"]
        assert "Konsole öffnen" in pages["nl-NL,nl;q=0.9,de;q=0.8"]
        assert "<html lang=de>" in pages["de-DE"]
        assert "<html lang=en>" in pages["ko"] and "Open the console" in pages["ko"]


# ----- the home card -----------------------------------------------------------------------


def numbers(texts: list[str]) -> list[str]:
    return sorted(n for text in texts for n in re.findall(r"\d+", text))


def strings(node: Any, key: str) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, str):
                found.append(value)
            else:
                found += strings(value, key)
    elif isinstance(node, list):
        for value in node:
            found += strings(value, key)
    return found


def card_actions(card: dict[str, Any]) -> list[str]:
    body = {k: v for k, v in card.items() if k != "refresh"}
    return sorted(strings(body, "verb"))


def answers_in(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in actions_in(card) if a.get("title") == "Answer / set status"]


def home_of(stack: TeamsStack, person: TeamsUser) -> dict[str, Any]:
    """The home card as Teams now shows it (after any update in place)."""
    for activity in reversed(sent_to(stack, person)):
        for card in cards_in(activity):
            if (card.get("refresh") or {}).get("action", {}).get("verb") == HOME_REFRESH:
                return card
    raise AssertionError(f"no home card for {person.name}")


async def slack_home_of(stack: TeamsStack, person: TeamsUser) -> dict[str, Any]:
    """What Slack's Home tab shows for the same member and the same data."""
    reply = await stack.app.router.handle(HomeOpened(Actor("teams", person.aad, TENANT)))
    return home_view(reply.messages[0])


async def refresh(stack: TeamsStack, person: TeamsUser, card_id: str) -> dict[str, Any]:
    """Teams' automatic refresh of the home card as its owner views it."""
    status, answer = await stack.post(
        stack.activity(
            "invoke",
            person,
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": HOME_REFRESH, "data": {}},
                "trigger": "automatic",
            },
            replyToId=card_id,
        )
    )
    assert status == 200 and answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert adaptive_card_error(answer["value"]) is None
    return answer["value"]


async def test_a_manager_s_home_card_equals_slack_s_home_tab_and_follows_every_answer(
    settings: Settings,
) -> None:
    connector = await FakeConnector().__aenter__()  # Teams' service outlives the bot's restart
    try:
        await _home_follows_every_answer(settings, connector)
    finally:
        await connector.__aexit__(None, None, None)


async def _home_follows_every_answer(settings: Settings, connector: FakeConnector) -> None:
    async with teams_stack(settings, connector) as teams:
        await add(teams, BOSS, Role.MANAGER)
        await add(teams, ALICE, manager=True)
        await teams.say(ALICE, "suggest Publish the on-call rota")
        await teams.say(ALICE, "suggest --anonymous Rotate the release captain")
        # Installed in his personal scope, the manager gets his home card at once.
        await teams.post(teams.activity("installationUpdate", BOSS, action="add"))
        await teams.settle()
        home = home_of(teams, BOSS)
        card_id = next(a["id"] for a in sent_to(teams, BOSS) if home in cards_in(a))
        assert adaptive_card_error(home) is None
        assert home["refresh"]["userIds"] == [BOSS.teams_id]
        slack = await slack_home_of(teams, BOSS)
        teams_texts = strings(home, "text")
        assert numbers(teams_texts) == numbers(strings(slack, "text"))
        assert card_actions(home) == sorted(core_action_id(a) for a in strings(slack, "action_id"))
        assert "Answer / set status" in strings(home, "title")
        assert "Rotate the release captain" in json.dumps(home)

        # Viewing it refreshes it: a third idea shows without anyone sending anything.
        await teams.say(ALICE, "suggest Shorter stand-ups")
        fresh = await refresh(teams, BOSS, card_id)
        assert "Shorter stand-ups" in json.dumps(fresh)
        assert card_actions(fresh) == sorted(
            core_action_id(a) for a in strings(await slack_home_of(teams, BOSS), "action_id")
        )

    # The bot restarts; the manager answers an idea from his home card: the card is updated
    # in place through the Connector (PUT on its activity), with the figures Slack would show.
    async with teams_stack(settings, connector) as teams:
        waiting = [a for a in strings(fresh, "title") if a == "Answer / set status"]
        status, _ = await teams.execute(BOSS, action(fresh, "Answer / set status"), card_id)
        assert status == 200
        await teams.settle()
        form = sent_to(teams, BOSS)[-1]
        assert "Your answer" in json.dumps(cards_in(form))
        updates_before = len(teams.connector.calls_to("update"))
        status, _ = await teams.execute(
            BOSS,
            action(cards_in(form)[0], "Answer"),
            form["id"],
            inputs={"status": "planned", "text": "Yes, from January"},
        )
        assert status == 200
        await teams.settle()
        [put] = [
            call
            for call in teams.connector.calls_to("update")[updates_before:]
            if call.path.endswith(f"/activities/{card_id}")
        ]
        assert put.method == "PUT" and put.status == 200
        updated = home_of(teams, BOSS)
        assert adaptive_card_error(updated) is None
        # The answered idea no longer waits on his home.
        answered = action(fresh, "Answer / set status")["data"]["suggestion"]
        assert answered in [a["data"].get("suggestion") for a in answers_in(fresh)]
        assert answered not in [a["data"].get("suggestion") for a in answers_in(updated)]
        assert len(answers_in(updated)) < len(waiting)
        slack = await slack_home_of(teams, BOSS)
        assert numbers(strings(updated, "text")) == numbers(strings(slack, "text"))
        assert card_actions(updated) == sorted(
            core_action_id(a) for a in strings(slack, "action_id")
        )


async def test_home_typed_in_the_personal_chat_sends_a_fresh_home_card(
    settings: Settings,
) -> None:
    async with teams_stack(settings) as teams:
        await add(teams, ALICE)
        await teams.say(ALICE, "home")
        home = home_of(teams, ALICE)
        assert "Hello Alice" in json.dumps(home) and "Suggest an idea" in json.dumps(home)
        assert home["refresh"]["userIds"] == [ALICE.teams_id]
        # Typed in a channel, the home stays private: Alice is pointed to her personal chat.
        await teams.say(ALICE, "home", conversation=CHANNEL)
        [told] = teams.connector.activities[CHANNEL["id"]]
        assert "personal chat" in json.dumps(cards_in(told))
        assert HOME_REFRESH not in json.dumps(told)


async def test_a_vote_on_the_home_card_counts_once_and_answers_with_the_home_as_it_now_is(
    settings: Settings,
) -> None:
    async with teams_stack(settings) as teams:
        await add(teams, BOSS, Role.MANAGER)
        await add(teams, ALICE)
        await teams.say(BOSS, "suggest Publish the on-call rota")
        await teams.say(ALICE, "home")
        home = home_of(teams, ALICE)
        card_id = sent_to(teams, ALICE)[-1]["id"]
        sent_before = len(sent_to(teams, ALICE))
        vote = action(home, "Vote")
        press = teams.activity(
            "invoke",
            ALICE,
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": vote["verb"], "data": vote["data"]}
            },
            replyToId=card_id,
        )
        status, answer = await teams.post(press)
        assert status == 200 and answer["type"] == "application/vnd.microsoft.card.adaptive"
        fresh = answer["value"]
        assert adaptive_card_error(fresh) is None
        assert fresh["refresh"]["userIds"] == [ALICE.teams_id]  # still her home
        assert "✓ Voted" in strings(fresh, "title")
        status, _ = await teams.post(press)  # Teams delivering the same press again
        assert status == 200
        status, other = await teams.post(dict(press, id="another-press"))  # pressed again
        assert "✓ Voted" in strings(other["value"], "title")
        await teams.settle()
        [idea] = await ideas(teams)
        assert idea.vote_count == 1
        assert len(sent_to(teams, ALICE)) == sent_before  # answered on the card, not in the chat
        # A client without Universal Actions sends the button's Action.Submit: the home card
        # is updated in place through the Connector.
        updates = len(teams.connector.calls_to("update"))
        await teams.submit(ALICE, vote, card_id)
        await teams.settle()
        assert len(teams.connector.calls_to("update")) == updates + 1
        assert "✓ Voted" in strings(home_of(teams, ALICE), "title")


async def test_installing_in_a_group_chat_sends_no_one_s_home_there(settings: Settings) -> None:
    group = {"conversationType": "groupChat", "id": "19:group@thread.v2", "tenantId": TENANT}
    async with teams_stack(settings) as teams:
        await add(teams, BOSS, Role.MANAGER)
        await teams.post(
            teams.activity(
                "conversationUpdate", BOSS, conversation=group, membersAdded=[{"id": BOT_ID}]
            )
        )
        await teams.settle()
        shown = teams.connector.activities.get(group["id"], [])
        assert shown  # the app said hello
        assert HOME_REFRESH not in json.dumps(shown)  # but the manager's rollup stays private
