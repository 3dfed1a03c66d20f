"""A quarter of KPI readings for the demo's objectives, so the report and its chart show a
trend on a fresh install: flat at ``before`` until ``change_days_ago``, then moving to
``after`` by today, with a little day-to-day noise (seeded: every load draws the same)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import KpiSource
from bot.services.kpi_readings import record_reading
from bot.services.permissions import OPERATOR
from bot.storage.models import Objective

QUARTER_DAYS = 91


def series(spec: dict[str, Any], seed: str) -> list[tuple[int, float]]:
    """(days ago, value) from a quarter ago to today."""
    draw = random.Random(seed)
    before, after = float(spec["before"]), float(spec["after"])
    change = int(spec["change_days_ago"])
    noise = float(spec.get("noise", 0))
    points = []
    for days_ago in range(QUARTER_DAYS, -1, -1):
        if days_ago >= change:
            level = before
        else:
            level = before + (after - before) * (change - days_ago) / change
        value = level + draw.uniform(-noise, noise)
        points.append((days_ago, round(value, 2 if abs(level) < 10 else 1)))
    return points


async def add_kpi_history(
    session: AsyncSession, objective: Objective, spec: dict[str, Any], now: datetime
) -> int:
    added = 0
    for days_ago, value in series(spec, objective.key):
        recorded = await record_reading(
            session,
            OPERATOR,
            objective,
            value,
            now - timedelta(days=days_ago),
            source=KpiSource.DEMO,
        )
        added += recorded.outcome == "added"
    return added
