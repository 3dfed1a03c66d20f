"""A digest run writes to each reader in their language: a message per language, not per person."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.app import Application
from bot.compose.text import humanise_duration
from bot.domain import Role
from bot.i18n import _, current_locale, ngettext, speaking
from bot.messages import Message
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.members import get_member
from bot.services.permissions import OPERATOR
from bot.storage.models import Delivery, OutboundMessage
from tests.conftest import make_member


async def _speak(app: Application, user_id: str, locale: str | None) -> None:
    async with app.db.transaction() as session:
        member = await get_member(session, "remote", user_id)
        member.locale = locale


async def composed_in_language(session, digest, run_id, since, now):
    """A composer that says which language it was asked to write in."""
    said = ngettext("{count} theme", "{count} themes", 2).format(count=2)
    return Message(fallback=f"{current_locale()}|{said}", kind="voice_digest"), "1 theme"


async def test_each_language_among_the_readers_gets_its_own_message(app: Application) -> None:
    for user_id, locale in (("anna", "de"), ("bernd", "de"), ("chie", "ja"), ("dan", None)):
        await make_member(app, user_id)
        await _speak(app, user_id, locale)
    async with app.db.transaction() as session:
        digest = await add_digest(
            session,
            OPERATOR,
            "voice",
            kind="voice",
            audience="all",
            cron="0 9 * * 1",
            timezone="UTC",
        )
        outcome = await start_run(
            session, app.sealer, digest, actor=OPERATOR, composers={"voice": composed_in_language}
        )
    assert outcome is not None and outcome.queued == 4
    assert outcome.note == "1 theme"  # the run's note is said once, not once per language
    async with app.db.transaction() as session:
        rows = (
            await session.execute(
                select(OutboundMessage.payload, Delivery.member_id).join(
                    Delivery, Delivery.message_id == OutboundMessage.id
                )
            )
        ).all()
        names = {
            m.id: m.display_name
            for m in [
                await get_member(session, "remote", u) for u in ("anna", "bernd", "chie", "dan")
            ]
        }
    spoken = {names[member_id]: payload["fallback"].split("|")[0] for payload, member_id in rows}
    assert spoken == {"Anna": "de", "Bernd": "de", "Chie": "ja", "Dan": "en"}
    assert len({payload["fallback"] for payload, _ in rows}) == 3  # de, ja, en: three messages


async def test_a_rollup_is_composed_in_each_managers_language(app: Application) -> None:
    await make_member(app, "greta", role=Role.MANAGER, team="Support")
    await make_member(app, "hiro", role=Role.MANAGER, team="Sales")
    await _speak(app, "greta", "de")
    await _speak(app, "hiro", "ja")
    async with app.db.transaction() as session:
        digest = await add_digest(
            session,
            OPERATOR,
            "r",
            kind="rollup",
            audience="all",
            cron="0 9 * * 1",
            timezone="UTC",
        )
        outcome = await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert outcome is not None and outcome.queued == 2
    assert outcome.note.startswith("rollup of the last 7 days")  # the note stays English
    async with app.db.transaction() as session:
        rows = (
            await session.execute(
                select(OutboundMessage.payload, Delivery.recipient).join(
                    Delivery, Delivery.message_id == OutboundMessage.id
                )
            )
        ).all()
    said = {recipient: json.dumps(payload, ensure_ascii=False) for payload, recipient in rows}
    with speaking("de"):
        german = _("last {period}").format(period=humanise_duration(timedelta(days=7)))
    with speaking("ja"):
        japanese = _("last {period}").format(period=humanise_duration(timedelta(days=7)))
    assert german != japanese and "last 7 days" not in german
    assert german in said["greta"] and japanese in said["hiro"]
