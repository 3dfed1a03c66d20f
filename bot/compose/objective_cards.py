"""The list of objectives as a card: what everything in the bot serves, with each one's KPI."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import _
from bot.messages import Card, Fact, Message
from bot.storage.models import Objective


def objectives_message(found: Sequence[Objective]) -> Message:
    return Message(
        fallback=_("Objectives: {keys}").format(keys=", ".join(o.key for o in found)),
        cards=(
            Card(
                title=_("Our objectives"),
                facts=tuple(
                    Fact(
                        o.key,
                        _("{title} (KPI: {kpi})").format(title=o.title, kpi=o.kpi)
                        if o.kpi
                        else o.title,
                    )
                    for o in found
                ),
            ),
        ),
    )
