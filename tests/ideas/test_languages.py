"""Members are spoken to in their language through the real router: the platform's hint until
they choose one with /prefs language, their choice after that; command names stay English."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import Application
from bot.chat.form_checks import check_form_answer
from bot.compose import actions
from bot.domain import Role
from bot.events import Actor, CommandInvoked, FormSubmitted, MessageReceived, Reply
from bot.i18n import NATIVE_NAMES
from bot.services.suggestions import file_suggestion
from bot.storage.models import Member, MemberIdentity
from tests.conftest import make_member


def person(user_id: str, locale: str | None = None) -> Actor:
    return Actor(platform="remote", user_id=user_id, locale=locale)


async def say(app: Application, who: Actor, command: str, text: str = "") -> Reply:
    return await app.router.handle(CommandInvoked(who, command=command, text=text))


def said(reply: Reply) -> str:
    """Everything a reply shows: its error, texts, card titles, texts and facts."""
    parts = [reply.error or ""]
    for message in reply.messages:
        parts.append(message.fallback)
        for card in message.cards:
            parts += [card.title, card.text or ""]
            parts += [f"{fact.label}: {fact.value}" for fact in card.facts]
    return "\n".join(part for part in parts if part)


def prefs_language(reply: Reply) -> str:
    """The value of the language line on the /prefs card (its last)."""
    return reply.messages[-1].cards[0].facts[-1].value


async def stored(app: Application, user_id: str) -> tuple[str | None, bool]:
    async with app.db.transaction() as session:
        member = await session.scalar(
            select(Member).join(MemberIdentity).where(MemberIdentity.user_id == user_id)
        )
        assert member is not None
        return member.locale, member.locale_chosen


async def an_idea(app: Application) -> int:
    await make_member(app, "erin")
    async with app.db.transaction() as session:
        author = await session.scalar(
            select(Member).join(MemberIdentity).where(MemberIdentity.user_id == "erin")
        )
        assert author is not None
        idea = await file_suggestion(
            session, app.sealer, author, "Answer every customer within the hour", platform="remote"
        )
        return idea.id


async def schedule_friday_digest(app: Application, who: Actor) -> Reply:
    return await app.router.handle(
        FormSubmitted(
            who,
            form_id=actions.FORM_DIGEST_ADD,
            values={
                "name": f"Picks {who.user_id}",
                "kind": "content",
                "audience": "all",
                "channel": "",
                "days": "fri",
                "time": "16:00",
                "timezone": "Europe/Berlin",
                "clock": "zone",
            },
        )
    )


async def test_a_german_member_gets_help_confirmations_prefs_and_dates_in_german(
    app: Application,
) -> None:
    await make_member(app, "hans", role=Role.STRATEGIST)
    hans = person("hans", "de-DE")  # Slack's or Teams' locale for him
    idea = await an_idea(app)

    help_card = (await say(app, hans, "help")).messages[0].cards[0]
    assert help_card.title == "Was Sie hier tun können (Ihre Rolle: Stratege)"
    descriptions = {fact.label: fact.value for fact in help_card.facts}
    assert descriptions["/help"] == "diese Liste"  # the command's name stays English
    assert descriptions["/vote ID"] == "für Vorschlag ID stimmen (eine Stimme pro Person)"

    voted = said(await say(app, hans, "vote", str(idea)))
    assert f"Ihre Stimme für #{idea} ist gezählt" in voted
    assert "1 Stimme." in voted
    again = said(await say(app, hans, "vote", str(idea)))
    assert f"/unvote {idea}" in again and "bereits" in again

    prefs = await say(app, hans, "prefs")
    assert prefs_language(prefs).startswith("Deutsch (aus den Einstellungen Ihrer Plattform")

    scheduled = said(await schedule_friday_digest(app, hans))
    assert "„Picks hans“ geplant; er wird erstmals am Freitag, " in scheduled
    assert "um 16:00 (Europe/Berlin)" in scheduled

    typo = await app.router.handle(MessageReceived(hans, text="sugest more coffee"))
    assert said(typo).strip() == (
        "Meinten Sie /suggest? Geben Sie /help ein, um zu sehen, was ich kann."
    )


async def test_a_japanese_member_gets_help_confirmations_prefs_and_dates_in_japanese(
    app: Application,
) -> None:
    await make_member(app, "yuki", role=Role.STRATEGIST)
    yuki = person("yuki")  # no hint from the platform: she chooses
    idea = await an_idea(app)

    chosen = await say(app, yuki, "prefs", "language 日本語")
    # The confirmation is already in the language just chosen.
    assert said(chosen).startswith(
        "今後は、プラットフォームの設定にかかわらず 日本語 でお話しします。"
    )
    assert prefs_language(chosen).startswith("日本語（あなたが選択")

    help_card = (await say(app, yuki, "help")).messages[0].cards[0]
    assert help_card.title == "ここでできること（あなたのロール: ストラテジスト）"
    assert {fact.label: fact.value for fact in help_card.facts}["/help"] == "この一覧"

    voted = said(await say(app, yuki, "vote", str(idea)))
    assert f"#{idea} への投票を受け付けました。現在 1 票です。" in voted

    scheduled = said(await schedule_friday_digest(app, yuki))
    assert "「Picks yuki」を予約しました。初回配信は " in scheduled
    assert "金曜日 16:00（Europe/Berlin）" in scheduled

    refused = await say(app, yuki, "vote", "abc")
    assert refused.error == "「abc」は提案番号ではありません。12 や #12 のように入力してください。"


async def test_prefs_language_round_trip(app: Application) -> None:
    await make_member(app, "ana")
    ana = person("ana", "pt-BR")
    assert prefs_language(await say(app, ana, "prefs")).startswith("Português (Brasil) (das")
    assert await stored(app, "ana") == ("pt_BR", False)

    german = await say(app, ana, "prefs", "language de")
    assert said(german).startswith("Ab jetzt spreche ich Deutsch mit Ihnen")
    assert prefs_language(german).startswith("Deutsch (Ihre Wahl")
    assert await stored(app, "ana") == ("de", True)

    # A typo is refused in the language spoken, with the closest one and every language by name.
    typo = await say(app, ana, "prefs", "language deutsh")
    assert typo.error is not None
    assert "„deutsh“ spreche ich nicht. Meinten Sie Deutsch?" in typo.error
    assert all(name in typo.error for name in NATIVE_NAMES.values())
    unknown = await say(app, ana, "prefs", "language klingon")
    assert unknown.error == (
        "„klingon“ spreche ich nicht. Ich spreche: English, Deutsch, Français, Español, "
        "Português (Brasil), 日本語."
    )
    assert await stored(app, "ana") == ("de", True)

    for typed, locale in (("French", "fr"), ("español", "es"), ("ja-JP", "ja"), ("EN", "en")):
        await say(app, ana, "prefs", f"language {typed}")
        assert await stored(app, "ana") == (locale, True)

    back = await say(app, ana, "settings", "language auto")
    assert said(back).startswith(
        "Volto a seguir o idioma da sua plataforma; por enquanto é Português (Brasil)."
    )
    assert await stored(app, "ana") == ("pt_BR", False)


async def test_the_platforms_language_is_followed_until_the_member_chooses_and_not_after(
    app: Application,
) -> None:
    await make_member(app, "kenji")
    in_japanese = person("kenji", "ja-JP")
    assert "この一覧" in said(await say(app, in_japanese, "help"))
    assert await stored(app, "kenji") == ("ja", False)

    # The platform changes its mind (he switched Slack to German): followed, he chose nothing.
    assert "diese Liste" in said(await say(app, person("kenji", "de-DE"), "help"))
    assert await stored(app, "kenji") == ("de", False)

    await say(app, in_japanese, "prefs", "language English")
    assert await stored(app, "kenji") == ("en", True)
    for hint in ("ja-JP", "de-DE", None):
        assert "this list" in said(await say(app, person("kenji", hint), "help"))
    assert await stored(app, "kenji") == ("en", True)

    followed = await say(app, in_japanese, "prefs", "language auto")
    assert "プラットフォームの言語に戻しました。現在は 日本語 です。" in said(followed)
    assert "この一覧" in said(await say(app, in_japanese, "help"))
    assert await stored(app, "kenji") == ("ja", False)


async def test_a_form_answer_checked_on_its_own_is_refused_in_the_members_language(
    app: Application,
) -> None:
    """The shell asks a form field by field, outside the router: the check still speaks German."""
    await make_member(app, "hans", role=Role.STRATEGIST)
    await say(app, person("hans"), "prefs", "language de")
    problem = await check_form_answer(
        app.db, person("hans"), actions.FORM_DIGEST_ADD, "time", "25:99", {"days": "fri"}
    )
    assert problem == "„25:99“ ist keine Uhrzeit; schreiben Sie sie wie 09:00 oder 17:30."
    newcomer = await check_form_answer(
        app.db, person("mei", "ja-JP"), actions.FORM_DIGEST_ADD, "time", "25:99", {}
    )
    assert newcomer == "「25:99」は時刻ではありません。09:00 や 17:30 のように入力してください。"
