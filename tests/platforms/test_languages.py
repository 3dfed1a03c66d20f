"""Each member is answered in their platform's language, end to end through each adapter's real
path: Slack's users.info ``locale`` (asked with include_locale), the ``locale`` of Teams'
activities, the shell's ``--locale``. A German and a Japanese member get /help, a form and a
digest's next date in their language, and the member keeps the language the core recorded.

Some of what is checked is composed by the core (the help card by bot/chat, the digest list by
bot/compose), whose catalogues are translated on other branches. The checks compare the reply
with what the core composes under the member's language, so they hold before and after those
catalogues arrive; the checks that need them translated (marked CHAT / COMPOSE below) turn on
by themselves once ``bot/i18n/locale/de/chat.po`` / ``compose.po`` exist.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

import bot.chat.commands as chat_commands
from adapters.shell.mailbox import Mailbox
from adapters.shell.session import ShellSession
from adapters.teams.package import build_package
from bot.app import Application
from bot.chat.help import help_message
from bot.config import Settings
from bot.domain import Role
from bot.i18n import current_locale, speaking
from bot.i18n.formats import format_date, format_datetime, format_day
from bot.messages import Message
from bot.services import digests
from bot.services.digests import add_digest
from bot.services.members import add_member, find_member
from bot.services.permissions import OPERATOR
from bot.storage.models import Member
from tests.conftest import make_member
from tests.google_chat_support import google_chat_stack, message_event
from tests.slack_support import SlackStack, slack_stack
from tests.teams_support import TENANT, TeamsStack, TeamsUser, cards_in, teams_stack, user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "bot" / "i18n" / "locale"
# CHAT: the help card's words are translated once the chat catalogue is merged.
CHAT_TRANSLATED = (LOCALES / "de" / "chat.po").exists()
# COMPOSE: the digest list's dates are formatted by locale once the compose area is merged.
COMPOSE_TRANSLATED = (LOCALES / "de" / "compose.po").exists()
# Slack and Teams say "de-DE" and "ja-JP"; the core keeps the language it speaks.
PLATFORM_TAGS = {"de": "de-DE", "ja": "ja-JP"}


@pytest.fixture
def help_locales(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The language being spoken each time the core composed a help card."""
    spoken: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> Message:
        spoken.append(current_locale())
        return help_message(*args, **kwargs)

    monkeypatch.setattr(chat_commands, "help_message", recording)
    return spoken


def help_title(locale: str, role: str = "employee") -> str:
    """The help card's title as the core composes it in ``locale``."""
    with speaking(locale):
        return help_message(role).cards[0].title


def assert_help_in(locale: str, text: str) -> None:
    """``text`` (what the platform was sent) holds the help card composed in ``locale``."""
    title = help_title(locale)
    assert title in text
    if CHAT_TRANSLATED:  # CHAT: the title is no longer the English one
        assert title != help_title("en")
        assert help_title("en") not in text


def date_forms(locale: str, moment: datetime) -> list[str]:
    """The ways ``locale`` writes the day of ``moment`` (whichever form the composer picks)."""
    with speaking(locale):
        forms = [format_day(moment)]
        forms += [format_date(moment, form) for form in ("short", "medium", "long", "full")]
        forms += [format_datetime(moment, form) for form in ("short", "medium", "long")]
    return forms


def assert_date_in(locale: str, moment: datetime, text: str) -> None:
    # The shell wraps long lines inside its box: read the text as one line again.
    text = " ".join(text.replace("│", " ").split())
    if COMPOSE_TRANSLATED:  # COMPOSE: dates through bot.i18n.formats
        assert any(form in text for form in date_forms(locale, moment)), text
        if locale != "en":
            assert moment.strftime("%a %d %b") not in text
    else:  # until then: the date is there, in English
        assert moment.strftime("%d %b") in text


async def member_locale(app: Application, platform: str, user_id: str, workspace: str = "") -> str:
    async with app.db.transaction() as session:
        member = await find_member(session, platform, user_id, workspace)
        assert member is not None
        return str(member.locale)


async def weekly_digest(app: Application) -> datetime:
    """A scheduled digest; when it next goes out (what the digest list shows)."""
    async with app.db.transaction() as session:
        digest = await add_digest(
            session,
            OPERATOR,
            "Weekly picks",
            kind="content",
            audience="all",
            cron="0 9 * * mon",
            timezone="UTC",
        )
        [upcoming] = digests.next_fire_times(digest, 1)
    return upcoming


# ----- Slack --------------------------------------------------------------------------------


@pytest.fixture
async def slack(settings: Settings) -> AsyncIterator[SlackStack]:
    async with slack_stack(settings) as stack:
        stack.fake.add_user("UHANS", real_name="Hans Weber", locale="de-DE")
        stack.fake.add_user("UYUKI", real_name="Yuki Sato", locale="ja-JP")
        yield stack


