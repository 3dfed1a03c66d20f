"""One digest to many Microsoft Teams members through the fake Bot Connector service with Teams'
limits for bots (7 messages a second per conversation, 50 requests a second per tenant): wall time
against the floor (members / 50), lost, duplicates, and the rate against what users of Microsoft's
Company Communicator report (about 45,000 Teams users in 40 minutes).

A bot can message a Teams member only through a conversation reference, which Teams hands over
when the member first writes to the bot or the app is installed in their team (the adapter then
opens a 1:1 chat per member with createConversation, 50 a second). Installing for 10,000 people
would be a benchmark of its own, so the references are written in bulk through the project's own
storage layer (``ConversationStore.remember_personal_chats``, what a roster sync stores), and the
members are imported with the real `advocacy members import`. Then the real `advocacy digest run`
sends, in a child process, exactly as an admin would run it.

    python benchmarks/fanout_teams.py                  # 10,000 members
    python benchmarks/fanout_teams.py --members 1000

Figures vary with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fanout import (  # noqa: E402
    FULL_RECIPIENTS,
    LEASE_SECONDS,
    QUICK_RECIPIENTS,
    ScaleOutcome,
    add_digest,
    import_members,
    machine_load,
    print_section,
    run_peak,
    scale_figures,
    start_digest_run,
    start_logged_run,
    watch,
)
from benchmarks.fanout_seed import bulk_members  # noqa: E402
from benchmarks.results import Comparison, Figure, Section  # noqa: E402
from tests.fake_thread import FakeThread  # noqa: E402
from tests.teams_fake import FakeConnector, adaptive_card_error  # noqa: E402

TENANT = "tenant-bench"
BOT_ID = "28:bot-app-id"
PER_CONVERSATION = 7.0  # Teams: messages a second per conversation, for a bot
PER_TENANT = 50.0  # Teams: requests a second per tenant, for a bot
# Company Communicator's users report about 45,000 Teams users reached in 40 minutes.
COMPANY_COMMUNICATOR = 45_000 / (40 * 60)  # 18.75 users a second
SEED_CHUNK = 10_000  # conversation references written per transaction
# The runs at scale: the fake's tenant cap and the adapter's pacing raised so they take minutes.
SCALE_RUNS = {
    True: ((3_000, 500.0), (6_000, 1_000.0)),  # quick
    False: ((100_000, 500.0), (300_000, 1_000.0)),
}


@dataclass
class TeamsOutcome:
    members: int
    wall: float
    lost: int
    duplicates: int
    rate_limited: int
    peak_mib: float
    card_problem: str | None  # why Teams would refuse the card sent, or None
    # Seconds from the command's start to the first and to the last send the fake accepted.
    first_send: float = 0.0
    last_send: float = 0.0

    @property
    def floor(self) -> float:
        return self.members / PER_TENANT

    @property
    def per_second(self) -> float:
        return (self.members - self.lost) / self.wall

    @property
    def sending_span(self) -> float:
        """First to last send: the pacing alone, without start-up, composing and queueing."""
        return max(self.last_send - self.first_send, 1e-9)


def aad_ids(members: int) -> list[str]:
    return [f"aad-bench-{n:06d}" for n in range(members)]


def env_for(work: Path) -> dict[str, str]:
    """Teams on, unauthenticated (a local emulator's set-up: the fake asks for no token), and no
    Slack: the run sends through the Teams adapter only."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MICROSOFT_APP_", "TEAMS_", "DATABASE_"))
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'advocacy.db'}",
            "ADVOCACY_DATA_DIR": str(work / "data"),
            "ADVOCACY_SECRET_KEY": "fanout-teams-key-12271a1ee8d8707b639dd8e1",
            "LOG_LEVEL": "WARNING",
            "MICROSOFT_APP_ID": "",
            "PUBLIC_URL": "https://advocacy.example.com",
            "DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        }
    )
    return env


async def seed_conversations(
    env: dict[str, str], work: Path, members: list[str], service_url: str
) -> None:
    """A 1:1 conversation reference per member, as a roster sync stores them after opening the
    chats: through the adapter's ConversationStore, in transactions of SEED_CHUNK."""
    from adapters.teams.references import ConversationStore
    from bot.app import open_application
    from bot.config import Settings
    from bot.services.adapter_store import AdapterStore

    settings = Settings.from_env(env, dotenv=work / ".env")
    async with open_application(settings, with_adapters=False) as app:
        store = ConversationStore(AdapterStore(app.db, app.sealer, "teams"))
        for start in range(0, len(members), SEED_CHUNK):
            await store.remember_personal_chats(
                _chats(members, start, start + SEED_CHUNK, service_url)
            )


