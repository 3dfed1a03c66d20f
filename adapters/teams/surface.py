"""Where one Teams turn's reply is shown (``bot.platform.ReplySurface``): cards sent in the
turn's conversation, the pressed card replaced in place, for an ``adaptiveCard/action``
invoke the updated card kept as the invoke's answer (Universal Actions: Teams swaps the card
for the one the answer carries), and the member's home card updated in place. Connector
failures become ``DeliveryError``s, so ``show_reply`` waits out a short 429 and logs the rest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from adapters.teams.activities import card_activity
from adapters.teams.cards import form_card, part_of_card, render_parts
from adapters.teams.errors import delivery_error
from adapters.teams.parse import card_index, split_ref
from adapters.teams.references import ConversationStore
from bot.messages import Form, Message
from bot.platform import DeliveryError


class TeamsSurface:
    """One turn's surface. ``origin`` is the message reference of the card the event came
    from (None for typed text); ``invoke`` says Teams waits for the updated card as the
    answer, kept in ``answer`` instead of being sent."""

    def __init__(
        self,
        turn_context: TurnContext,
        conversations: ConversationStore,
        *,
        origin: str | None,
        invoke: bool = False,
        home: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._turn = turn_context
        self._conversations = conversations
        self._origin = origin
        self._invoke = invoke
        self._home = home
        self.answer: dict[str, Any] | None = None

    async def open_form(self, form: Form) -> bool:
        """A form is a card with inputs, sent in the conversation (Teams has no modal a bot
        can open from a message or a button press without a task module)."""
        await self._send(card_activity(form_card(form), form.title))
        return True

    async def update_card(self, message: Message) -> None:
        if not (self._origin or self._invoke):
            return  # typed text: there is no card to replace
        index = card_index(self._turn.activity)
        if index is not None:  # the part that now holds the pressed card
            part = part_of_card(message, index)
        else:
            _, part = await self._conversations.part(self._origin) if self._origin else ("", 0)
        parts = render_parts(message)
        card = parts[min(part, len(parts) - 1)]
        if self._invoke:
            self.answer = card
            return
        assert self._origin is not None
        _, activity_id = split_ref(self._origin)
        updated = card_activity(card)
        updated.id = activity_id
        updated.conversation = self._turn.activity.conversation
        await _delivered(lambda: self._turn.update_activity(updated))

    async def tell(self, message: Message) -> None:
        """A message in the conversation (Teams has no ephemeral messages for bots)."""
        for card in render_parts(message):
            await self._send(card_activity(card, message.fallback))

    async def refresh_home(self) -> None:
        """The member's home card, updated in place where they have one (the adapter's)."""
        if self._home is not None:
            await _delivered(self._home)

    async def _send(self, activity: Activity) -> None:
        await _delivered(lambda: self._turn.send_activity(activity))


async def _delivered(call: Callable[[], Awaitable[Any]]) -> Any:
    """Run a Connector call; its failure as the ``DeliveryError`` it means (a bug stays itself)."""
    try:
        return await call()
    except DeliveryError:
        raise
    except Exception as error:
        mapped = delivery_error(error)
        if mapped is error:
            raise
        raise mapped from error