def slack_replies(stack: SlackStack, since: int) -> str:
    """What the bot sent through response_urls and chat.postMessage after call ``since``."""
    calls = [
        call
        for call in stack.fake.calls[since:]
        if call.method in ("response_url", "chat.postMessage")
    ]
    return "\n".join(json.dumps(call.args, ensure_ascii=False) for call in calls)


@pytest.mark.parametrize(("locale", "person"), [("de", "UHANS"), ("ja", "UYUKI")])
async def test_slack_members_get_help_and_forms_in_their_slack_language(
    slack: SlackStack, help_locales: list[str], locale: str, person: str
) -> None:
    since = len(slack.fake.calls)
    await slack.command("/advocacy", "help", person)
    await slack.settle()
    assert await member_locale(slack.app, "slack", person) == locale
    assert help_locales == [locale]
    assert_help_in(locale, slack_replies(slack, since))

    # The adapter's own words: the modal's close button.
    await slack.command("/suggest", "", person)
    await slack.settle()
    modal = slack.fake.opened_views[-1]
    assert modal["close"]["text"] == {"de": "Abbrechen", "ja": "キャンセル"}[locale]


async def test_slack_reads_the_locale_only_when_asked_and_once_per_person(
    slack: SlackStack,
) -> None:
    for _ in range(3):
        await slack.command("/advocacy", "help", "UHANS")
    await slack.settle()
    [info] = slack.fake.calls_to("users.info")  # kept: one call for three events
    assert info.args["include_locale"] in ("1", "true", True)
    # The fake says what Slack says: no locale unless it is asked for.
    client = AsyncWebClient(token=slack.fake.bot_token, base_url=slack.fake.api_url)
    plain = await client.users_info(user="UHANS")
    assert "locale" not in plain["user"]
    asked = await client.users_info(user="UHANS", include_locale=True)
    assert asked["user"]["locale"] == "de-DE"


async def test_a_slack_member_who_chose_a_language_keeps_it(slack: SlackStack) -> None:
    async with slack.app.db.transaction() as session:
        await add_member(session, OPERATOR, "slack", "UHANS", name="Hans Weber")
        member = await find_member(session, "slack", "UHANS")
        assert member is not None
        member.locale, member.locale_chosen = "fr", True
    await slack.command("/advocacy", "help", "UHANS")
    await slack.settle()
    assert await member_locale(slack.app, "slack", "UHANS") == "fr"


@pytest.mark.parametrize(("locale", "person"), [("de", "UHANS"), ("ja", "UYUKI")])
async def test_a_slack_strategist_sees_the_next_digest_date_in_their_language(
    slack: SlackStack, locale: str, person: str
) -> None:
    async with slack.app.db.transaction() as session:
        await add_member(
            session, OPERATOR, "slack", person, name=person.title(), role=Role.STRATEGIST
        )
    upcoming = await weekly_digest(slack.app)
    since = len(slack.fake.calls)
    await slack.command("/advocacy", "digest list", person)
    await slack.settle()
    assert await member_locale(slack.app, "slack", person) == locale
    assert_date_in(locale, upcoming, slack_replies(slack, since))


# ----- Teams --------------------------------------------------------------------------------

HANS, YUKI = user("Hans"), user("Yuki")
PEOPLE = {"de": HANS, "ja": YUKI}


@pytest.fixture
async def teams(settings: Settings) -> AsyncIterator[TeamsStack]:
    async with teams_stack(settings) as stack:
        yield stack


def teams_replies(stack: TeamsStack, person: TeamsUser, since: int = 0) -> str:
    sent = stack.connector.activities.get(person.conversation, [])[since:]
    return "\n".join(json.dumps(cards_in(a), ensure_ascii=False) for a in sent)


@pytest.mark.parametrize("locale", ["de", "ja"])
async def test_teams_members_get_help_and_forms_in_their_teams_language(
    teams: TeamsStack, help_locales: list[str], locale: str
) -> None:
    person = PEOPLE[locale]
    status, _body = await teams.say(person, "help", locale=PLATFORM_TAGS[locale])
    assert status in (200, 201)
    await teams.settle()
    assert await member_locale(teams.app, "teams", person.aad, TENANT) == locale
    assert help_locales == [locale]
    assert_help_in(locale, teams_replies(teams, person))

    # The adapter's own words: a required field's error message on the form card.
    since = len(teams.connector.activities.get(person.conversation, []))
    await teams.say(person, "suggest", locale=PLATFORM_TAGS[locale])
    await teams.settle()
    form = teams_replies(teams, person, since)
    assert {"de": "ist ein Pflichtfeld.", "ja": "は必須です。"}[locale] in form


