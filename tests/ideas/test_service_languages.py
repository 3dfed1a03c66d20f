"""What the services say reaches each person in their own language: a refusal in the language of
the member who caused it, a notice queued for one member in the language of that member (not of
whoever's action queued it). Through the real router and database, as the other idea tests."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.app import Application
from bot.compose.notices import answer_notice
from bot.domain import Role
from bot.events import Actor, CommandInvoked
from bot.i18n import speaking
from bot.messages import Message
from bot.services.escalation import escalate_waiting
from bot.services.permissions import OPERATOR
from bot.services.suggestions import answer_suggestion, file_suggestion, vote
from bot.storage.models import Delivery, Member, OutboundMessage, Suggestion, SuggestionResponse
from bot.storage.types import utcnow
from tests.conftest import make_member


def speaker(user_id: str, locale: str | None) -> Actor:
    """A member as their platform presents them, with the language it reports."""
    return Actor(platform="remote", user_id=user_id, locale=locale)


async def say(app: Application, who: Actor, command: str, text: str = "") -> Any:
    return await app.router.handle(CommandInvoked(who, command=command, text=text))


async def speaks(app: Application, member: Member, locale: str) -> None:
    async with app.db.transaction() as session:
        found = await session.get(Member, member.id)
        assert found is not None
        found.locale = locale


async def payloads_for(app: Application, user_id: str) -> list[dict[str, Any]]:
    """The messages queued for ``user_id``, oldest first (what the outbox will send them)."""
    async with app.db.transaction() as session:
        rows = await session.scalars(
            select(OutboundMessage.payload)
            .join(Delivery, Delivery.message_id == OutboundMessage.id)
            .where(Delivery.recipient == user_id)
            .order_by(Delivery.id)
        )
        return list(rows)


def stored(message: Message) -> dict[str, Any]:
    """The message as the outbox stores it (JSON: lists, not tuples)."""
    return json.loads(json.dumps(message.to_dict()))


def words(payload: dict[str, Any]) -> str:
    """Every text of a queued message, in one string to search."""
    message = Message.from_dict(payload)
    parts = [message.fallback]
    for card in message.cards:
        parts += [card.title, card.text, card.footer]
        parts += [f"{fact.label} {fact.value}" for fact in card.facts]
    return "\n".join(parts)


async def test_a_bad_quiet_hours_value_is_refused_in_each_members_language(
    app: Application,
) -> None:
    await make_member(app, "dora")
    await make_member(app, "yuki")
    await make_member(app, "eric")
    german = await say(app, speaker("dora", "de-DE"), "prefs", "quiet 25:00-07:00")
    japanese = await say(app, speaker("yuki", "ja-JP"), "prefs", "quiet 25:00-07:00")
    english = await say(app, speaker("eric", "en-US"), "prefs", "quiet 25:00-07:00")
    assert german.error is not None and "ist kein Ruhezeitraum" in german.error
    assert "22:00-07:00" in german.error and "quiet-hours" not in german.error
    assert japanese.error is not None and "通知停止時間の範囲ではありません" in japanese.error
    assert english.error == (
        "'25:00-07:00' is not a quiet-hours range; write it like 22:00-07:00 (your local time)."
    )


async def test_the_preferences_shown_are_labelled_in_the_members_language(
    app: Application,
) -> None:
    await make_member(app, "dora")
    reply = await say(app, speaker("dora", "de"), "prefs", "quiet 22:00-07:00")
    assert reply.error is None
    shown = "\n".join(words(message.to_dict()) for message in reply.messages)
    assert "Ruhezeiten" in shown and "22:00-07:00" in shown and "Quiet hours" not in shown


async def test_a_permission_refusal_names_roles_and_the_deed_in_the_members_language(
    app: Application,
) -> None:
    await make_member(app, "dora")
    await make_member(app, "yuki")
    idea = await say(app, speaker("dora", "de"), "suggest", "Ein Wiki für das Onboarding")
    assert idea.error is None
    german = await say(app, speaker("dora", "de"), "answer", "1 planned Machen wir.")
    japanese = await say(app, speaker("yuki", "ja"), "answer", "1 planned やります。")
    assert german.error is not None
    assert "Nur Manager oder Admins können Vorschläge beantworten" in german.error
    assert "Ihre Rolle: Mitarbeiter." in german.error
    assert "advocacy roles grant PLATFORM USER_ID ROLE" in german.error  # a command, as typed
    assert japanese.error is not None
    assert "提案に回答することができるのはマネージャーまたは管理者だけです" in japanese.error


async def test_a_refusal_from_a_service_check_is_in_the_members_language(
    app: Application,
) -> None:
    await make_member(app, "yuki")
    reply = await say(app, speaker("yuki", "ja"), "vote", "42")
    assert reply.error == "提案 #42 はありません。一覧は /suggestions で確認できます。"


async def test_an_english_managers_answer_reaches_a_german_author_in_german(
    app: Application,
) -> None:
    """The notice is composed for the author, in her language, and apart from the one composed
    for an English voter: the manager's language is only in the manager's own reply."""
    dora = await make_member(app, "dora")
    await make_member(app, "eric")
    await make_member(app, "mia", role=Role.MANAGER)
    await speaks(app, dora, "de")
    await say(app, speaker("dora", "de"), "suggest", "Ein Wiki für das Onboarding")
    await say(app, speaker("eric", "en"), "vote", "1")
    reply = await say(app, speaker("mia", "en"), "answer", "1 planned We ship it in May.")
    assert reply.error is None and "Answer recorded: #1" in words(reply.messages[0].to_dict())
    [to_author] = await payloads_for(app, "dora")
    [to_voter] = await payloads_for(app, "eric")
    async with app.db.transaction() as session:
        idea = await session.get(Suggestion, 1)
        response = await session.scalar(select(SuggestionResponse))
        assert idea is not None and response is not None
        with speaking("de"):
            german = stored(answer_notice(idea, response, responder_name="Mia"))
        with speaking("en"):
            english = stored(answer_notice(idea, response, responder_name="Mia"))
    assert to_author == german and to_author != english
    assert "Beantwortet von Mia" in words(to_author) and "Ihre Idee" in words(to_author)
    assert "Answered by Mia" in words(to_voter)  # the English voter's, composed apart
    assert "We ship it in May." in words(to_author) and "We ship it in May." in words(to_voter)


async def test_an_answer_by_the_operator_names_them_in_each_readers_language(
    app: Application,
) -> None:
    """The operator (the server's command line) has no name: each reader hears "a manager" in
    their own words, the German author, a Japanese voter and an English one alike."""
    dora = await make_member(app, "dora")
    yuki = await make_member(app, "yuki")
    eric = await make_member(app, "eric")
    await speaks(app, dora, "de")
    await speaks(app, yuki, "ja")
    async with app.db.transaction() as session:
        author = await session.get(Member, dora.id)
        assert author is not None
        idea = await file_suggestion(
            session, app.sealer, author, "Ein Wiki für das Onboarding", platform="remote"
        )
        for voter_id in (yuki.id, eric.id):
            voter = await session.get(Member, voter_id)
            assert voter is not None
            await vote(session, voter, idea.id)
        await answer_suggestion(
            session, app.sealer, OPERATOR, idea.id, "Kommt im Mai.", status="planned"
        )
    [german] = await payloads_for(app, "dora")
    [japanese] = await payloads_for(app, "yuki")
    [english] = await payloads_for(app, "eric")
    assert "Ein Manager" in words(german) and "A manager" not in words(german)
    assert "マネージャー" in words(japanese) and "A manager" not in words(japanese)
    assert "A manager" in words(english)


async def test_a_waiting_idea_is_flagged_to_each_manager_in_their_own_language(
    app: Application,
) -> None:
    await make_member(app, "eric")
    greta = await make_member(app, "greta", role=Role.MANAGER)
    kenji = await make_member(app, "kenji", role=Role.MANAGER)
    await make_member(app, "mia", role=Role.MANAGER)
    await speaks(app, greta, "de")
    await speaks(app, kenji, "ja")
    await say(app, speaker("eric", "en"), "suggest", "A wiki for onboarding")
    async with app.db.transaction() as session:
        flagged = await escalate_waiting(session, app.sealer, utcnow() + timedelta(days=8))
    assert flagged == 3
    [german] = await payloads_for(app, "greta")
    [japanese] = await payloads_for(app, "kenji")
    [english] = await payloads_for(app, "mia")
    assert "Idee #1 aus Ihrem Team wartet seit" in words(german)
    assert "Stimmen 0" in words(german) and "ohne Antwort" in words(german)
    assert "あなたのチームのアイデア #1 が" in words(japanese)
    assert "Idea #1 from your team has waited" in words(english)
    assert "A wiki for onboarding" in words(german)  # her words stay as written


async def test_an_anonymous_author_is_told_in_the_workspaces_language_not_their_own(
    app: Application,
) -> None:
    """A sealed notice in Japanese beside an anonymous idea would tell anyone reading the
    database that its author reads Japanese: it is written in the workspace's language."""
    hana = await make_member(app, "hana")
    await make_member(app, "mia", role=Role.MANAGER)
    await speaks(app, hana, "ja")
    await say(app, speaker("hana", "ja"), "suggest", "--anonymous 会議を短くする")
    reply = await say(app, speaker("mia", "en"), "answer", "1 planned We try it next week.")
    assert reply.error is None
    async with app.db.transaction() as session:
        rows = (
            await session.execute(
                select(OutboundMessage.payload, Delivery.sealed_recipient).join(
                    Delivery, Delivery.message_id == OutboundMessage.id
                )
            )
        ).all()
    sealed = [payload for payload, sealed_to in rows if sealed_to]
    assert len(sealed) == 1
    assert "Answered by" in words(sealed[0])
    assert not any(
        "\u3040" <= ch <= "\u30ff" for ch in words(sealed[0]).replace("会議を短くする", "")
    )


async def test_whoami_and_the_console_reply_name_the_role_in_the_members_language(
    app: Application,
) -> None:
    """The role is a word people read ("Rolle: Mitarbeiter"), not the stored value."""
    await make_member(app, "dora")
    await make_member(app, "yuki", role=Role.MANAGER)
    german = await say(app, speaker("dora", "de"), "whoami")
    shown = words(german.messages[0].to_dict())
    assert "Rolle Mitarbeiter" in shown and "employee" not in shown
    japanese = await say(app, speaker("yuki", "ja"), "console")
    assert japanese.error is None
    said = words(japanese.messages[0].to_dict())
    assert "（マネージャー）" in said or "(マネージャー)" in said, said
    assert "manager" not in said
    english = await say(app, speaker("dora", "en"), "whoami")
    assert "Role employee" in words(english.messages[0].to_dict())


async def test_a_rollups_period_is_written_in_words_of_the_managers_language(
    app: Application,
) -> None:
    """'/rollup --since 30d' is typed; the title says the period as each language says it."""
    await make_member(app, "yuki", role=Role.MANAGER)
    await make_member(app, "fran", role=Role.MANAGER)
    await make_member(app, "eric", role=Role.MANAGER)
    titles = {}
    for user, locale in (("yuki", "ja"), ("fran", "fr"), ("eric", "en")):
        reply = await say(app, speaker(user, locale), "rollup", "--since 30d")
        assert reply.error is None
        titles[locale] = reply.messages[0].cards[0].title
    assert "過去 30 日" in titles["ja"] and "30d" not in titles["ja"]
    assert "sur 30 jours" in titles["fr"] and "30d" not in titles["fr"]
    assert "last 30 days" in titles["en"]
    reply = await say(app, speaker("yuki", "ja"), "rollup", "--since 12w")
    assert "過去 84 日" in reply.messages[0].cards[0].title


async def test_a_manager_may_type_the_status_as_the_bot_writes_it_in_their_language(
    app: Application,
) -> None:
    """A Japanese manager reads "予定" on every card and types it back: it is the status, not
    the first word of the answer (which told the author "nothing changed" with "予定 ...")."""
    await make_member(app, "ann")
    await make_member(app, "yuki", role=Role.MANAGER)
    await make_member(app, "hans", role=Role.MANAGER)
    for idea in ("One", "Two", "Three"):
        await say(app, speaker("ann", "en"), "suggest", idea)
    japanese = await say(app, speaker("yuki", "ja"), "answer", "1 予定 来月から始めます。")
    assert japanese.error is None
    # The confirmation names the status with the word the cards use.
    confirmation = words(japanese.messages[0].to_dict())
    assert "「予定」" in confirmation
    assert "。 " not in confirmation  # Japanese sentences follow each other with no space
    german = await say(app, speaker("hans", "de"), "answer", "2 In Prüfung Wir sehen es uns an.")
    assert german.error is None
    english = await say(app, speaker("hans", "en"), "answer", "3 declined Not this year.")
    assert english.error is None
    async with app.db.transaction() as session:
        answers = {
            r.suggestion_id: (r.status_after, r.text)
            for r in await session.scalars(select(SuggestionResponse))
        }
    assert answers == {
        1: ("planned", "来月から始めます。"),
        2: ("under_review", "Wir sehen es uns an."),
        3: ("declined", "Not this year."),
    }


async def test_german_reads_whole_phrases_on_the_board_and_in_the_preferences(
    app: Application,
) -> None:
    """'Ideen anzeigen, die' stopped mid-sentence above the status buttons (German puts the verb
    last, so the English "Show ideas that are [Open]" cannot run on into them); quiet hours are
    "keine", not "keines"."""
    await make_member(app, "dora")
    await say(app, speaker("dora", "de"), "suggest", "Ein Wiki")
    board = await say(app, speaker("dora", "de"), "suggestions")
    titles = [card.title for card in board.messages[0].cards]
    assert "Ideen mit Status anzeigen" in titles and "Ideen anzeigen, die" not in titles
    prefs = await say(app, speaker("dora", "de"), "prefs")
    shown = words(prefs.messages[0].to_dict())
    assert "Ruhezeiten keine" in shown and "Stummgeschaltete Digests keine" in shown
