"""Database upkeep the leader runs now and then.

SQLite chooses indexes by the statistics only ``ANALYZE`` gathers, and nothing gathers them on its
own (PostgreSQL's autovacuum does). Without them, on a year of data, it picked the deliveries'
status index where almost every row is "sent": the oldest-waiting query took 114 ms instead of
under 1 ms (benchmarks/reports.py). ``analysis_limit`` keeps each run to a sample, so it stays
quick on a large file."""

from __future__ import annotations

from sqlalchemy import text

from bot.storage.database import Database

ANALYSIS_LIMIT = 1000  # rows sampled per index


async def refresh_planner_statistics(db: Database) -> bool:
    """Gather SQLite's planner statistics; False (nothing to do) on PostgreSQL."""
    if not db.is_sqlite:
        return False
    async with db.transaction() as session:
        await session.execute(text(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}"))
        await session.execute(text("ANALYZE"))
    return True
