"""Each member's home in Teams: a card in their personal chat with the bot, drawn from the core's
home view (what Slack's Home tab shows), that refreshes itself when its owner views it
(Universal Actions ``refresh``), answers a press on it with the home as it then is, and is
updated in place through the Connector after an answer changes it. Which activity is the home
card is kept in the adapter store (``ConversationStore.remember_home``), so that works after a
restart. It is only ever sent in a personal chat: a manager's home holds the rollup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from adapters.teams.activities import card_activity
from adapters.teams.cards import home_card
from adapters.teams.errors import delivery_error
from adapters.teams.parse import actor_of
from adapters.teams.references import ConversationStore
from bot.events import Actor, HomeOpened
from bot.messages import Message
from bot.platform.pacing import AnyPacer, Pacer

# The adapter's Connector client for a service URL.
Connectors = Callable[[str], Awaitable[Any]]


class TeamsHome:
    """The home cards of one adapter: drawn through ``router`` (looked up each time, as the
    contract asks), kept in ``conversations``, sent and updated at the adapter's pace."""

    def __init__(
        self,
        adapter: Any,
        conversations: ConversationStore,
        connectors: Connectors,
        *,
        per_conversation: Pacer,
        per_tenant: AnyPacer,
    ) -> None:
        self._adapter = adapter
        self._conversations = conversations
        self._connectors = connectors
        self._per_conversation = per_conversation
        self._per_tenant = per_tenant

    async def message(self, actor: Actor) -> Message | None:
        """The member's home as the core draws it now."""
        reply = await self._adapter.router.handle(HomeOpened(actor))
        return reply.messages[0] if reply.messages else None

    async def card(self, actor: Actor, owner: str) -> dict[str, Any] | None:
        """The home card of ``actor``, refreshing for ``owner`` (their Teams id)."""
        home = await self.message(actor)
        return home_card(home, owner) if home is not None else None

    async def post(self, turn_context: TurnContext, home: Message | None = None) -> None:
        """Send the member's home card in this turn's personal chat and keep it as theirs."""
        activity = turn_context.activity
        if (activity.conversation.conversation_type or "personal") != "personal":
            return
        actor = actor_of(activity)
        home = home or await self.message(actor)
        if home is None:
            return
        owner = activity.from_property.id
        sent = await turn_context.send_activity(
            card_activity(home_card(home, owner), home.fallback)
        )
        if sent is not None and sent.id:
            await self._conversations.remember_home(
                actor.workspace, actor.user_id, activity.conversation.id, str(sent.id), owner
            )

    async def refresh(self, actor: Actor) -> None:
        """Show ``actor``'s home card as it now is, in place (the Connector's update), when
        they have one; raises ``DeliveryError`` as ``send`` does."""
        kept = await self._conversations.home(actor.workspace, actor.user_id)
        if kept is None:
            return
        reference = await self._conversations.reference(kept["conversation_id"])
        home = await self.message(actor)
        if reference is None or home is None:
            return
        updated = card_activity(home_card(home, kept["teams_id"]), home.fallback)
        TurnContext.apply_conversation_reference(updated, reference)
        updated.id = kept["activity_id"]
        updated.reply_to_id = None
        await self._call(
            reference.service_url,
            kept["conversation_id"],
            actor.workspace,
            lambda connector: connector.conversations.update_activity(
                kept["conversation_id"], kept["activity_id"], updated
            ),
        )

    async def publish(self, actor: Actor) -> None:
        """The member's home card as it now is: updated in place, or sent to their personal
        chat when they have none yet (nothing when the bot has no chat with them)."""
        if await self._conversations.home(actor.workspace, actor.user_id) is not None:
            await self.refresh(actor)
            return
        reference = await self._conversations.personal(actor.workspace, actor.user_id)
        if reference is None or reference.user is None:
            return
        home = await self.message(actor)
        if home is None:
            return
        activity: Activity = card_activity(home_card(home, reference.user.id), home.fallback)
        TurnContext.apply_conversation_reference(activity, reference)
        activity.reply_to_id = None
        conversation_id = reference.conversation.id
        sent = await self._call(
            reference.service_url,
            conversation_id,
            actor.workspace,
            lambda connector: connector.conversations.send_to_conversation(
                conversation_id, activity
            ),
        )
        await self._conversations.remember_home(
            actor.workspace, actor.user_id, conversation_id, str(sent.id), reference.user.id
        )

    async def _call(
        self,
        service_url: str,
        conversation_id: str,
        tenant: str,
        call: Callable[[Any], Awaitable[Any]],
    ) -> Any:
        await self._per_conversation.wait(conversation_id)
        await self._per_tenant.wait(tenant)
        connector = await self._connectors(service_url)
        try:
            return await call(connector)
        except Exception as error:
            raise delivery_error(error) from None
