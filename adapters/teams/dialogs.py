"""The message actions' dialogs (task modules): "Turn into suggestion" and "Log as customer
voice" on any message. ``composeExtension/fetchTask`` answers with the core's form in a dialog,
prefilled with the message (``parse.message_action_event``); ``composeExtension/submitAction``
records the answer through the core, once (a redelivery carries the same activity id, and the
core counts an event id once). Both are answered in the request: Teams waits for the dialog."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext

from adapters.teams.activities import task_answer, task_closed, task_message
from adapters.teams.parse import (
    PLATFORM,
    filled_in,
    message_action_event,
    task_submit_event,
)
from bot.events import ActionInvoked, Actor, FormSubmitted
from bot.i18n import _
from bot.messages import Message
from bot.platform import DeliveryError, DeliveryTarget, actions

log = logging.getLogger("adapters.teams.adapter")

FETCH_TASK = "composeExtension/fetchTask"
SUBMIT_ACTION = "composeExtension/submitAction"
# A message action's forms, and the action that opens each again (with what was typed) when
# the core refuses an answer: the refusal is shown in the dialog, above the fields.
DIALOG_FORMS = {actions.FORM_SUGGEST: actions.SUGGEST_OPEN, actions.FORM_VOICE: actions.VOICE_OPEN}


class MessageActionDialogs:
    """The dialogs of one adapter (its router, conversations, ``send`` and background tasks)."""

    def __init__(self, adapter: Any) -> None:
        self._adapter = adapter

    async def answer(self, turn_context: TurnContext) -> InvokeResponse:
        """A refused answer (empty, too long) shows the form again, as filled in, with the
        reason above the fields: nothing typed is lost. A new idea closes the dialog, and its
        confirmation reaches the member in their personal chat (never the conversation the
        message was in: the idea may be anonymous); the customer voice's is shown in the
        dialog."""
        router = self._adapter.router
        activity = turn_context.activity
        if activity.name == FETCH_TASK:
            event = message_action_event(activity)
            if event is None:
                return task_message(_("This action is no longer supported; update the app."))
            return task_answer(await router.handle(event))
        submitted = task_submit_event(activity)
        if not isinstance(submitted, FormSubmitted):
            return task_message(_("This form is no longer supported; open it again."))
        reply = await router.handle(submitted)
        opens = DIALOG_FORMS.get(submitted.form_id)
        if reply.error and opens is not None:
            again = ActionInvoked(
                submitted.actor,
                action_id=opens,
                value={**submitted.context, **submitted.values},
            )
            shown = await router.handle(again)
            if shown.form is not None:  # as the member left it (objective, anonymous too)
                shown = replace(shown, form=filled_in(shown.form, submitted.values))
            return task_answer(shown, reply.error)
        if submitted.form_id == actions.FORM_SUGGEST and not reply.error:
            if reply.duplicate:
                return task_closed()  # the first delivery was answered, its answer lost
            if reply.messages and await self._reachable(submitted.actor):
                self._adapter._spawn(self._tell(submitted.actor, reply.messages))
                return task_closed()
        if reply.error or reply.duplicate:
            return task_message(reply.error or _("Already received."))
        return task_message(reply.messages[0].fallback if reply.messages else _("Done."))

    async def _reachable(self, actor: Actor) -> bool:
        """Whether the bot has, or can open, a personal chat with ``actor``."""
        conversations = self._adapter.conversations
        return (
            await conversations.personal(actor.workspace, actor.user_id) is not None
            or await conversations.member(actor.workspace, actor.user_id) is not None
        )

    async def _tell(self, actor: Actor, messages: list[Message]) -> None:
        """Messages to the member's personal chat, sent after the invoke is answered (Teams
        gives a dialog's submission five seconds); a failure is logged."""
        target = DeliveryTarget(0, PLATFORM, actor.user_id, actor.workspace)
        for message in messages:
            try:
                await self._adapter.send(target, message)
            except DeliveryError as error:
                log.warning("teams: could not send a dialog's confirmation: %s", error)
                return
