"""Conversations through the EventRouter, with the real database: the core every adapter shares."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, func, select

from bot.app import Application
from bot.compose import actions
from bot.domain import FeedbackKind, Role
from bot.events import (
    ActionInvoked,
    CommandInvoked,
    FormSubmitted,
    MessageReceived,
    ReactionAdded,
    ReactionRemoved,
)
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.storage.models import Delivery, Feedback, MemberIdentity, Suggestion
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform, Sent


def metric(app: Application, line_start: str) -> float:
    for line in app.metrics.render().decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def send_digest(app: Application, remote: RemotePlatform) -> tuple[int, str]:
    """Deliver a one-item content digest to alice; returns (content id, platform message ref)."""
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        item = await add_content(session, OPERATOR, "https://example.com/a", title="A")
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert app.worker is not None
    await app.worker.drain()
    async with app.db.transaction() as session:
        ref = await session.scalar(select(Delivery.platform_ref))
    assert ref
    return item.id, ref


def useful_press(item_id: int, ref: str) -> ActionInvoked:
    """Alice pressing Useful on the card of ``item_id`` in the delivered message ``ref``."""
    return ActionInvoked(
        actor("alice"),
        action_id=actions.FEEDBACK_USEFUL,
        value={"subject": f"content:{item_id}"},
        message_ref=ref,
    )


async def feedback_rows(app: Application) -> list[tuple[str, str]]:
    async with app.db.transaction() as session:
        rows = await session.execute(select(Feedback.kind, Feedback.detail).order_by(Feedback.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_useful_pressed_twice_counts_once_and_updates_the_card(
    app: Application, remote: RemotePlatform
) -> None:
    press = useful_press(*await send_digest(app, remote))
    first = await app.router.handle(press)
    second = await app.router.handle(press)
    assert first.update is not None and not first.duplicate
    card = first.update.cards[1]
    assert "You found this useful" in card.footer
    assert [b.label for b in card.buttons if getattr(b, "selected", False)] == ["Useful"]
    assert second.duplicate
    assert await feedback_rows(app) == [("useful", "")]
    series = 'advocacy_feedback_recorded_total{kind="useful",platform="remote"}'
    assert metric(app, series) == 1.0


async def test_a_press_before_the_outbox_wrote_the_cards_reference_still_updates_it(
    app: Application, remote: RemotePlatform
) -> None:
    """Outcomes are written per batch, so a quick reader can press Useful while the card's
    reference is not yet in the database: the press still counts once and updates the card."""
    replies = []

    async def press_at_once(sent: Sent, ref: str) -> None:
        async with app.db.transaction() as session:
            assert await session.scalar(select(Delivery.platform_ref)) is None
        replies.append(await app.router.handle(useful_press(item_id, ref)))

    remote.on_shown = press_at_once
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        item = await add_content(session, OPERATOR, "https://example.com/a", title="A")
        item_id = item.id
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert app.worker is not None
    await app.worker.drain()
    [reply] = replies
    assert reply.update is not None and not reply.duplicate
    assert "You found this useful" in reply.update.cards[1].footer
    assert await feedback_rows(app) == [("useful", "")]
    async with app.db.transaction() as session:
        assert await session.scalar(select(Feedback.delivery_id)) is not None


async def test_presses_at_once_on_a_channel_card_each_count_the_others(
    app: Application, remote: RemotePlatform
) -> None:
    """Many people press Useful on one channel card at the same moment: the last card shown
    (the highest count) counts every one of them, on PostgreSQL as on SQLite."""
    people = [f"p{n}" for n in range(24)]
    for person in people:
        await make_member(app, person)
    async with app.db.transaction() as session:
        item = await add_content(session, OPERATOR, "https://example.com/c", title="C")
        digest = await add_digest(
            session,
            OPERATOR,
            "team",
            kind="content",
            audience="channel:remote:CTEAM",
            cron="0 9 * * *",
            timezone="UTC",
        )
        await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert app.worker is not None
    await app.worker.drain()
    async with app.db.transaction() as session:
        ref = await session.scalar(select(Delivery.platform_ref))
    replies = await asyncio.gather(
        *(
            app.router.handle(
                ActionInvoked(
                    actor(person),
                    action_id=actions.FEEDBACK_USEFUL,
                    value={"subject": f"content:{item.id}"},
                    message_ref=ref,
                )
            )
            for person in people
        )
    )
    shown = [int(r.update.cards[1].footer.split()[0]) for r in replies if r.update is not None]
    assert max(shown) == len(people), sorted(shown)


async def test_not_relevant_replaces_useful(app: Application, remote: RemotePlatform) -> None:
    item_id, ref = await send_digest(app, remote)
    for action in (actions.FEEDBACK_USEFUL, actions.FEEDBACK_NOT_RELEVANT):
        await app.router.handle(
            ActionInvoked(
                actor("alice"),
                action_id=action,
                value={"subject": f"content:{item_id}"},
                message_ref=ref,
            )
        )
    assert await feedback_rows(app) == [("not_relevant", "")]


async def test_a_retried_platform_event_counts_once(app: Application) -> None:
    await make_member(app, "alice")
    event = CommandInvoked(
        actor("alice"), command="suggest", text="Fewer meetings", event_id="Ev123"
    )
    first = await app.router.handle(event)
    retry = await app.router.handle(event)
    assert first.messages and not first.duplicate
    assert retry.duplicate and not retry.messages
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Suggestion.id))) == 1
    assert metric(app, 'advocacy_suggestions_total{platform="remote"}') == 1.0


async def test_reactions_on_bot_messages_are_feedback_and_can_be_taken_back(
    app: Application, remote: RemotePlatform
) -> None:
    _, ref = await send_digest(app, remote)
    await app.router.handle(ReactionAdded(actor("alice"), emoji=":tada:", message_ref=ref))
    await app.router.handle(ReactionAdded(actor("alice"), emoji="tada", message_ref=ref))
    assert await feedback_rows(app) == [(FeedbackKind.REACTION, "tada")]
    again = await app.router.handle(ReactionAdded(actor("alice"), emoji="tada", message_ref=ref))
    assert again.duplicate and "already reacted with tada" in again.messages[0].fallback
    other = await app.router.handle(ReactionAdded(actor("alice"), emoji="eyes", message_ref="x"))
    assert other.duplicate
    assert "not one you can react to" in other.messages[0].fallback
    assert "digests, articles and ideas" in other.messages[0].fallback
    await app.router.handle(ReactionRemoved(actor("alice"), emoji="tada", message_ref=ref))
    assert await feedback_rows(app) == []
    gone = await app.router.handle(ReactionRemoved(actor("alice"), emoji="tada", message_ref=ref))
    assert gone.duplicate and "no tada reaction" in gone.messages[0].fallback


async def test_a_comment_form_records_the_comment_once(app: Application, remote) -> None:
    item_id, ref = await send_digest(app, remote)
    opened = await app.router.handle(
        ActionInvoked(
            actor("alice"),
            action_id=actions.COMMENT_OPEN,
            value={"subject": f"content:{item_id}"},
            message_ref=ref,
        )
    )
    assert opened.form is not None
    submit = FormSubmitted(
        actor("alice"),
        form_id=opened.form.form_id,
        values={"text": "Great read for new joiners"},
        context=dict(opened.form.context),
    )
    await app.router.handle(submit)
    again = await app.router.handle(submit)
    assert "counts once" in again.messages[0].fallback
    async with app.db.transaction() as session:
        comments = list(await session.scalars(select(Feedback.comment)))
    assert comments == ["Great read for new joiners"]


async def test_suggest_without_text_opens_a_form_that_files_anonymously(app: Application) -> None:
    await make_member(app, "alice")
    reply = await app.router.handle(CommandInvoked(actor("alice"), command="suggest"))
    assert reply.form is not None
    assert [f.name for f in reply.form.fields] == ["text", "objective", "anonymous"]
    filed = await app.router.handle(
        FormSubmitted(
            actor("alice"),
            form_id=reply.form.form_id,
            values={"text": "Rotate on-call", "objective": "", "anonymous": True},
        )
    )
    assert "anonymously" in filed.messages[0].fallback
    async with app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
    assert idea.anonymous and idea.author_id is None


async def test_employees_are_told_what_they_cannot_do(app: Application) -> None:
    await make_member(app, "alice")
    cases = [
        ("rollup", "", "Only managers or admins can see suggestion rollups"),
        ("answer", "1 planned ok", "Only managers or admins can answer suggestions"),
        ("digest", "run x", "Only strategists or admins can send digests"),
        ("digest", "add", "Only strategists or admins can schedule digests"),
        ("content", "add", "Only strategists or admins can curate content"),
    ]
    for command, text, expected in cases:
        reply = await app.router.handle(CommandInvoked(actor("alice"), command=command, text=text))
        assert reply.error is not None and reply.error.startswith(expected)
        assert "roles grant" in reply.error


async def test_unknown_commands_and_plain_chat_get_a_pointer_to_help(app: Application) -> None:
    unknown = await app.router.handle(CommandInvoked(actor("newbie"), command="dance"))
    assert unknown.error and "/help" in unknown.error
    chat = await app.router.handle(MessageReceived(actor("newbie"), text="hello bot"))
    assert "/help" in chat.messages[0].fallback
    typed = await app.router.handle(MessageReceived(actor("newbie"), text="whoami"))
    assert typed.messages[0].cards[0].facts[0].value == "employee"


async def test_a_manager_answers_by_command_and_the_author_is_told(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    await make_member(app, "alice", manager="boss")
    await app.router.handle(CommandInvoked(actor("alice"), command="suggest", text="Idea"))
    reply = await app.router.handle(
        CommandInvoked(actor("boss"), command="answer", text="1 under review Looking into it")
    )
    assert "under review" in reply.messages[0].fallback
    assert app.worker is not None
    await app.worker.drain()
    # The author's notice (a notice to another conversation may be sent after it: no order).
    notice = next(s for s in reversed(remote.sent) if s.target.recipient == "alice")
    assert "Looking into it" in notice.message.cards[0].text
    assert "under review" in notice.message.cards[0].title


async def test_the_answer_says_voters_are_told_even_when_the_author_cannot_be(
    app: Application, remote: RemotePlatform
) -> None:
    """The confirmation names everyone told: never 'nobody was told' while voters were."""
    await make_member(app, "boss", role=Role.MANAGER)
    await make_member(app, "alice", manager="boss")
    await make_member(app, "bob", manager="boss")
    await app.router.handle(CommandInvoked(actor("alice"), command="suggest", text="Idea"))
    await app.router.handle(CommandInvoked(actor("bob"), command="vote", text="1"))
    reply = await app.router.handle(
        CommandInvoked(actor("boss"), command="answer", text="1 planned In May.")
    )
    assert reply.messages[0].fallback.endswith(
        "The author and everyone who backed it will be told."
    )
    async with app.db.transaction() as session:  # alice can no longer be reached anywhere
        await session.execute(delete(MemberIdentity).where(MemberIdentity.user_id == "alice"))
    reply = await app.router.handle(
        CommandInvoked(actor("boss"), command="answer", text="1 done Shipped.")
    )
    assert reply.messages[0].fallback.endswith(
        "The author cannot be reached on any platform; everyone who backed it will be told."
    )
    assert app.worker is not None
    await app.worker.drain()
    assert [s.target.recipient for s in remote.sent if "Shipped." in s.message.fallback] == ["bob"]


async def test_an_unexpected_failure_is_logged_not_shown(app: Application, caplog) -> None:
    from bot.chat import catalogue

    async def broken(ctx, text):  # type: ignore[no-untyped-def]
        raise RuntimeError("database exploded: secret detail")

    catalogue.COMMANDS["explode"] = catalogue.ChatCommand("explode", broken, "/explode", "boom")
    try:
        reply = await app.router.handle(CommandInvoked(actor("alice"), command="explode"))
    finally:
        del catalogue.COMMANDS["explode"]
    assert reply.error and "secret detail" not in reply.error and "logged" in reply.error
    assert "secret detail" in caplog.text


async def test_an_answer_with_a_misspelt_status_is_refused_and_changes_nothing(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    await make_member(app, "alice", manager="boss")
    await app.router.handle(CommandInvoked(actor("alice"), command="suggest", text="Idea"))
    for text, meant in (
        ("1 planed Great idea", "planned"),
        ("1 under reveiw Looking into it", "under review"),
        ("1 declind: no budget", "declined"),
    ):
        reply = await app.router.handle(CommandInvoked(actor("boss"), command="answer", text=text))
        assert reply.error and f"Did you mean {meant}?" in reply.error, text
        assert "new, under review, planned, done, declined" in reply.error
    form = await app.router.handle(
        FormSubmitted(
            actor("boss"),
            form_id=actions.FORM_ANSWER,
            values={"status": "planed", "text": "Great idea"},
            context={"suggestion": 1},
        )
    )
    assert form.error and "Did you mean planned?" in form.error
    async with app.db.transaction() as session:
        idea = await session.get(Suggestion, 1)
        assert idea is not None and idea.status == "new" and idea.first_response_at is None
    assert app.worker is not None
    await app.worker.drain()
    assert [s for s in remote.sent if s.target.recipient == "alice"] == []
    # Spelt right, with a colon after it, the status is read and the rest is the answer.
    done = await app.router.handle(
        CommandInvoked(actor("boss"), command="answer", text="1 planned: Great idea")
    )
    assert "is planned" in done.messages[0].fallback
    await app.worker.drain()
    [notice] = [s for s in remote.sent if s.target.recipient == "alice"]
    assert notice.message.cards[0].text.startswith("Great idea")


async def test_an_answer_with_a_status_and_no_text_opens_the_form_with_that_status(
    app: Application,
) -> None:
    """'/answer 1 planned' asks for the text; the status typed is kept, not reset to New."""
    await make_member(app, "boss", role=Role.MANAGER)
    await make_member(app, "alice", manager="boss")
    await app.router.handle(CommandInvoked(actor("alice"), command="suggest", text="Idea"))
    for text, status in (
        ("1 planned", "planned"),
        ("1 Under review", "under_review"),
        ("1", "new"),
    ):
        reply = await app.router.handle(CommandInvoked(actor("boss"), command="answer", text=text))
        assert reply.form is not None and reply.form.form_id == actions.FORM_ANSWER, text
        [field] = [f for f in reply.form.fields if f.name == "status"]
        assert field.initial == status, text


async def test_a_count_of_one_is_singular(app: Application, remote: RemotePlatform) -> None:
    """'1 recipient', '1 item', '1 person': never '1 items'."""
    await make_member(app, "dana", role=Role.STRATEGIST, team="Marketing")
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "reply", "Answer within an hour")
        await add_content(
            session, OPERATOR, "https://example.com/a", title="A", objective_key="reply"
        )
        await add_digest(
            session,
            OPERATOR,
            "picks",
            kind="content",
            audience="team:Support",
            cron="0 9 * * *",
            timezone="UTC",
        )
    sent = await app.router.handle(
        CommandInvoked(actor("dana"), command="digest", text="run picks")
    )
    assert "is on its way to 1 recipient (run #1, 1 item)." in sent.messages[0].fallback
    assert app.worker is not None
    await app.worker.drain()
    report = await app.router.handle(CommandInvoked(actor("dana"), command="report"))
    facts = {f.label: f.value for c in report.messages[0].cards for f in c.facts}
    assert facts["Content"] == "1 item to 1 person"


async def test_a_strategist_resends_a_content_digest_only_when_asking_in_chat(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    await send_digest(app, remote)
    again = await app.router.handle(CommandInvoked(actor("dana"), command="digest", text="run d"))
    assert "was not sent" in again.messages[0].fallback
    resent = await app.router.handle(
        CommandInvoked(actor("dana"), command="digest", text="run d --include-sent")
    )
    assert "on its way to 2 recipients" in resent.messages[0].fallback
    assert "items already sent included" in resent.messages[0].fallback


async def test_a_strategist_chooses_the_period_a_run_covers_in_chat(app: Application) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    async with app.db.transaction() as session:
        await add_digest(
            session, OPERATOR, "v", kind="voice", audience="all", cron="0 9 * * *", timezone="UTC"
        )
    bad = await app.router.handle(
        CommandInvoked(actor("dana"), command="digest", text="run v --since lately")
    )
    assert bad.error and "not a date or a period" in bad.error
    ran = await app.router.handle(
        CommandInvoked(actor("dana"), command="digest", text="run v --since 2026-01-05")
    )
    assert "No customer voice dated since 05 Jan 2026 00:00 UTC" in ran.messages[0].fallback