async def test_a_teams_member_follows_the_language_their_client_now_uses(
    teams: TeamsStack,
) -> None:
    await teams.say(HANS, "help", locale="de-DE")
    await teams.settle()
    assert await member_locale(teams.app, "teams", HANS.aad, TENANT) == "de"
    await teams.say(HANS, "help", locale="ja-JP")  # Teams switched to Japanese
    await teams.settle()
    assert await member_locale(teams.app, "teams", HANS.aad, TENANT) == "ja"
    await teams.say(HANS, "help", locale="ko-KR")  # not spoken here: nothing changes
    await teams.settle()
    assert await member_locale(teams.app, "teams", HANS.aad, TENANT) == "ja"


@pytest.mark.parametrize("locale", ["de", "ja"])
async def test_a_teams_strategist_sees_the_next_digest_date_in_their_language(
    teams: TeamsStack, locale: str
) -> None:
    person = PEOPLE[locale]
    async with teams.app.db.transaction() as session:
        await add_member(
            session,
            OPERATOR,
            "teams",
            person.aad,
            name=person.name,
            role=Role.STRATEGIST,
            workspace=TENANT,
        )
    upcoming = await weekly_digest(teams.app)
    await teams.say(person, "digest list", locale=PLATFORM_TAGS[locale])
    await teams.settle()
    assert await member_locale(teams.app, "teams", person.aad, TENANT) == locale
    assert_date_in(locale, upcoming, teams_replies(teams, person))


def test_the_teams_package_carries_the_command_menu_in_every_language() -> None:
    """Teams shows a client in German the German command menu, from de.json beside the manifest;
    the manifest itself stays English."""
    import re
    import zipfile

    archive = zipfile.ZipFile(
        io.BytesIO(build_package("12345678-1234-1234-1234-123456789abc", "https://bot.example.com"))
    )
    manifest = json.loads(archive.read("manifest.json"))
    info = manifest["localizationInfo"]
    assert info["defaultLanguageTag"] == "en"
    assert {entry["languageTag"] for entry in info["additionalLanguages"]} == {
        "de",
        "fr",
        "es",
        "pt-br",
        "ja",
    }
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    assert commands[0] == {"title": "help", "description": "What I can do for you"}
    german = json.loads(archive.read("de.json"))
    japanese = json.loads(archive.read("ja.json"))
    assert german["bots[0].commandLists[0].commands[0].description"] == "Was ich für Sie tun kann"
    assert japanese["bots[0].commandLists[0].commands[0].description"] == "できること"
    # The message actions: "Turn into suggestion", then "Log as customer voice".
    assert german["composeExtensions[0].commands[0].title"] == "Als Vorschlag einreichen"
    assert german["composeExtensions[0].commands[1].title"] == "Als Kundenstimme erfassen"
    assert japanese["composeExtensions[0].commands[0].title"] == "提案にする"
    for entry in info["additionalLanguages"]:
        strings = json.loads(archive.read(entry["file"]))
        assert strings["name.short"] == manifest["name"]["short"]  # the organisation's name
        assert len(strings["description.short"]) <= 80
        for key, text in strings.items():
            if key.startswith(("$", "name.", "description.")):
                continue
            node: Any = manifest  # every key names a text the manifest has
            for name, index in re.findall(r"(\w+)(?:\[(\d+)\])?", key):
                node = node[name] if index == "" else node[name][int(index)]
            assert isinstance(node, str) and node != text
            assert len(text) <= (32 if key.endswith(".title") else 128)


# ----- Google Chat ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["de", "ja"])
async def test_google_chat_members_get_help_and_forms_in_their_chat_language(
    settings: Settings, help_locales: list[str], locale: str
) -> None:
    """Chat sends the client's language with interaction events (``common.userLocale``)."""
    person = f"users/{locale}-1"
    async with google_chat_stack(settings) as chat:
        event = message_event(person, "Hana", "help")
        event["common"]["userLocale"] = PLATFORM_TAGS[locale]
        status, answer = await chat.post(event)
        assert status == 200
        await chat.settle()
        assert await member_locale(chat.app, "google_chat", person) == locale
        assert help_locales == [locale]
        assert_help_in(locale, json.dumps(answer, ensure_ascii=False))

        # The adapter's own words: optional fields marked so on the form.
        form = message_event(person, "Hana", "", command="suggest")
        form["common"]["userLocale"] = PLATFORM_TAGS[locale]
        status, answer = await chat.post(form)
        assert status == 200
        assert {"de": "(optional)", "ja": "(任意)"}[locale] in json.dumps(
            answer, ensure_ascii=False
        )


# ----- the shell ----------------------------------------------------------------------------

SHELL_WORDS = {
    "de": ("In dieser Shell:", "Sie sind Hans (Mitarbeiter,", "Auf Wiedersehen."),
    "ja": ("このシェルでは", "あなたは advocacy シェルの Yuki (従業員", "さようなら。"),
}