def _chats(
    members: list[str], start: int, stop: int, service_url: str
) -> list[tuple[str, str, Any]]:
    """The 1:1 conversation references of ``members[start:stop]``."""
    from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference

    return [
        (
            TENANT,
            aad,
            ConversationReference(
                bot=ChannelAccount(id=BOT_ID, name="Advocacy"),
                user=ChannelAccount(id=f"29:{aad}", name=f"Employee {n}", aad_object_id=aad),
                conversation=ConversationAccount(
                    id=f"a:1on1-{aad}", conversation_type="personal", tenant_id=TENANT
                ),
                channel_id="msteams",
                service_url=service_url,
            ),
        )
        for n, aad in enumerate(members[start:stop], start)
    ]


@contextmanager
def tenant(
    members: int, rate: float = PER_TENANT, bulk: bool = False
) -> Iterator[tuple[FakeThread[FakeConnector], Path, dict[str, str]]]:
    """A scratch directory, the fake Connector on its thread with Teams' limits (the tenant's
    cap at ``rate``), and ``members`` members the bot can reach, with a digest to send them;
    ``bulk``: the members are inserted in bulk rather than imported."""
    connector = FakeConnector()
    connector.per_conversation_rate = PER_CONVERSATION
    connector.per_tenant_rate = rate
    # The schema check costs ~40 ms a card on the fake's side, which would make the fake the
    # bottleneck at 50 a second; the card actually sent is checked once, after the run.
    connector.validate_cards = False
    with tempfile.TemporaryDirectory() as scratch, FakeThread(connector) as fake:
        work = Path(scratch)
        env = env_for(work)
        env["TEAMS_TENANT_RATE"] = str(rate)  # the bot is told the fake's cap
        people = aad_ids(members)
        if bulk:
            bulk_members(env, work, "teams", TENANT, people)
        else:
            import_members(work, env, "teams", TENANT, people)
        asyncio.run(seed_conversations(env, work, people, connector.service_url))
        add_digest(work, env)
        yield fake, work, env


def first_card(connector: FakeConnector) -> Any:
    """The first Adaptive Card the fake received (read once the run is over)."""
    for activities in list(connector.activities.values()):
        for activity in activities:
            for attachment in activity.get("attachments") or []:
                return attachment.get("content")
    return None


def teams_run(members: int) -> TeamsOutcome:
    with tenant(members) as (fake, work, env):
        connector = fake.fake
        started = time.monotonic()
        child = start_digest_run(work, env)
        watch(lambda: len(connector.posted_counts()), members, None, "Teams digest run")
        child.wait()
        wall = time.monotonic() - started
        posted = connector.posted_counts()
        card = first_card(connector)
        sent_at = connector.sent_at or [started]
        return TeamsOutcome(
            members=members,
            wall=wall,
            lost=members - len(posted),
            duplicates=sum(connector.duplicates().values()),
            rate_limited=connector.rate_limited_count,
            peak_mib=run_peak(work),
            card_problem=adaptive_card_error(card) if card is not None else "no card was sent",
            first_send=sent_at[0] - started,
            last_send=sent_at[-1] - started,
        )


def scale_run(members: int, rate: float, *, enqueue_only: bool = False) -> ScaleOutcome:
    """One digest to ``members`` members of one tenant, the fake's tenant cap and the adapter's
    pacing (TEAMS_TENANT_RATE) raised to ``rate`` requests a second (Teams' own is 50: at it,
    300,000 members take 100 minutes). ``enqueue_only``: queueing alone (its memory and time),
    nothing sent, so lost counts every member."""
    with tenant(members, rate, bulk=True) as (fake, work, env):
        connector = fake.fake
        child, log, started = start_logged_run(work, env, enqueue_only=enqueue_only)
        if not enqueue_only:
            watch(lambda: len(connector.posted_counts()), members, None, f"Teams, {members:,}")
        status = child.wait()
        wall = time.monotonic() - started
        log.thread.join(5)
        if status != 0:
            raise RuntimeError("advocacy digest run failed:\n" + "".join(log.tail))
        return ScaleOutcome(
            platform="Teams",
            recipients=members,
            rate=rate,
            wall=wall,
            lost=members - len(connector.posted_counts()),
            duplicates=sum(connector.duplicates().values()),
            rate_limited=connector.rate_limited_count,
            peak_mib=run_peak(work),
            queue_seconds=log.seconds,
            queued_after=log.after,
        )


