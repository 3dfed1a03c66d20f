"""The activities the Teams adapter sends: cards as message activities, invoke answers (to a
card's button, and a message action's dialog), the parameters of a new personal chat and the
reference it gives."""

from __future__ import annotations

from typing import Any

from botbuilder.core import InvokeResponse
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from botbuilder.schema.teams import (
    MessagingExtensionActionResponse,
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleTaskInfo,
)
from msrest.serialization import Model

from adapters.teams.cards import CONTENT_TYPE, render_parts, task_form_card
from bot.events import Reply
from bot.i18n import _
from bot.messages import Card, Message


def personal_chat(bot_id: str, teams_user_id: str, tenant: str) -> ConversationParameters:
    return ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id=bot_id),
        members=[ChannelAccount(id=teams_user_id)],
        tenant_id=tenant or None,
        channel_data={"tenant": {"id": tenant}} if tenant else None,
    )


def chat_reference(
    team: ConversationReference, created: Any, member: Any, tenant: str
) -> ConversationReference:
    """The reference of a 1:1 chat the bot just opened (what its first activity would give)."""
    return ConversationReference(
        bot=team.bot,
        user=ChannelAccount(
            id=member.id, name=member.name, aad_object_id=getattr(member, "aad_object_id", None)
        ),
        conversation=ConversationAccount(
            id=created.id, conversation_type="personal", tenant_id=tenant or None
        ),
        channel_id=team.channel_id or "msteams",
        service_url=getattr(created, "service_url", None) or team.service_url,
    )


def card_activity(card: dict[str, Any], summary: str | None = None) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        attachments=[Attachment(content_type=CONTENT_TYPE, content=card)],
        summary=(summary or card.get("fallbackText") or "")[:250] or None,
    )


def welcome_card() -> dict[str, Any]:
    welcome = Message(
        _("Thanks for adding the advocacy bot."),
        (
            Card(
                title=_("Thanks for adding the advocacy bot"),
                text=_(
                    "Each member of this team gets digests and answers in a personal chat with "
                    "the bot. Type help there to see what it can do."
                ),
            ),
        ),
    )
    return render_parts(welcome)[0]


class MessageInvokeResponse(Model):
    """An adaptiveCard/action answer that shows a short message instead of a new card
    (botbuilder's AdaptiveCardInvokeResponse only carries objects)."""

    _attribute_map = {  # noqa: RUF012 - msrest reads it from the class
        "status_code": {"key": "statusCode", "type": "int"},
        "type": {"key": "type", "type": "str"},
        "value": {"key": "value", "type": "str"},
    }

    def __init__(self, *, value: str) -> None:
        super().__init__()
        self.status_code = 200
        self.type = "application/vnd.microsoft.activity.message"
        self.value = value


def done() -> str:
    """What a press or a dialog answers when the reply has nothing else to say."""
    return _("Done.")


def already_counted() -> str:
    """What a repeated press answers: it changed nothing."""
    return _("Already counted.")


def invoke_message(text: str) -> InvokeResponse:
    return InvokeResponse(status=200, body=MessageInvokeResponse(value=text))


def task_form(title: str, card: dict[str, Any]) -> InvokeResponse:
    """A message action's answer that opens a dialog (a task module) showing ``card``."""
    info = TaskModuleTaskInfo(
        title=title[:100],
        height="medium",
        width="medium",
        card=Attachment(content_type=CONTENT_TYPE, content=card),
    )
    return InvokeResponse(
        status=200,
        body=MessagingExtensionActionResponse(task=TaskModuleContinueResponse(value=info)),
    )


def task_message(text: str) -> InvokeResponse:
    """A message action's answer that shows a short message in its dialog."""
    return InvokeResponse(
        status=200,
        body=MessagingExtensionActionResponse(task=TaskModuleMessageResponse(value=text)),
    )


def task_closed() -> InvokeResponse:
    """A dialog's submission answered with no response: Teams closes the dialog."""
    return InvokeResponse(status=200)


def task_answer(reply: Reply, problem: str | None = None) -> InvokeResponse:
    """A reply as a task module: its form in a dialog (with the problem and notes on top), or
    its error or first message as a short message."""
    if reply.form is None:
        return task_message(reply.error or problem or done())
    notes = tuple(m.fallback for m in reply.messages)
    if problem:
        notes = (f"⚠️ {problem}", *notes)
    return task_form(reply.form.title, task_form_card(reply.form, notes))