async def shell_session(
    app: Application, person: str, script: str, locale: str | None
) -> tuple[int, str]:
    out = io.StringIO()
    session = ShellSession(
        app,
        Mailbox(app.settings.data_dir / "shell"),
        person,
        locale=locale,
        stdin=io.StringIO(script),
        stdout=out,
        interactive=False,
    )
    return await session.run(), out.getvalue()


@pytest.mark.parametrize(("locale", "person"), [("de", "hans"), ("ja", "yuki")])
async def test_shell_members_get_help_in_the_language_of_their_locale_option(
    app: Application, help_locales: list[str], locale: str, person: str
) -> None:
    await make_member(app, person, platform="shell")
    status, text = await shell_session(app, person, "/help\n/react 9 tada\n", locale)
    assert status == 1  # the /react failed, in German or Japanese
    assert await member_locale(app, "shell", person) == locale
    assert help_locales == [locale]
    assert_help_in(locale, text)
    for words in SHELL_WORDS[locale]:  # the shell's own lines
        assert words in text
    assert {"de": "Hier gibt es keine Nachricht 9", "ja": "ここにメッセージ 9 はありません"}[
        locale
    ] in text
    assert "In this shell" not in text and "Bye." not in text and "employee" not in text


async def test_the_shell_speaks_a_language_chosen_in_prefs_over_its_locale_option(
    app: Application,
) -> None:
    member: Member = await make_member(app, "hans", platform="shell")
    async with app.db.transaction() as session:
        chosen = await session.get(Member, member.id)
        assert chosen is not None
        chosen.locale, chosen.locale_chosen = "fr", True
    _status, text = await shell_session(app, "hans", "/help\n", "de")
    assert await member_locale(app, "shell", "hans") == "fr"
    assert "Vous êtes Hans" in text and "Dans ce shell :" in text and "Au revoir." in text


@pytest.mark.parametrize(("locale", "person"), [("de", "hans"), ("ja", "yuki")])
async def test_a_shell_strategist_sees_the_next_digest_date_in_their_language(
    app: Application, locale: str, person: str
) -> None:
    await make_member(app, person, platform="shell", role=Role.STRATEGIST)
    upcoming = await weekly_digest(app)
    _status, text = await shell_session(app, person, "/digest list\n", locale)
    # The shell wraps its boxes at the terminal's width, inside a date too ("7.\n│ Dez.").
    unwrapped = " ".join(line.strip("│ ") for line in text.splitlines())
    assert_date_in(locale, upcoming, unwrapped)


def advocacy_shell(
    tmp_path: Path, stdin: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if key != "ADVOCACY_SHELL_LOCALE"
    }
    environment.update(
        ADVOCACY_SECRET_KEY="shell-languages-3f1c9a0e57d2b8846c1e",
        DATABASE_URL="",
        ADVOCACY_DATA_DIR="",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", "shell", *args],
        cwd=tmp_path,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_advocacy_shell_takes_a_locale_option_or_its_environment_variable(tmp_path: Path) -> None:
    german = advocacy_shell(tmp_path, "/help\n", "--user", "hans", "--new", "--locale", "de-DE")
    assert german.returncode == 0, german.stderr
    assert "In dieser Shell:" in german.stdout and "Auf Wiedersehen." in german.stdout
    japanese = advocacy_shell(
        tmp_path, "/help\n", "--user", "yuki", "--new", ADVOCACY_SHELL_LOCALE="ja_JP.UTF-8"
    )
    assert japanese.returncode == 0, japanese.stderr
    assert "このシェルでは" in japanese.stdout and "さようなら。" in japanese.stdout
    unknown = advocacy_shell(tmp_path, "", "--user", "hans", "--locale", "xx")
    assert unknown.returncode == 2
    assert "'xx' is not a language the bot speaks" in unknown.stderr


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        # The label is the field's name, whatever its gender or length: "Tu idea es obligatorio"
        # and "Sua ideia é obrigatório" were wrong, and German lacked the comma a long label's
        # relative clause needs before "ist".
        ("es", "«Tu idea» es un campo obligatorio."),
        ("pt_BR", "“Sua ideia” é um campo obrigatório."),
        ("de", "„Ihre Idee“ ist ein Pflichtfeld."),
    ],
)
def test_a_teams_form_s_required_field_message_reads_right_whatever_the_label(
    locale: str, expected: str
) -> None:
    from adapters.teams.cards import form_card
    from bot.compose.suggestion_cards import suggest_form

    with speaking(locale):
        card = form_card(suggest_form(()))
    [idea] = [item for item in card["body"] if item.get("id") == "text"]
    assert idea["errorMessage"] == expected