def measure_at_scale(quick: bool) -> Section:
    """One digest to 100,000 and to 300,000 members of one tenant (quick: 3,000 and 6,000),
    the tenant's cap raised so each run takes minutes. Each runs once."""
    console = Console(stderr=True, highlight=False)
    load = os.getloadavg()[0]
    figures: list[Figure] = []
    comparisons: list[Comparison] = []
    sizes = []
    for members, rate in SCALE_RUNS[quick]:
        console.print(f"[dim]fan-out at scale, Teams: {members:,} members at {rate:g}/s[/]")
        outcome = scale_run(members, rate)
        more, comparison = scale_figures(f"Teams, {members:,}", [outcome])
        figures += more
        comparisons.append(comparison)
        sizes.append(f"{members:,} (cap {rate:g}/s)")
    return Section(
        title="Fan-out at scale: one digest to "
        + " and to ".join(f"{m:,}" for m, _ in SCALE_RUNS[quick])
        + " Microsoft Teams members",
        figures=figures,
        comparisons=comparisons,
        notes=[
            "The real `advocacy digest run` in a child process on a scratch SQLite file, "
            "through the real Teams adapter to the fake Bot Connector service, all members in "
            f"one tenant, one personal chat each: {', '.join(sizes)}. The fake's tenant cap "
            "and the bot's pacing (TEAMS_TENANT_RATE; Teams' own limit is 50 a second) are "
            "raised together "
            "so each run takes minutes. Members and their conversation references are written "
            "in bulk (benchmarks/fanout_seed.py; ConversationStore.remember_personal_chats), "
            "spread over 8 languages.",
            "Queueing time is what the run reports once every delivery is committed to the "
            "outbox. Peak memory is the child's own VmHWM, sending included. Company "
            "Communicator's users report 90 % failures at 300,000 members; lost counts "
            "members the fake never received a message for.",
            machine_load(load),
        ],
    )


