"""What the contract tests share: a card to press and react to, a form with every kind of field,
and the checks every test makes of an HTTP status."""

from __future__ import annotations

from collections.abc import Callable

from bot.events import Event, HomeOpened, Reply
from bot.messages import (
    CHECKED,
    Button,
    ButtonStyle,
    Card,
    Fact,
    FieldKind,
    Form,
    FormField,
    Message,
    Option,
)
from bot.platform import SendResult
from tests.contract.harness import PlatformSession

PRESS_VALUE = {"idea": "42", "choice": "yes"}


def accepted(status: int) -> bool:
    """The platform was told the request arrived (2xx)."""
    return 200 <= status < 300


def card_with_buttons() -> Message:
    """A card as the core sends one: a subject, facts and two buttons with values."""
    return Message(
        fallback="Idea 42: a public status page",
        subject="suggestion:42",
        cards=(
            Card(
                title="Idea 42: a public status page",
                text="Customers would see we are on it during incidents.",
                facts=(Fact("Votes", "3"),),
                buttons=(
                    Button("Vote for it", "contract_vote", dict(PRESS_VALUE), ButtonStyle.PRIMARY),
                    Button("Not now", "contract_dismiss", {"idea": "42"}),
                ),
                subject="suggestion:42",
            ),
        ),
    )


async def sent_card(platform: PlatformSession, person: str = "alice") -> SendResult:
    """The card sent to ``person`` by the adapter, with its reference for a press or reaction."""
    result = await platform.send(person, card_with_buttons())
    assert result.platform_ref
    return result


def every_field_form() -> Form:
    """A form with every kind of field, required ones, initial values and a context."""
    return Form(
        form_id="contract_form",
        title="Tell us more",
        submit_label="Send it",
        context={"idea": 42, "from": "contract"},
        fields=(
            FormField("title", "Title", FieldKind.TEXT, required=True, max_length=100),
            FormField(
                "details",
                "Details",
                FieldKind.MULTILINE,
                max_length=3000,
                placeholder="What, and why?",
                initial="As it was",
            ),
            FormField(
                "status",
                "Status",
                FieldKind.SELECT,
                required=True,
                options=(Option("Under review", "under_review"), Option("Planned", "planned")),
                initial="under_review",
            ),
            FormField("anonymous", "Send anonymously", FieldKind.CHECKBOX),
            FormField("public", "Show it on the board", FieldKind.CHECKBOX, initial=CHECKED),
            FormField("channel", "Or post it in a channel", FieldKind.CONVERSATION),
        ),
    )


def answer_with(reply: Reply) -> Callable[[Event], Reply | None]:
    """A script for the recorder: every event is answered with ``reply``, except the home,
    which the core draws (an adapter refreshing it asks the core for it)."""
    return lambda event: None if isinstance(event, HomeOpened) else reply
