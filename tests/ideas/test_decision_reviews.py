"""Decisions are promises that get checked (issue 15): a manager sets an idea to planned or done
and names the KPI it should move; on the review date the manager is asked whether it helped; the
answer reaches the idea's author (sealed when anonymous) and its voters; an unanswered review
climbs the hierarchy; the objectives report counts the promises.

Time is controlled: ``clock`` replaces the one clock every part of the bot reads
(bot.storage.types.utcnow), so a month passes in a line and nothing waits.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import bot.storage.types as storage_types
from adapters.shell.mailbox import Mailbox
from adapters.shell.session import ShellSession
from bot.app import Application
from bot.background import LeaderWork, review_job
from bot.cli.main import cli
from bot.compose import actions
from bot.config import Settings
from bot.domain import Role
from bot.errors import PermissionDenied
from bot.events import ActionInvoked, CommandInvoked, FormSubmitted
from bot.services.decision_reviews import (
    answer_review,
    ask_due_reviews,
    escalate_overdue_reviews,
)
from bot.services.kpi_readings import record_reading
from bot.services.members import add_member, get_member
from bot.services.objectives import add_objective
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.promises import Promise
from bot.services.suggestions import answer_suggestion, file_suggestion, vote
from bot.storage.models import DecisionReview, Delivery, Objective, Suggestion, SuggestionResponse
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform
from tests.operations import test_console
from tests.operations.test_console import Browser, signed_in
from tests.slack_support import slack_stack, unescaped_markup, view_submission
from tests.teams_fake import adaptive_card_error
from tests.teams_support import TENANT as TEAMS_TENANT
from tests.teams_support import action, cards_in, teams_stack
from tests.teams_support import user as teams_user

server, browsers = test_console.server, test_console.browsers  # the same fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def payload_texts(stack) -> str:  # type: ignore[no-untyped-def]
    """Everything the bot sent to Slack, as one string."""
    return "\n".join(json.dumps(call.args) for call in stack.fake.calls)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **span: float) -> datetime:
        self.now += timedelta(**span)
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The bot's clock, held at 06:00 UTC today and moved only by the test."""
    start = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    held = Clock(start)

    class HeldDatetime(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return held.now if tz is None else held.now.astimezone(tz)

    monkeypatch.setattr(storage_types, "datetime", HeldDatetime)
    yield held


async def first_reply_objective(app: Application, direction: str | None = "lower") -> Objective:
    async with app.db.transaction() as session:
        objective = await add_objective(
            session,
            OPERATOR,
            "first-reply",
            "Answer every customer within one hour",
            kpi="first reply time",
        )
        objective.kpi_unit = "minutes"
        objective.kpi_direction = direction
        return objective


async def reading(app: Application, value: float, day: date | datetime) -> None:
    async with app.db.transaction() as session:
        objective = (
            await session.scalars(select(Objective).where(Objective.key == "first-reply"))
        ).one()
        await record_reading(session, OPERATOR, objective, value, day)


async def file(app: Application, user: str, text: str, anonymous: bool = False) -> Suggestion:
    async with app.db.transaction() as session:
        author = await get_member(session, "remote", user)
        return await file_suggestion(
            session, app.sealer, author, text, platform="remote", anonymous=anonymous
        )


async def votes(app: Application, idea: int, *users: str) -> None:
    async with app.db.transaction() as session:
        for user in users:
            await vote(session, await get_member(session, "remote", user), idea)


async def decide(
    app: Application, who: str, idea: int, status: str, promise: Promise | None, text: str = "Done"
) -> DecisionReview | None:
    async with app.db.transaction() as session:
        manager = await get_member(session, "remote", who)
        outcome = await answer_suggestion(
            session, app.sealer, manager, idea, text, status=status, promise=promise
        )
        return outcome.review


async def ask(app: Application) -> int:
    async with app.db.transaction() as session:
        return await ask_due_reviews(session, app.sealer, storage_types.utcnow())


async def review_row(app: Application, review_id: int) -> DecisionReview:
    async with app.db.transaction() as session:
        review = await session.get(DecisionReview, review_id)
        assert review is not None
        return review


async def sent(app: Application, remote: RemotePlatform) -> list[tuple[str, str]]:
    """(recipient, first card's title or fallback) of everything sent so far."""
    assert app.worker is not None
    await app.worker.drain()
    return [
        (s.target.recipient, s.message.cards[0].title if s.message.cards else s.message.fallback)
        for s in remote.sent
    ]


async def team(app: Application) -> None:
    """bigboss above boss; boss manages Support (ann, zed, vic, wes); other manages Sales."""
    await make_member(app, "bigboss", role=Role.MANAGER, team=None)
    await make_member(app, "boss", role=Role.MANAGER, manager="bigboss")
    await make_member(app, "other", role=Role.MANAGER, team="Sales")
    for user in ("ann", "zed", "vic", "wes", "xia", "yan"):
        await make_member(app, user, manager="boss")


# ----- the loop, end to end ------------------------------------------------------------------


async def test_a_done_idea_is_checked_on_its_date_and_the_answer_reaches_author_and_voters(
    app: Application, remote: RemotePlatform, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    await team(app)
    await first_reply_objective(app)
    idea = await file(app, "zed", "Put a second person on the morning support shift", True)
    await votes(app, idea.id, "vic", "wes")
    await reading(app, 80, clock.now - timedelta(days=9))
    await reading(app, 74, clock.now - timedelta(days=2))

    review = await decide(
        app, "boss", idea.id, "done", Promise("first-reply", review_in=timedelta(days=30))
    )
    assert review is not None and review.baseline_value == 74 and review.expected == "lower"
    due = (clock.now + timedelta(days=30)).replace(hour=9)  # 09:00 on the manager's clock (UTC)
    assert review.review_on == due
    before = await report_promises(app)
    assert (before.decisions, before.answered, before.overdue) == (1, 0, 0)

    clock.advance(days=10)
    await reading(app, 60, clock.now)
    clock.advance(days=10)
    await reading(app, 52, clock.now)

    clock.set(due - timedelta(minutes=1))
    assert await ask(app) == 0  # not before its date
    assert not [t for r, t in await sent(app, remote) if r == "boss" and "help" in t]
    clock.set(due)
    assert await ask(app) == 1
    assert await ask(app) == 0  # asked once
    await sent(app, remote)
    [card] = [s.message for s in remote.sent if s.target.recipient == "boss"][-1:]
    assert card.cards[0].title == f"Did #{idea.id} help? Time to check"
    assert f"First reply time went from 74 to 52 minutes since #{idea.id} was done" in (
        card.cards[0].text
    )
    assert "That is the way you expected (lower)" in card.cards[0].text
    labels = [b.label for b in card.cards[0].buttons]
    assert labels[:2] == ["Yes, it helped", "No, revisit"]
    assert "Too early: look again in 14 days" in labels

    helped = next(b for b in card.cards[0].buttons if b.label == "Yes, it helped")
    reply = await app.router.handle(
        ActionInvoked(actor("boss"), action_id=helped.action_id, value=helped.value)
    )
    assert reply.error is None and "Recorded" in reply.messages[0].fallback
    told = await sent(app, remote)
    checked = {r for r, t in told if "was checked against its KPI: it helped" in t}
    assert checked == {"zed", "vic", "wes"}  # the anonymous author (sealed) and both voters
    async with app.db.transaction() as session:
        deliveries = list(await session.scalars(select(Delivery)))
    to_author = [
        d
        for d in deliveries
        if "Your anonymous suggestion" in json.dumps(d.message.payload)
        and "checked against its KPI" in json.dumps(d.message.payload)
    ]
    assert len(to_author) == 1
    assert to_author[0].recipient == "" and to_author[0].member_id is None  # sealed route
    assert to_author[0].sealed_recipient

    answered = await review_row(app, review.id)
    assert (answered.state, answered.verdict, answered.review_value) == ("answered", "helped", 52)
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        zed = await get_member(session, "remote", "zed")
    assert answered.answered_by_id == boss.id and answered.decided_by_id == boss.id
    row = {c.name: getattr(answered, c.name) for c in DecisionReview.__table__.columns}
    assert zed.id not in [v for k, v in row.items() if k.endswith("_id") and k != "objective_id"]
    logged = caplog.text
    assert "zed" not in logged and "Zed" not in logged

    after = await report_promises(app)
    assert (after.decisions, after.answered, after.overdue) == (1, 1, 0)
    assert after.moved_share == 1.0 and after.helped_share == 1.0

    again = await app.router.handle(
        ActionInvoked(actor("boss"), action_id=helped.action_id, value=helped.value)
    )
    assert again.duplicate and "already answered" in again.messages[0].fallback
    assert len(await sent(app, remote)) == len(told)  # nobody told twice


async def report_promises(app: Application):  # type: ignore[no-untyped-def]
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(90))
    [row] = report.rows
    assert row.promises == report.promises  # one objective: its figures are the total
    return report.promises


# ----- deciding: forms, options, refusals ----------------------------------------------------


async def test_the_answer_form_carries_the_kpi_check_and_records_it(
    app: Application, remote: RemotePlatform, clock: Clock
) -> None:
    await team(app)
    await first_reply_objective(app)
    idea = await file(app, "ann", "Templates for the ten most common questions")
    await reading(app, 74, clock.now)
    reply = await app.router.handle(
        CommandInvoked(actor("boss"), command="answer", text=f"{idea.id} done")
    )
    assert reply.form is not None and reply.form.form_id == actions.FORM_ANSWER
    fields = {f.name: f for f in reply.form.fields}
    assert {"objective", "expect", "review"} <= set(fields)
    assert [o.value for o in fields["objective"].options] == ["", "first-reply"]
    submitted = await app.router.handle(
        FormSubmitted(
            actor("boss"),
            form_id=actions.FORM_ANSWER,
            values={
                "status": "done",
                "text": "Shipped today.",
                "objective": "first-reply",
                "expect": "",
                "review": "2d",
            },
            context=reply.form.context,
        )
    )
    assert submitted.error is None, submitted.error
    text = submitted.messages[0].fallback
    assert "whether first reply time went lower as expected" in text
    async with app.db.transaction() as session:
        [review] = list(await session.scalars(select(DecisionReview)))
    assert review.baseline_value == 74 and review.decided_status == "done"
    assert review.review_on == (clock.now + timedelta(days=2)).replace(hour=9)
    # The author hears of the answer as always.
    assert ("ann", f"Your suggestion #{idea.id} is now done") in await sent(app, remote)


async def test_chat_options_make_a_promise_and_bad_combinations_are_refused_clearly(
    app: Application, clock: Clock
) -> None:
    await team(app)
    await first_reply_objective(app, direction=None)
    idea = await file(app, "ann", "A status page for outages")

    async def say(text: str) -> str:
        reply = await app.router.handle(CommandInvoked(actor("boss"), command="answer", text=text))
        return reply.error or reply.messages[0].fallback

    assert "not declined" in await say(f"{idea.id} declined --objective first-reply Not now")
    assert "Did you mean first-reply?" in await say(
        f"{idea.id} done --objective frist-reply Shipped"
    )
    assert "has no better direction" in await say(f"{idea.id} done --objective first-reply Yes")
    past = (clock.now - timedelta(days=3)).date().isoformat()
    assert "in the past" in await say(
        f"{idea.id} done --objective first-reply --expect lower --review-on {past} Yes"
    )
    assert "not both" in await say(
        f"{idea.id} done --objective first-reply --review-in 3d --review-on 2099-01-01 Yes"
    )
    assert "Choose the objective" in await say(f"{idea.id} done --expect lower Yes")
    async with app.db.transaction() as session:  # nothing of the refused answers was kept
        assert not list(await session.scalars(select(SuggestionResponse)))
        assert not list(await session.scalars(select(DecisionReview)))
    done = await say(f"{idea.id} --objective first-reply --expect lower done --review-in 4w Live")
    assert "Answer recorded" in done and "went lower as expected" in done
    async with app.db.transaction() as session:
        [review] = list(await session.scalars(select(DecisionReview)))
    assert review.review_on.date() == (clock.now + timedelta(days=28)).date()
    listing = await app.router.handle(CommandInvoked(actor("boss"), command="review", text=""))
    [card] = listing.messages[0].cards
    [fact] = card.facts
    assert fact.label == f"Idea #{idea.id}" and "due on" in fact.value
    # A wrong number in chat is answered with the chat's way to list them.
    wrong = await app.router.handle(CommandInvoked(actor("boss"), command="review", text="99 yes"))
    assert wrong.error is not None and "/review alone lists" in wrong.error


async def test_a_later_decision_supersedes_and_a_planned_promise_carries_over_to_done(
    app: Application, clock: Clock
) -> None:
    await team(app)
    await first_reply_objective(app)
    idea = await file(app, "ann", "Chat support on weekends")
    planned = await decide(app, "boss", idea.id, "planned", Promise("first-reply"), "Q3")
    assert planned is not None
    assert planned.review_on.date() == (clock.now + timedelta(days=90)).date()
    clock.advance(days=20)
    done = await decide(app, "boss", idea.id, "done", None, "Live since Monday")
    assert done is not None and done.id != planned.id  # the promise carried over
    assert (done.expected, done.decided_status) == ("lower", "done")
    assert done.review_on.date() == (clock.now + timedelta(days=30)).date()
    assert (await review_row(app, planned.id)).state == "superseded"
    await decide(app, "boss", idea.id, "under_review", None, "Reopened: it did not work")
    assert (await review_row(app, done.id)).state == "superseded"
    clock.advance(days=40)
    assert await ask(app) == 0  # superseded reviews are never asked


async def test_the_cli_answers_with_a_kpi_check_and_lists_and_answers_reviews(
    app: Application, cli_env: dict[str, str], clock: Clock
) -> None:
    if not app.db.is_sqlite:
        pytest.skip("the CLI runs on the SQLite file cli_env names")
    await team(app)
    await first_reply_objective(app)
    idea = await file(app, "zed", "Answer macros in the help desk", True)
    await votes(app, idea.id, "vic")
    await reading(app, 74, clock.now)

    async def run(*args: str) -> tuple[int, str]:
        """The real CLI, in a thread of its own (it runs its own event loop)."""
        result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
        return result.exit_code, result.output

    code, out = await run(
        "suggestions", "answer", str(idea.id), "Not now", "--status", "declined",
        "--objective", "first-reply",
    )  # fmt: skip
    assert code == 1 and out.startswith("Error: A KPI check goes with planned or done")
    assert len(out.strip().splitlines()) == 1
    code, out = await run(
        "suggestions", "answer", str(idea.id), "x", "--status", "done",
        "--objective", "first-reply", "--review-in", "3d", "--review-on", "2099-01-01",
    )  # fmt: skip
    assert code == 1 and "not both" in out
    code, out = await run(
        "suggestions", "answer", str(idea.id), "Live.", "--status", "done",
        "--objective", "first-reply", "--review-in", "10d",
    )  # fmt: skip
    assert code == 0, out
    assert "is done" in out and "Review #1: You will be asked on" in out

    clock.advance(days=11)
    await reading(app, 50, clock.now)
    code, out = await run("reviews", "ask")
    assert code == 0 and out.startswith("1 review card and 0 overdue flags queued")
    code, out = await run("reviews", "list", "--due", "--json")
    [listed] = json.loads(out)
    assert (listed["suggestion"], listed["state"]) == (idea.id, "asked")
    assert (listed["baseline_value"], listed["review_value"]) == (74, 50)
    code, out = await run("reviews", "list", "--overdue", "--json")
    assert json.loads(out) == []
    clock.advance(days=8)
    code, out = await run("reviews", "list", "--overdue")
    assert code == 0 and "74 minutes → 50 minutes" in out
    code, out = await run("reviews", "answer", "1", "helped")
    assert code == 0 and "it helped" in out and "will be told" in out
    code, out = await run("reviews", "answer", "1", "revisit")
    assert code == 0 and "already answered" in out
    code, out = await run("reviews", "answer", "1", "later")
    assert code == 0 and "already answered" in out
    code, out = await run("report", "objectives", "--since", "90d")
    assert (
        "Promises, all objectives: 1 decision with a KPI made in the period; "
        "1 review answered in it: 100% moved" in out
    )
    code, out = await run("report", "objectives", "--since", "90d", "--format", "json")
    [row] = json.loads(out)["objectives"]
    assert row["promises_reviewed"] == 1 and row["promises_helped_share"] == 1.0


# ----- who answers -------------------------------------------------------------------------


async def test_only_the_reviewing_manager_one_above_or_an_admin_may_answer(
    app: Application, clock: Clock
) -> None:
    await team(app)
    await make_member(app, "root", role=Role.ADMIN, team=None)
    await first_reply_objective(app)
    idea = await file(app, "ann", "Shorter hold music")
    review = await decide(
        app, "boss", idea.id, "done", Promise("first-reply", review_in=timedelta(days=1))
    )
    assert review is not None
    clock.advance(days=2)
    await ask(app)
    async with app.db.transaction() as session:
        for who, refused in (("ann", PermissionDenied), ("other", PermissionDenied)):
            member = await get_member(session, "remote", who)
            with pytest.raises(refused):
                await answer_review(
                    session, app.sealer, member, review.id, "helped", storage_types.utcnow()
                )
    async with app.db.transaction() as session:
        bigboss = await get_member(session, "remote", "bigboss")
        outcome = await answer_review(
            session, app.sealer, bigboss, review.id, "later", storage_types.utcnow(), days=7
        )
    # The manager above put it off for boss, who is the one asked again.
    assert "the deciding manager is asked again on" in outcome.note
    assert "you will be" not in outcome.note
    async with app.db.transaction() as session:
        root = await get_member(session, "remote", "root")
        done = await answer_review(
            session, app.sealer, root, review.id, "revisit", storage_types.utcnow()
        )
    assert done.review.verdict == "did_not_help" and "Reopen it with /answer" in done.note


async def test_a_manager_who_left_is_replaced_by_the_team_s_manager_for_the_review(
    app: Application, remote: RemotePlatform, clock: Clock
) -> None:
    await team(app)
    await make_member(app, "deputy", role=Role.MANAGER, manager="bigboss")
    await first_reply_objective(app)
    idea = await file(app, "ann", "A callback option")
    await decide(app, "deputy", idea.id, "done", Promise("first-reply", review_in=timedelta(1)))
    async with app.db.transaction() as session:
        deputy = await get_member(session, "remote", "deputy")
        deputy.left_at = storage_types.utcnow()
    clock.advance(days=2)
    assert await ask(app) == 1
    asked = [r for r, t in await sent(app, remote) if t.startswith(f"Did #{idea.id} help")]
    assert asked == ["boss"]


# ----- the review card's answers in chat ----------------------------------------------------


async def test_too_early_asks_again_later_and_a_press_on_the_old_card_changes_nothing(
    app: Application, remote: RemotePlatform, clock: Clock
) -> None:
    await team(app)
    await first_reply_objective(app)
    idea = await file(app, "ann", "Self-service password reset")
    review = await decide(
        app, "boss", idea.id, "done", Promise("first-reply", review_in=timedelta(days=3))
    )
    assert review is not None
    clock.advance(days=4)
    assert await ask(app) == 1
    await sent(app, remote)
    # The review card, wherever it came among the sends (two conversations: no order between).
    card = next(
        card
        for sent_message in remote.sent
        for card in sent_message.message.cards
        if any(button.label.startswith("Too early") for button in card.buttons)
    )
    later = next(b for b in card.buttons if b.label == "Too early: look again in 7 days")
    reply = await app.router.handle(
        ActionInvoked(actor("boss"), action_id=later.action_id, value=later.value)
    )
    assert "asked again on" in reply.messages[0].fallback
    row = await review_row(app, review.id)
    assert (row.state, row.postponed) == ("waiting", 1)
    helped = next(b for b in card.buttons if b.label == "Yes, it helped")
    stale = await app.router.handle(
        ActionInvoked(actor("boss"), action_id=helped.action_id, value=helped.value)
    )
    assert stale.duplicate and "already put off" in stale.messages[0].fallback
    assert (await review_row(app, review.id)).state == "waiting"
    clock.advance(days=6)
    assert await ask(app) == 0
    clock.advance(days=1, hours=3)
    assert await ask(app) == 1  # the new date
    typed = await app.router.handle(
        CommandInvoked(actor("boss"), command="review", text=f"{idea.id} revisit")
    )
    assert typed.error is None and "it did not help; revisit" in typed.messages[0].fallback
    told = [t for r, t in await sent(app, remote) if r == "ann"]
    assert f"Your suggestion #{idea.id} was checked against its KPI: it did not help" in told
    listing = await app.router.handle(CommandInvoked(actor("boss"), command="review", text=""))
    assert "No decision reviews wait for you" in listing.messages[0].fallback
    bad = await app.router.handle(
        CommandInvoked(actor("boss"), command="review", text=f"{idea.id} maybe")
    )
    assert bad.error and "helped, revisit or later" in bad.error


# ----- overdue reviews ---------------------------------------------------------------------


async def test_an_overdue_review_climbs_the_hierarchy_and_counts_as_overdue(
    app: Application, remote: RemotePlatform, clock: Clock
) -> None:
    await team(app)
    await first_reply_objective(app)
    await reading(app, 74, clock.now)
    idea = await file(app, "ann", "Route VIP tickets first")
    review = await decide(
        app, "boss", idea.id, "done", Promise("first-reply", review_in=timedelta(days=1))
    )
    assert review is not None
    clock.advance(days=2)
    await reading(app, 52, clock.now)
    await ask(app)

    async def escalate() -> int:
        async with app.db.transaction() as session:
            return await escalate_overdue_reviews(
                session, app.sealer, storage_types.utcnow(), timedelta(days=7)
            )

    clock.advance(days=6)
    assert await escalate() == 0
    assert (await report_promises(app)).overdue == 0
    clock.advance(days=1, minutes=1)
    assert await escalate() == 1
    assert await escalate() == 0  # one flag per step
    flags = [(r, t) for r, t in await sent(app, remote) if "has waited" in t]
    assert flags == [("bigboss", f"The review of #{idea.id} has waited 7 days for Boss")]
    # The review flagged to bigboss is among those /review lists for him.
    listing = await app.router.handle(CommandInvoked(actor("bigboss"), command="review", text=""))
    [fact] = listing.messages[0].cards[0].facts
    assert fact.label == f"Idea #{idea.id}"
    assert (await report_promises(app)).overdue == 1
    clock.advance(days=7)
    assert await escalate() == 0  # past the top: nobody above bigboss
    # The manager above answers from the flag itself.
    flag = next(s.message for s in remote.sent if s.target.recipient == "bigboss")
    # What the KPI did is weighed against what Boss expected, not the reader.
    assert "That is the way Boss expected (lower)" in flag.cards[0].text
    helped = next(b for b in flag.cards[0].buttons if b.label == "Yes, it helped")
    reply = await app.router.handle(
        ActionInvoked(actor("bigboss"), action_id=helped.action_id, value=helped.value)
    )
    assert reply.error is None
    assert (await report_promises(app)).overdue == 0


# ----- Slack and Teams: the answer form, the review card within each platform's limits ---------


def slack_buttons(message: dict) -> list[dict]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_in_slack_the_modal_makes_the_promise_and_the_review_card_is_answered_once(
    settings: Settings, clock: Clock
) -> None:
    async with slack_stack(settings) as slack:
        async with slack.app.db.transaction() as session:
            await add_member(session, OPERATOR, "slack", "UBOSS", name="Boss", role=Role.MANAGER)
            await add_member(
                session, OPERATOR, "slack", "UANN", name="Ann", manager_user_id="UBOSS"
            )
            await add_member(
                session, OPERATOR, "slack", "UVIC", name="Vic", manager_user_id="UBOSS"
            )
        await first_reply_objective(slack.app)
        await reading(slack.app, 74, clock.now)
        # "<!channel>" typed as text (Slack sends it as entities): it must stay text in the card.
        await slack.command("/suggest", "Reply &lt;!channel&gt; templates &amp; macros", "UANN")
        await slack.settle()
        await slack.command("/advocacy", "vote 1", "UVIC")
        await slack.command("/advocacy", "answer 1 done", "UBOSS")
        await slack.settle()
        modal = slack.fake.opened_views[-1]
        assert modal["callback_id"] == actions.FORM_ANSWER
        await slack.interaction(
            view_submission(
                "UBOSS",
                modal,
                {"status": "done", "text": "Live", "objective": "first-reply", "review": "5d"},
            )
        )
        await slack.settle()
        clock.advance(days=6)
        await reading(slack.app, 52, clock.now)
        assert await ask(slack.app) == 1
        await slack.settle()
        card = slack.fake.messages["DUBOSS"][-1]
        assert len(card["blocks"]) <= 50
        shown = json.dumps(card["blocks"])
        assert "first reply time went from 74 to 52 minutes since #1 was done" in shown.lower()
        assert "&lt;!channel&gt;" in shown  # the idea's text stays text
        assert not unescaped_markup(slack)
        labels = [b["text"]["text"] for b in slack_buttons(card)]
        assert labels[:2] == ["Yes, it helped", "No, revisit"]
        assert all(len(b["action_id"]) <= 255 for b in slack_buttons(card))
        helped = next(b for b in slack_buttons(card) if b["text"]["text"] == "Yes, it helped")
        value = json.loads(helped["value"])
        await slack.press("UBOSS", helped["action_id"], value, channel="DUBOSS", ts=card["ts"])
        await slack.settle()
        updated = slack.fake.messages["DUBOSS"][-1]
        assert "it helped" in json.dumps(updated["blocks"]) and not slack_buttons(updated)
        to_ann = json.dumps(slack.fake.messages["DUANN"][-1])
        assert "was checked against its KPI: it helped" in to_ann
        assert "was checked against its KPI" in json.dumps(slack.fake.messages["DUVIC"][-1])
        await slack.press("UBOSS", helped["action_id"], value, channel="DUBOSS", ts=card["ts"])
        await slack.settle()
        assert "already answered" in payload_texts(slack)
        async with slack.app.db.transaction() as session:
            [review] = list(await session.scalars(select(DecisionReview)))
        assert (review.state, review.verdict) == ("answered", "helped")


async def test_in_teams_the_card_form_makes_the_promise_and_the_review_card_is_valid(
    settings: Settings, clock: Clock
) -> None:
    boss, ann = teams_user("Boss"), teams_user("Ann")
    async with teams_stack(settings) as teams:
        async with teams.app.db.transaction() as session:
            for person, role, manager in ((boss, Role.MANAGER, None), (ann, Role.EMPLOYEE, boss)):
                await add_member(
                    session,
                    OPERATOR,
                    "teams",
                    person.aad,
                    name=person.name,
                    team="Support",
                    role=role,
                    workspace=TEAMS_TENANT,
                    manager_user_id=manager.aad if manager else None,
                )
        await first_reply_objective(teams.app)
        await reading(teams.app, 74, clock.now)
        await teams.say(ann, "suggest --anonymous Publish **our** <at>Everyone</at> rota")
        await teams.say(boss, "answer 1 done")
        await teams.settle()
        form = teams.connector.activities[boss.conversation][-1]
        [form_card] = cards_in(form)
        assert adaptive_card_error(form_card) is None
        await teams.execute(
            boss,
            action(form_card, "Answer"),
            form["id"],
            inputs={
                "status": "done",
                "text": "Live",
                "objective": "first-reply",
                "expect": "lower",
                "review": "",
            },
        )
        await teams.settle()
        clock.advance(days=31)
        await reading(teams.app, 80, clock.now)
        assert await ask(teams.app) == 1
        await teams.settle()
        message = teams.connector.activities[boss.conversation][-1]
        assert len(json.dumps(message).encode()) < 28 * 1024
        [card] = cards_in(message)
        assert adaptive_card_error(card) is None
        shown = json.dumps(card)
        assert "went from 74 to 80 minutes since #1 was done" in shown
        assert "not the way you expected" in shown
        revisit = action(card, "No, revisit")
        status, answer = await teams.execute(boss, revisit, message["id"])
        assert status == 200 and adaptive_card_error(answer["value"]) is None
        assert "it did not help" in json.dumps(answer["value"])
        await teams.settle()
        told = json.dumps(cards_in(teams.connector.activities[ann.conversation][-1]))
        assert "Your anonymous suggestion #1 was checked against its KPI: it did not help" in told
        assert "Ann" not in json.dumps(
            [cards_in(a) for a in teams.connector.activities[boss.conversation]]
        )
        status, again = await teams.execute(boss, revisit, message["id"])
        await teams.settle()
        assert status == 200 and "Review of #1: it did not help" in json.dumps(again)
        said = json.dumps(teams.connector.activities[boss.conversation][-2:])
        assert "already answered" in said


async def test_in_the_shell_the_review_card_is_answered_by_its_number(
    app: Application, clock: Clock
) -> None:
    await make_member(app, "boss", role=Role.MANAGER, platform="shell")
    await make_member(app, "ann", platform="shell", manager="boss")
    await first_reply_objective(app)
    await reading(app, 74, clock.now)
    async with app.db.transaction() as session:
        ann = await get_member(session, "shell", "ann")
        idea = await file_suggestion(session, app.sealer, ann, "Canned replies", platform="shell")
    mailbox = Mailbox(app.settings.data_dir / "shell")

    async def shell(user: str, script: str) -> str:
        out = io.StringIO()
        session = ShellSession(
            app, mailbox, user, stdin=io.StringIO(script), stdout=out, interactive=False
        )
        await session.run()
        assert app.worker is not None
        await app.worker.drain()
        return out.getvalue()

    answered = await shell(
        "boss", f"/answer {idea.id} done --objective first-reply --review-in 2d Live today\n"
    )
    assert "whether first reply time went lower as expected" in answered
    clock.advance(days=3)
    await reading(app, 52, clock.now)
    assert await ask(app) == 1
    assert app.worker is not None
    await app.worker.drain()
    pressed = await shell("boss", "1\n2\n")
    card, after = pressed.split("boss> 1", 1)
    assert f"Did #{idea.id} help?" in card and "[1] Yes, it helped" in card
    assert "went from 74 to 52 minutes" in card
    assert f"Recorded for #{idea.id}: it helped" in after
    # A second press says the review was answered, not that feedback was "counted".
    second = after.split("boss> 2", 1)[1]
    assert f"The review of #{idea.id} was already answered" in second
    assert "counted" not in second
    told = await shell("ann", "")
    assert f"Your suggestion #{idea.id} was checked against its KPI: it helped" in told


# ----- the console ---------------------------------------------------------------------------


async def test_the_console_answer_form_makes_the_promise_and_the_board_shows_its_review(
    app: Application, browsers: list[Browser], clock: Clock
) -> None:
    await team(app)
    await first_reply_objective(app)
    await reading(app, 74, clock.now)
    idea = await file(app, "ann", "A shared inbox for escalations")
    await signed_in(app, browsers[0], "boss")
    browser = browsers[0]
    csrf = await browser.csrf("/console/suggestions")
    form = {
        "csrf": csrf,
        "form": f"answer-{idea.id}",
        "board": "sort=newest&status=open&page=1",
        "text": "Not this quarter",
        "status": "declined",
        "objective": "first-reply",
        "expect": "",
        "review": "",
    }
    status, _, html = await browser.post(f"/console/suggestions/{idea.id}/answer", form)
    assert status == 422 and "goes with planned or done" in html
    assert f'id="objective-{idea.id}" name="objective" aria-invalid="true"' in html
    form |= {"status": "done", "text": "Live", "review": "14d", "csrf": await browser.csrf(
        "/console/suggestions"
    )}  # fmt: skip
    status, location, _ = await browser.post(f"/console/suggestions/{idea.id}/answer", form)
    assert status == 303
    status, html = await browser.get(location)
    assert "You will be asked on" in html
    status, html = await browser.get("/console/suggestions?status=all")
    assert "KPI check: first reply time should go lower; due on" in html
    status, html = await browser.get("/console/objectives?since=30d")
    assert status == 200 and "Promises" in html
    assert "1 decision with a KPI made in the period; no review answered in it" in html


async def test_the_leader_s_job_asks_due_reviews_and_flags_overdue_ones(
    app: Application, remote: RemotePlatform, clock: Clock
) -> None:
    await team(app)
    await first_reply_objective(app)
    idea = await file(app, "ann", "Weekly FAQ refresh")
    await decide(app, "boss", idea.id, "done", Promise("first-reply", review_in=timedelta(days=2)))
    job = review_job(app)
    clock.advance(days=1)
    await job.run()
    assert not [t for _, t in await sent(app, remote) if "help?" in t]
    clock.advance(days=2)
    await job.run()
    assert [r for r, t in await sent(app, remote) if "help?" in t] == ["boss"]
    clock.advance(days=app.settings.suggestion_answer_days, minutes=1)
    await job.run()
    assert [r for r, t in await sent(app, remote) if "has waited" in t] == ["bigboss"]
    assert job.name in [j.name for j in LeaderWork(app, run_jobs=True).periodic_jobs()]


async def test_review_in_chat_takes_the_ideas_number_never_another_ideas_review(
    app: Application, clock: Clock
) -> None:
    """The card says "since #2 was done", so /review 2 is idea #2's review, even when review #2
    belongs to another idea; an idea with no KPI check says so instead of answering another."""
    await team(app)
    await first_reply_objective(app)
    await reading(app, 70, clock.now)
    first, second, third = [await file(app, "ann", f"Idea {n} about replies") for n in (1, 2, 3)]
    # Reviews numbered 1 and 2 belong to ideas #3 and #2: no number is shared by chance.
    review_of_third = await decide(app, "boss", third.id, "done", Promise("first-reply"))
    review_of_second = await decide(app, "boss", second.id, "done", Promise("first-reply"))
    assert review_of_third is not None and review_of_second is not None
    assert (review_of_third.id, review_of_second.id) == (1, 2)
    clock.advance(days=31)
    assert await ask(app) == 2
    answered = await app.router.handle(
        CommandInvoked(actor("boss"), command="review", text=f"{third.id} helped")
    )
    assert answered.error is None, answered.error
    assert (await review_row(app, review_of_third.id)).verdict == "helped"
    assert (await review_row(app, review_of_second.id)).state == "asked"
    none = await app.router.handle(
        CommandInvoked(actor("boss"), command="review", text=f"{first.id} helped")
    )
    assert none.error is not None and f"Idea #{first.id} has no KPI check" in none.error
