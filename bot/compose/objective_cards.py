"""The list of objectives as a card: what everything in the bot serves, with each one's KPI."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Card, Fact, Message
from bot.storage.models import Objective


def objectives_message(found: Sequence[Objective]) -> Message:
    return Message(
        fallback="Objectives: " + ", ".join(o.key for o in found),
        cards=(
            Card(
                title="Our objectives",
                facts=tuple(
                    Fact(o.key, o.title + (f" (KPI: {o.kpi})" if o.kpi else "")) for o in found
                ),
            ),
        ),
    )
