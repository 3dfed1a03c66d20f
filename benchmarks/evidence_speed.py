"""How fast customer evidence is found at company scale: 100,000 voice items over a year (about
half of them in the 180-day window the matcher reads), 1,000 open ideas.

Prints the time to build the voice index from the database (once per process, then only new
items are read), its memory, the time to match one new idea (what /suggest adds), and the time
to weigh a batch of 2,000 new items against the open ideas (what a voice import adds after each
batch, in its own transaction).

    python benchmarks/evidence_speed.py                 # 100,000 items into a scratch SQLite file
    python benchmarks/evidence_speed.py --items 20000 --ideas 200

Figures vary with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bot.services.suggestion_evidence import (  # noqa: E402
    LexicalMatcher,
    uncached_terms,
    weigh_new_voice,
)
from bot.services.voice_index import VoiceIndex, voice_index_for  # noqa: E402
from bot.storage import migrate  # noqa: E402
from bot.storage.database import Database  # noqa: E402
from bot.storage.models import Suggestion, VoiceItem  # noqa: E402
from bot.storage.types import utcnow  # noqa: E402
from content.voice.evidence import themes_of  # noqa: E402
from content.voice.themes import Taxonomy  # noqa: E402

SUBJECTS = [
    "refund", "invoice", "export", "dashboard", "checkout", "password reset", "mobile app",
    "weekly report", "support chat", "delivery", "subscription", "single sign-on", "search",
    "pricing page", "phone support", "onboarding call", "API", "integration", "calendar sync",
    "notification", "translation", "order history", "callback", "maintenance window",
]  # fmt: skip
PROBLEMS = [
    "is broken again", "takes weeks", "was charged twice", "never arrived", "is too slow",
    "is confusing", "crashed", "stopped working after the update", "is missing", "took days",
    "waited three hours for a reply about", "cannot find", "is great, thank you for",
]  # fmt: skip
DETAILS = [
    "", " since Monday.", " This is not acceptable.", " Please call me back.",
    " Our team relies on it every day.", " Otherwise a great product.", " We may cancel.",
]  # fmt: skip


def text_of(rng: random.Random, vocabulary: list[str]) -> str:
    words = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 6)))
    return f"The {rng.choice(SUBJECTS)} {rng.choice(PROBLEMS)} {words}{rng.choice(DETAILS)}"


async def seed(db: Database, items: int, ideas: int, taxonomy: Taxonomy) -> list[str]:
    rng = random.Random(7)
    # A long tail of product names, places and typos, as real tickets have.
    vocabulary = [f"w{n:04d}x" for n in range(3000)]
    now = utcnow()
    themes = themes_of(taxonomy)
    async with db.transaction() as session:
        for start in range(0, items, 5000):
            rows = []
            for n in range(start, min(items, start + 5000)):
                text = text_of(rng, vocabulary)
                rows.append(
                    {
                        "source": "bench",
                        "external_id": str(n),
                        "text": text,
                        "themes": themes(text),
                        "sentiment": rng.uniform(-1, 1),
                        "received_at": now - timedelta(days=rng.uniform(0, 365)),
                        "created_at": now,
                    }
                )
            await session.execute(insert(VoiceItem), rows)
        idea_texts = [
            f"Fix the {rng.choice(SUBJECTS)}: it {rng.choice(PROBLEMS)}" for _ in range(ideas)
        ]
        await session.execute(
            insert(Suggestion),
            [
                {"text": t, "status": "new", "platform": "bench", "created_at": now}
                for t in idea_texts
            ],
        )
    return [text_of(rng, vocabulary) for _ in range(2000)]


async def measure(items: int, ideas: int, database_url: str | None) -> Table:
    taxonomy = Taxonomy.load()
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'evidence.db'}")
        await migrate.upgrade(db)
        new_texts = await seed(db, items, ideas, taxonomy)
        matcher = LexicalMatcher(themes_of(taxonomy))
        table = Table(title=f"Customer evidence, {items:,} voice items, {ideas:,} open ideas")
        for column in ("Step", "Time", "Notes"):
            table.add_column(column)

        started = time.perf_counter()
        async with db.transaction() as session:
            index = voice_index_for(session, uncached_terms)
            await index.refresh(session)
        built = time.perf_counter() - started
        # Its memory, on a second index built under tracemalloc (which slows it: not timed).
        tracemalloc.start()
        async with db.transaction() as session:
            measured = VoiceIndex(uncached_terms)
            await measured.refresh(session)
            memory = tracemalloc.get_traced_memory()[0]
        del measured
        tracemalloc.stop()
        table.add_row(
            "Build the voice index (cold, once per process)",
            f"{built:.2f} s",
            f"{index.count:,} items in the window, {len(index.postings):,} words, "
            f"about {memory / 2**20:.0f} MiB",
        )

        rng = random.Random(3)
        times, found = [], []
        for _ in range(30):
            idea = f"Fix the {rng.choice(SUBJECTS)}: it {rng.choice(PROBLEMS)}"
            async with db.transaction() as session:
                started = time.perf_counter()
                matches = await matcher.for_idea(session, idea, utcnow())
                times.append(time.perf_counter() - started)
                found.append(len(matches))
        table.add_row(
            "Match one new idea (warm index)",
            f"{statistics.median(times) * 1000:.0f} ms median, {max(times) * 1000:.0f} ms max",
            f"{statistics.median(found):.0f} items matched (median)",
        )

        now = utcnow()
        async with db.transaction() as session:
            await session.execute(
                insert(VoiceItem),
                [
                    {
                        "source": "new",
                        "external_id": str(n),
                        "text": text,
                        "themes": themes_of(taxonomy)(text),
                        "received_at": now,
                        "created_at": now,
                    }
                    for n, text in enumerate(new_texts)
                ],
            )
            new_ids = list(
                await session.scalars(select(VoiceItem.id).where(VoiceItem.source == "new"))
            )
        started = time.perf_counter()
        async with db.transaction() as session:
            weighed = await weigh_new_voice(session, matcher, new_ids)
        table.add_row(
            f"Weigh a batch of {len(new_ids):,} new items against the open ideas",
            f"{time.perf_counter() - started:.2f} s",
            f"{weighed:,} ideas gained evidence (one transaction after the import's)",
        )
        await db.dispose()
        return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--ideas", type=int, default=1_000)
    parser.add_argument("--database-url", help="Default: a scratch SQLite file.")
    args = parser.parse_args()
    Console().print(asyncio.run(measure(args.items, args.ideas, args.database_url)))


if __name__ == "__main__":
    main()