def measure(repeat: int, quick: bool, *, long_repeat: int = 1) -> Section:
    """One digest to 10,000 Teams members (quick: 1,000) against the floor and against Company
    Communicator's reported rate. Full runs take 200 s each, so they repeat ``long_repeat``
    times (at most ``repeat``)."""
    console = Console(stderr=True, highlight=False)
    load = os.getloadavg()[0]
    members = QUICK_RECIPIENTS if quick else FULL_RECIPIENTS
    runs = max(1, repeat if quick else min(repeat, long_repeat))
    outcomes: list[TeamsOutcome] = []
    for number in range(1, runs + 1):
        console.print(f"[dim]fan-out, Teams {number}/{runs}: ours, {members:,} members[/]")
        outcomes.append(teams_run(members))
    size = f"{members:,}"
    floor = members / PER_TENANT
    problems = {o.card_problem for o in outcomes if o.card_problem}
    best = max(o.per_second for o in outcomes)
    figures = [
        Figure(f"Teams, {size} members: wall (ours)", "s", [o.wall for o in outcomes]),
        Figure("Teams: members a second (ours)", "users/s", [o.per_second for o in outcomes]),
        Figure(
            "Teams: start to first message (ours)",
            "s",
            [o.first_send for o in outcomes],
            note="interpreter start-up, composing, queueing",
        ),
        Figure(
            "Teams: first to last message (ours)",
            "s",
            [o.sending_span for o in outcomes],
            note="the pacing alone",
        ),
        Figure(f"Teams: floor ({size} / {PER_TENANT:g} per second)", "s", [floor]),
        Figure("Teams: lost", "messages", [float(o.lost) for o in outcomes]),
        Figure("Teams: duplicates", "messages", [float(o.duplicates) for o in outcomes]),
        Figure(
            "Teams: 429s answered to ours",
            "responses",
            [float(o.rate_limited) for o in outcomes],
            note="each retried by the outbox after its Retry-After",
        ),
        Figure(
            f"Memory: peak of `advocacy digest run` to {size} Teams members (its own VmHWM)",
            "MiB",
            [o.peak_mib for o in outcomes],
        ),
        Figure(
            "Teams: Company Communicator, as its users report it",
            "users/s",
            [COMPANY_COMMUNICATOR],
            note="about 45,000 users in 40 minutes",
        ),
    ]
    comparisons = [
        Comparison(
            "Teams: floor / ours",
            [o.floor / o.wall for o in outcomes],
            "1.00 = at the floor (members / 50 requests a second per tenant)",
        ),
        Comparison(
            "Teams: floor / ours, sending only (first to last message)",
            [o.floor / o.sending_span for o in outcomes],
            "the pacer's share of the gap: 1.00 = sends spaced at the cap from the first on",
        ),
        Comparison(
            "Teams: ours / Company Communicator (users a second)",
            [o.per_second / COMPANY_COMMUNICATOR for o in outcomes],
            f"ours users/s ÷ {COMPANY_COMMUNICATOR:.2f} (45,000 users / 40 min); 2.0 = twice as "
            "fast; the most Teams' tenant limit allows is 50 / 18.75 = 2.67",
        ),
    ]
    notes = [
        f"Ours is the real `advocacy digest run` in a child process on a scratch SQLite file, "
        f"sending through the real Teams adapter (botbuilder's Connector client) to the fake "
        f"Bot Connector service (tests/teams_fake.py) on loopback, which enforces Teams' limits "
        f"for bots: {PER_CONVERSATION:g} messages a second per conversation and "
        f"{PER_TENANT:g} requests a second per tenant (token buckets holding one second's "
        f"worth); the adapter paces itself to the same limits (a burst of 5 for the tenant, "
        f"to make up for pauses between outbox batches). All {size} members are in one "
        f"tenant, one personal chat each, so the tenant "
        f"limit binds: the floor is {size} / {PER_TENANT:g} = {floor:.0f} s. Wall time counts "
        f"from the command's start (start-up, composing and queueing included) to its exit.",
        "Members come from the real `advocacy members import`; their conversation references "
        "(which Teams gives a bot when someone writes to it or installs it, and which a roster "
        "sync creates with one createConversation call per member) are written in bulk through "
        "the adapter's ConversationStore, the same records a roster sync stores. Opening the "
        f"{size} chats would cost another {size} calls against the same tenant limit.",
        "The fake skips its Adaptive Card schema check during the run (about 40 ms a card on "
        "its own thread, which would make the fake the bottleneck); the card ours sent was "
        "checked against Adaptive Cards 1.5 afterwards: "
        + ("valid." if not problems else f"INVALID: {'; '.join(sorted(problems))}"),
        f"Company Communicator's figure (45,000 users in 40 minutes, {COMPANY_COMMUNICATOR:.2f} "
        "users a second) is what its users report on a real tenant, not a run on this machine. "
        f"At the best rate measured here ({best:.1f} users/s), 45,000 members would take "
        f"{45_000 / best / 60:.0f} minutes; Teams' tenant limit alone allows no less than "
        f"{45_000 / PER_TENANT / 60:.0f}.",
        f"Repeats: {runs}" + ("" if quick else f" (long runs: long_repeat={long_repeat})") + ".",
        machine_load(load),
    ]
    return Section(
        title=f"Fan-out: one digest to {size} Microsoft Teams members",
        figures=figures,
        comparisons=comparisons,
        notes=notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=FULL_RECIPIENTS)
    parser.add_argument("--measure", action="store_true", help="run measure() and print it")
    parser.add_argument("--quick", action="store_true", help="with --measure: 1,000 members")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--rate",
        type=float,
        help="raise the tenant's cap (fake and adapter) to this; members written in bulk",
    )
    parser.add_argument(
        "--at-scale",
        action="store_true",
        help="with --measure: the 100,000 and 300,000-member runs (quick: 3,000 and 6,000)",
    )
    parser.add_argument(
        "--enqueue-only",
        action="store_true",
        help="with --rate: only queue (memory and queueing time of the run); nothing is sent",
    )
    args = parser.parse_args()
    console = Console(width=max(120, Console().width))
    if args.measure and args.at_scale:
        print_section(console, measure_at_scale(args.quick))
        return
    if args.rate:
        s = scale_run(args.members, args.rate, enqueue_only=args.enqueue_only)
        console.print(
            f"Teams: {s.recipients:,} in {s.wall:.1f} s (floor {s.floor:.1f} s, floor / ours "
            f"{s.floor / s.wall:.2f}), lost {s.lost}, duplicates {s.duplicates}, 429s "
            f"{s.rate_limited}, peak {s.peak_mib:.0f} MiB, queued in {s.queue_seconds:.1f} s "
            f"({s.queued_after:.1f} s after the start)"
        )
        return
    if args.measure:
        print_section(console, measure(args.repeat, args.quick, long_repeat=args.repeat))
        return
    o = teams_run(args.members)
    console.print(
        f"Teams: {o.members:,} members in {o.wall:.1f} s (floor {o.floor:.1f} s, "
        f"{(o.wall / o.floor - 1) * 100:+.1f} %), {o.per_second:.1f} users/s "
        f"({o.per_second / COMPANY_COMMUNICATOR:.2f}× Company Communicator), lost {o.lost}, "
        f"duplicates {o.duplicates}, 429s {o.rate_limited}, peak {o.peak_mib:.0f} MiB, "
        f"card {'valid' if o.card_problem is None else o.card_problem}"
    )


if __name__ == "__main__":
    main()
