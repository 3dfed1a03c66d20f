"""The Teams adapter: botbuilder's CloudAdapter at /api/messages on the shared aiohttp app.

With MICROSOFT_APP_ID set, botbuilder validates every request's JWT and refuses others with 401.
Without it the adapter serves local emulators only: requests from other machines get 401.
Every incoming activity's conversation reference is stored, so proactive digests and notices
reach people after a restart; installing the app in a team reads the roster and opens a 1:1
conversation with each member, so digests reach people who never wrote to the bot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext, serializer_helper
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    ChannelAccount,
    ConversationReference,
)
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
)
from msrest.exceptions import DeserializationError

from adapters.teams.activities import (
    already_counted,
    card_activity,
    chat_reference,
    done,
    invoke_message,
    personal_chat,
    welcome_card,
)
from adapters.teams.auth import (
    KeptCredentials,
    PromptConnectors,
    StrictAuthentication,
    app_id_of,
)
from adapters.teams.cards import CONTENT_TYPE, HOME_KEY, HOME_REFRESH, render_parts
from adapters.teams.config import MESSAGES_PATH, TeamsConfig
from adapters.teams.deferred import INBOX_KIND, order_key
from adapters.teams.dialogs import FETCH_TASK, SUBMIT_ACTION, MessageActionDialogs
from adapters.teams.emulator import WITHOUT_APP_ID, local_service_url, refusal_without_app_id
from adapters.teams.errors import DroppedConnection, cause, delivery_error, http_status
from adapters.teams.home import TeamsHome
from adapters.teams.parse import (
    PLATFORM,
    actor_of,
    event_id,
    invoke_event,
    message_event,
    message_ref,
    reaction_events,
    tenant_of,
    user_key,
)
from adapters.teams.references import ConversationStore
from adapters.teams.sender import ActivityPoster
from adapters.teams.surface import TeamsSurface
from adapters.teams.tab import mount_tab
from bot.events import ActionInvoked, Actor, AppInstalled, Event, FormSubmitted, HomeOpened, Reply
from bot.i18n import N_, _, speaking
from bot.messages import Message
from bot.platform import (
    AdapterContext,
    DeliveryError,
    DeliveryTarget,
    SendResult,
    SignedEndpoint,
    actions,
    show_reply,
)
from bot.platform.inbox import Accepted, InboxItem, Receipt, RetryLater
from bot.platform.members import ImportReport, MemberRow
from bot.platform.pacing import Pacer, pacer_for
from bot.platform.previews import VotePreview, is_vote
from bot.platform.reply import without_update
from bot.platform.support import CONSOLE_PATH, InvalidInput

log = logging.getLogger(__name__)

# Teams' limit for bots: 7 messages a second per conversation; the tenant's (50 requests a
# second) is TeamsConfig.tenant_rate, which TEAMS_TENANT_RATE raises.
PER_CONVERSATION = 7.0
RECEIPT_KEY = "advocacy.inbox_receipt"
ROSTER_PAGE = 500
CARD_ACTION = "adaptiveCard/action"
# How long a press's request waits for the inbox's worker (Teams gives up on an invoke's
# answer after about 15 seconds); the card is updated through the Connector after that.
INVOKE_BUDGET_SECONDS = 10.0
# Vote presses answered before their write, at most: beyond it a press waits for its write, so
# the answers run at most this far ahead of the inbox's worker.
MAX_EARLY = 2000
EARLY_FORGET_SECONDS = 600.0
# How a press's turn came out (``on_invoke``), compared with how it was answered early.
OUTCOME_KEY = "advocacy.invoke_outcome"
COUNTED, REPEATED, REFUSED = "counted", "repeated", "refused"
# Typed "home" outside the personal chat: the home (a manager's rollup) is never shown there.
HOME_ELSEWHERE = N_("Your home is in your personal chat with me: type home there.")


class TeamsAdapter:
    """Declares ``DirectorySync`` (team rosters), ``MessageActions`` ("Turn into suggestion"
    and "Log as customer voice" in a message's menu) and ``HomeSurface`` (a home card in the
    member's personal chat that refreshes itself when viewed and after every answer)."""

    platform = PLATFORM
    message_actions: tuple[str, ...] = (actions.SUGGEST_OPEN, actions.VOICE_OPEN)

    def __init__(self, context: AdapterContext, config: TeamsConfig) -> None:
        assert context.store is not None
        self.context = context
        self.config = config
        self.router = context.router
        self.conversations = ConversationStore(context.store)
        configuration = config.botbuilder_configuration()
        self.cloud = CloudAdapter(
            StrictAuthentication(
                configuration,
                credentials_factory=KeptCredentials(
                    ConfigurationServiceClientCredentialFactory(configuration)
                ),
            )
        )
        self.cloud.on_turn_error = self._on_turn_error
        self.bot = _Bot(self)
        self._per_conversation = Pacer(PER_CONVERSATION)
        # The tenant's cap is shared by every instance on one PostgreSQL database.
        self._per_tenant = pacer_for(
            context.db, "teams.tenant", config.tenant_rate, config.tenant_burst
        )
        self._background: set[asyncio.Task[Any]] = set()
        self._connectors: dict[str, Any] = {}
        # Proactive sends (digests, notices) leave through aiohttp, not the Connector client.
        self._poster = ActivityPoster()
        self._turn_connectors: dict[tuple[str, str, str], Any] = {}
        # Vote presses answered before their write, by inbox item id, and how many such
        # presses each (member, idea) has waiting: a second one is answered as a repeat.
        self._early: dict[int, _Early] = {}
        self._pending_votes: dict[tuple[str, ...], int] = {}
        assert context.inbox is not None
        self.inbox = context.inbox
        self.inbox.register(INBOX_KIND, self.handle_inbox_item, order_key=order_key)
        self.dialogs = MessageActionDialogs(self)
        self.home = TeamsHome(
            self,
            self.conversations,
            self._connector,
            per_conversation=self._per_conversation,
            per_tenant=self._per_tenant,
        )
        _quiet_transport_logs()

    # ----- HTTP ---------------------------------------------------------------------------

    @property
    def signed_endpoints(self) -> tuple[SignedEndpoint, ...]:
        """Every request carries a Bot Framework token, unless the adapter serves a local
        emulator (no MICROSOFT_APP_ID), which sends none."""
        if not self.config.authenticated:
            return ()
        return (SignedEndpoint(MESSAGES_PATH, ("Authorization",)),)

    def mount(self, app: web.Application) -> None:
        app.router.add_post(MESSAGES_PATH, self._handle)
        mount_tab(app, self.config.public_url.rstrip("/") + CONSOLE_PATH)

    async def start(self) -> None:
        return None  # the start-up log already says how requests are authenticated

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self._poster.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Authenticate, then: an invoke (Teams waits for its answer, which carries the updated
        card) is handled in the request and committed before the answer; every other activity
        is written to the inbox and acknowledged, and the inbox's worker handles it."""
        if not self.config.authenticated and (refused := refusal_without_app_id(request)):
            return web.json_response({"error": refused}, status=401)
        auth_header = request.headers.get("Authorization", "")
        if self.config.authenticated and not auth_header.lower().startswith("bearer "):
            return _unauthorized()  # before reading a byte of the body
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "send the activity as JSON"}, status=415)
        activity = _activity_of(await request.read())
        if activity is None:
            # Whether the body parses is told only to a caller with a valid token.
            if await self._authenticate(Activity(channel_id="msteams"), auth_header) is None:
                return _unauthorized()
            return web.json_response(
                {"error": "the body is not a Bot Framework activity"}, status=400
            )
        if not self.config.authenticated and not local_service_url(activity.service_url):
            return web.json_response(
                {"error": f"{WITHOUT_APP_ID}: its serviceUrl must be on this machine."},
                status=401,
            )
        authenticated = await self._authenticate(activity, auth_header)
        if authenticated is None:
            return _unauthorized()
        if authenticated.connector_factory is not None:
            authenticated.connector_factory = self._kept_connectors(
                authenticated.connector_factory, authenticated.claims_identity
            )
        if activity.type == ActivityTypes.invoke and (
            activity.name in (FETCH_TASK, SUBMIT_ACTION) or _home_refresh(activity)
        ):
            # A message action's dialog (see on_message_action), or a view of the home card
            # (see on_home_refresh): answered in the request, changing nothing but the idea
            # submitted, which counts once by its activity id.
            answer = await self.cloud.process_activity(authenticated, activity, self.bot.on_turn)
            return _invoke_response(answer)
        if activity.type == ActivityTypes.invoke:
            return await self._answer_invoke(activity, authenticated)
        payload = _payload(activity, authenticated)
        await self.inbox.accept(PLATFORM, INBOX_KIND, event_id(activity), payload)
        return web.Response(status=201)

    async def _answer_invoke(
        self, activity: Activity, authenticated: AuthenticateRequestResult
    ) -> web.Response:
        """A card's button (``adaptiveCard/action``): written to the inbox like any activity (a
        redelivery counts once), and answered with what the inbox's worker made of it (the
        updated card) when it is done within Teams' wait; else the card is updated later."""
        accepted = await self.inbox.accept(
            PLATFORM, INBOX_KIND, event_id(activity), _payload(activity, authenticated), wait=True
        )
        with speaking(activity.locale):
            if accepted.waiter is None:  # a redelivery of a press already taken
                return _invoke_response(invoke_message(already_counted()))
            early = await self._answer_early(activity, accepted)
            if early is not None:
                return _invoke_response(early)
            answered, answer = await accepted.waiter.wait(INVOKE_BUDGET_SECONDS)
            if not answered:
                return _invoke_response(invoke_message(_("Working on it: the card will update.")))
        return _invoke_response(answer)

    async def _answer_early(self, activity: Activity, accepted: Accepted) -> InvokeResponse | None:
        """A Vote press, durably in the inbox, answered with the card as the vote will leave it
        (``EventRouter.preview_vote``) instead of waiting for the inbox's worker to write it.
        The worker then writes it as any press, and sends what the write says ("Your vote is
        counted"); where the write comes out otherwise than answered (a repeat, a refusal) it
        also puts the real card in place of the answered one (``_answer_late``). None: the
        outcome cannot be known without the write (a form, a first contact, a closed idea),
        or too many answered presses wait for their write; the request waits as before."""
        if accepted.waiter is None or accepted.item_id is None:
            return None
        if activity.name != CARD_ACTION or not self._room_to_answer_early():
            return None
        event = invoke_event(activity)
        if not isinstance(event, ActionInvoked) or not is_vote(event):
            return None
        if _on_home(((activity.value or {}).get("action") or {}).get("data")):
            return None
        key = _vote_key(event)
        pending = self._pending_votes.get(key, 0) > 0
        self._pending_votes[key] = self._pending_votes.get(key, 0) + 1  # before any await
        try:
            event = await self._whole_message(event)
            assert isinstance(event, ActionInvoked)
            preview = await self.router.preview_vote(event, pending=pending)
            answer = await self._preview_answer(activity, event, preview) if preview else None
            if answer is not None:
                # The worker may have written it meanwhile: then its answer is the one to give.
                answered, written = await accepted.waiter.wait(0)
                if answered:
                    answer = written
                else:  # nothing awaited from here on: the worker sees this once it is done
                    self._early[accepted.item_id] = _Early(
                        key, preview.counted, asyncio.get_running_loop().time()
                    )
                    return answer
        except Exception as error:
            log.warning("teams: could not answer a vote before writing it: %s", cause(error))
            answer = None
        self._release_vote(key)
        return answer

    async def _preview_answer(
        self, activity: Activity, event: ActionInvoked, preview: VotePreview
    ) -> InvokeResponse:
        """The answer ``on_invoke`` will give for the previewed vote: the updated card, or
        "Done." ("Already counted." for a repeat) when the press updates no card."""
        if preview.update is None:
            return invoke_message(done() if preview.counted else already_counted())
        surface = TeamsSurface(
            TurnContext(self.cloud, activity),
            self.conversations,
            origin=event.message_ref,
            invoke=True,
        )
        with speaking(preview.locale):
            await surface.update_card(preview.update)
        assert surface.answer is not None
        return _card_answer(surface.answer)

    def _room_to_answer_early(self) -> bool:
        """Whether fewer than MAX_EARLY answered presses wait for their write. Presses this
        process will not handle (another instance's worker claimed them) are forgotten after
        EARLY_FORGET_SECONDS; if this one handles such a press after all, it updates the
        card as for any press answered before it was written (``_answer_late``)."""
        if len(self._early) < MAX_EARLY:
            return True
        oldest = asyncio.get_running_loop().time() - EARLY_FORGET_SECONDS
        for item_id, early in list(self._early.items()):
            if early.at < oldest:
                del self._early[item_id]
                self._release_vote(early.key)
        return len(self._early) < MAX_EARLY

    def _release_vote(self, key: tuple[str, ...]) -> None:
        left = self._pending_votes.get(key, 0) - 1
        if left > 0:
            self._pending_votes[key] = left
        else:
            self._pending_votes.pop(key, None)

    def _kept_connectors(self, factory: Any, claims: ClaimsIdentity) -> PromptConnectors:
        """The turn's Connector clients, one per app and service URL for every turn."""
        return PromptConnectors(factory, self._turn_connectors, app_id_of(claims))

    async def _authenticate(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult | None:
        try:
            return await self.cloud.bot_framework_authentication.authenticate_request(
                activity, auth_header
            )
        except PermissionError:
            return None

    async def handle_inbox_item(self, item: InboxItem, receipt: Receipt) -> None:
        """An acknowledged activity's turn, run by the inbox's worker with the identity its
        request proved (checked once, when it arrived: its token may have expired since)."""
        payload = item.payload
        activity = Activity().deserialize(payload["activity"])
        claims = ClaimsIdentity(
            payload.get("claims") or {},
            bool(payload.get("authenticated")),
            payload.get("authentication_type"),
        )
        authenticated = AuthenticateRequestResult()
        authenticated.claims_identity = claims
        authenticated.audience = payload.get("audience")
        authenticated.caller_id = payload.get("caller_id")
        authenticated.connector_factory = self._kept_connectors(
            self.cloud.bot_framework_authentication.create_connector_factory(claims), claims
        )

        outcome: list[str] = []

        async def turn(turn_context: TurnContext) -> None:
            turn_context.turn_state[RECEIPT_KEY] = receipt
            await self.bot.on_turn(turn_context)
            outcome.extend(turn_context.turn_state.get(OUTCOME_KEY) or ())

        answer = await self.cloud.process_activity(authenticated, activity, turn)
        if activity.type != ActivityTypes.invoke:
            return
        early = self._early.pop(item.id, None)
        if early is not None:  # answered before the write: correct the card only if it differs
            self._release_vote(early.key)
            if outcome != [COUNTED if early.counted else REPEATED]:
                log.info("teams: a vote came out otherwise than answered; updating its card")
                await self._answer_late(activity, answer)
            return
        waiting = receipt.waiter is not None and receipt.waiter.offer(answer)
        if not waiting:
            await self._answer_late(activity, answer)

    async def _answer_late(self, activity: Activity, answer: InvokeResponse | None) -> None:
        """A press whose request stopped waiting (or was retried after a failure): the updated
        card replaces the pressed one through the Connector; a notice other than "Done." is
        sent to the conversation."""
        body = answer.body if answer is not None else None
        value = getattr(body, "value", None)
        if isinstance(value, dict) and activity.reply_to_id:
            updated = card_activity(value)
            call = self._connector_call(
                activity.service_url,
                "update_activity",
                activity.conversation.id,
                activity.reply_to_id,
                updated,
            )
        elif isinstance(value, str) and value not in _quiet_answers(activity.locale):
            with speaking(activity.locale):
                message = card_activity(render_parts(Message.text(value))[0], value)
            call = self._connector_call(
                activity.service_url, "send_to_conversation", activity.conversation.id, message
            )
        else:
            return
        try:
            await call
        except Exception as error:
            log.warning("teams: could not show a late answer to a press: %s", delivery_error(error))

    async def _connector_call(self, service_url: str, operation: str, *args: Any) -> Any:
        connector = await self._connector(service_url)
        return await getattr(connector.conversations, operation)(*args)

    async def _on_turn_error(self, turn_context: TurnContext, error: Exception) -> None:
        if isinstance(error, RetryLater) or _receipt(turn_context) is not None:
            # The inbox's turn: let the inbox try it again later, rather than botbuilder
            # swallowing the error and the event counting as handled.
            raise error
        log.exception("teams: a turn failed", exc_info=error)

    # ----- turns --------------------------------------------------------------------------

    async def remember(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.conversation is None or activity.from_property is None:
            return
        await self.conversations.remember(
            activity, tenant=tenant_of(activity), user=user_key(activity.from_property)
        )

    async def on_message(self, turn_context: TurnContext) -> None:
        event = message_event(turn_context.activity)
        if event is None:
            return
        if isinstance(event, HomeOpened):
            await self.on_home_opened(turn_context, event)
            return
        if _on_home(turn_context.activity.value):  # Action.Submit: a client without refresh
            await self.on_home_press(turn_context, event)
            return
        origin = getattr(event, "message_ref", None)
        reply = await self.router.handle(await self._whole_message(event), _receipt(turn_context))
        if isinstance(event, FormSubmitted) and origin and reply.messages and not reply.error:
            confirmation, *others = reply.messages  # the form becomes its confirmation
            reply = replace(reply, messages=others, update=confirmation)
        await self._show(turn_context, reply, origin=origin)

    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name in (FETCH_TASK, SUBMIT_ACTION):
            return await self.on_message_action(turn_context)
        if activity.name != CARD_ACTION:
            return InvokeResponse(status=501)
        if _home_refresh(activity):
            return await self.on_home_refresh(turn_context)
        event = invoke_event(activity)
        if event is None:
            return invoke_message(_("This button is no longer supported; ask for a fresh card."))
        if _on_home(((activity.value or {}).get("action") or {}).get("data")):
            return await self.on_home_press(turn_context, event)
        origin = getattr(event, "message_ref", None)
        reply = await self.router.handle(await self._whole_message(event), _receipt(turn_context))
        if isinstance(event, FormSubmitted) and reply.messages and not reply.error:
            # The form becomes its confirmation, so it cannot be sent twice.
            confirmation, *others = reply.messages
            reply = replace(reply, messages=others, update=confirmation)
        # Without an updated card, the error is the invoke's answer (Teams shows it on the
        # card); with one, it is told as a message after it.
        shown = replace(reply, error=None) if reply.update is None else reply
        card = await self._show(turn_context, shown, origin=origin, invoke=True)
        turn_context.turn_state[OUTCOME_KEY] = [
            REFUSED if reply.error else REPEATED if reply.duplicate else COUNTED
        ]
        if card is not None:
            return _card_answer(card)
        text = reply.error or (already_counted() if reply.duplicate else done())
        return invoke_message(text)

    async def on_message_action(self, turn_context: TurnContext) -> InvokeResponse:
        """A message action's dialog (``MessageActionDialogs.answer``)."""
        return await self.dialogs.answer(turn_context)

    # ----- the home card ------------------------------------------------------------------

    async def on_home_opened(self, turn_context: TurnContext, event: HomeOpened) -> None:
        """``home`` typed in the personal chat: a fresh home card there, kept as the one that
        answers update. Elsewhere the member is pointed to their personal chat."""
        activity = turn_context.activity
        reply = await self.router.handle(event, _receipt(turn_context))
        if reply.duplicate or not reply.messages:
            return
        if (activity.conversation.conversation_type or "personal") != "personal":
            await TeamsSurface(turn_context, self.conversations, origin=None).tell(
                Message.text(_(HOME_ELSEWHERE))
            )
            return
        await self.home.post(turn_context, reply.messages[0])

    async def on_home_refresh(self, turn_context: TurnContext) -> InvokeResponse:
        """Universal Actions' ``refresh``: the owner is viewing the home card; answer with the
        home as it now is, which Teams shows in its place."""
        activity = turn_context.activity
        card = await self.home.card(actor_of(activity), activity.from_property.id)
        return _card_answer(card) if card else invoke_message(_("Nothing to show yet."))

    async def on_home_press(self, turn_context: TurnContext, event: Event) -> InvokeResponse:
        """A button on the home card (a vote, "Suggest an idea"), as a press in Slack's Home
        tab: the home is not a delivered message, so the event names none; its form opens in
        the chat; its error is told; and the answer is the home as it now is."""
        activity = turn_context.activity
        if isinstance(event, ActionInvoked):
            event = replace(event, message_ref=None)
        reply = await self.router.handle(event, _receipt(turn_context))
        invoke = activity.type == ActivityTypes.invoke
        await self._show(
            turn_context,
            without_update(reply),
            origin=None,
            quiet=True,
            refresh_home=not invoke and reply.form is None,
        )
        if not invoke:
            return InvokeResponse(status=200)
        # Also for a press that changed nothing (a second vote): the home says how things are.
        card = await self.home.card(actor_of(activity), activity.from_property.id)
        return _card_answer(card) if card else invoke_message(done())

    async def publish_home(self, actor: Actor) -> None:
        """``HomeSurface``: the member's home card as it now is (see ``TeamsHome.publish``)."""
        await self.home.publish(actor)

    async def on_reaction(self, turn_context: TurnContext) -> None:
        """One activity may add and remove several reactions: each counts once by its own id,
        and the last one closes the inbox event, so a retry after a crash does only the rest."""
        events = reaction_events(turn_context.activity)
        for number, event in enumerate(events, start=1):
            receipt = _receipt(turn_context) if number == len(events) else None
            await self.router.handle(await self._whole_message(event), receipt)

    async def _whole_message(self, event: Event) -> Event:
        """A card from the second part of a split message still belongs to its delivery,
        which the core knows by the first part's reference."""
        ref = getattr(event, "message_ref", None)
        if not ref:
            return event
        first, _ = await self.conversations.part(ref)
        return replace(event, message_ref=first) if first != ref else event

    async def on_installed(self, turn_context: TurnContext) -> None:
        """The app was added: welcome the person, or read the team's roster."""
        activity = turn_context.activity
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team = data.get("team") or {}
        tenant = tenant_of(activity)
        # Teams announces one installation twice (installationUpdate and conversationUpdate).
        if not await self.conversations.first_install(activity.conversation.id, activity.type):
            return
        if team.get("id"):
            await self.conversations.remember_team(
                team["id"],
                {
                    "conversation_id": activity.conversation.id,
                    "tenant": tenant,
                    "name": team.get("name") or "",
                },
            )
            self._spawn(self.sync_team(team["id"]))
            await turn_context.send_activity(card_activity(welcome_card()))
            return
        reply = await self.router.handle(
            AppInstalled(actor_of(activity), event_id=event_id(activity)), _receipt(turn_context)
        )
        await self._show(turn_context, reply, origin=None)
        if not reply.duplicate and not reply.error:
            try:  # the member's home, from the start (in a personal chat only)
                await self.home.post(turn_context)
            except Exception as error:
                log.warning("teams: could not send a new member's home card: %s", cause(error))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ----- showing replies ----------------------------------------------------------------

    async def _show(
        self,
        turn_context: TurnContext,
        reply: Reply,
        *,
        origin: str | None,
        invoke: bool = False,
        quiet: bool = False,
        refresh_home: bool = False,
    ) -> dict[str, Any] | None:
        """Show a core reply in the turn's conversation (``bot.platform.show_reply``). For an
        invoke, returns the updated card to answer with, so Teams replaces the pressed card."""
        actor = actor_of(turn_context.activity)
        surface = TeamsSurface(
            turn_context,
            self.conversations,
            origin=origin,
            invoke=invoke,
            home=lambda: self.home.refresh(actor),
        )
        await show_reply(reply, surface, platform=PLATFORM, quiet=quiet, refresh_home=refresh_home)
        return surface.answer

    # ----- proactive sending --------------------------------------------------------------

    async def _conversation_for(self, target: DeliveryTarget) -> ConversationReference:
        if target.channel:
            reference = await self.conversations.reference(target.recipient)
            if reference is None:
                raise DeliveryError(
                    "the app is not installed in this channel's team", permanent=True
                )
            return reference
        reference = await self.conversations.personal(target.workspace, target.recipient)
        if reference is not None:
            return reference
        member = await self.conversations.member(target.workspace, target.recipient)
        if member is not None:
            return await self._open_personal(target.workspace, target.recipient, member)
        raise DeliveryError(
            "no Teams conversation with this person yet: they need the app (install it in "
            "their team, then run advocacy members sync teams)",
            permanent=True,
        )

    async def _connector(self, service_url: str) -> Any:
        """A Connector client per service URL, kept: creating one costs more than a send.
        (botbuilder's continue_conversation builds a new client and a pipeline every time.)"""
        client = self._connectors.get(service_url)
        if client is None:
            claims = self.cloud.create_claims_identity(self.config.app_id or "")
            claims.claims[AuthenticationConstants.SERVICE_URL_CLAIM] = service_url
            factory = self.cloud.bot_framework_authentication.create_connector_factory(claims)
            client = await PromptConnectors(factory).create(service_url, None)
            self._connectors[service_url] = client
        return client

    async def _open_personal(
        self, tenant: str, user: str, member: dict[str, Any]
    ) -> ConversationReference:
        """Start the bot's 1:1 chat with someone found in a team roster (createConversation)."""
        connector = await self._connector(member["service_url"])
        await self._per_tenant.wait(tenant)
        try:
            created = await connector.conversations.create_conversation(
                personal_chat(member["bot_id"], member["teams_id"], tenant)
            )
        except Exception as error:
            raise delivery_error(error) from None
        team = ConversationReference(
            bot=ChannelAccount(id=member["bot_id"]),
            channel_id="msteams",
            service_url=member["service_url"],
        )
        account = ChannelAccount(id=member["teams_id"], name=member.get("name"), aad_object_id=user)
        reference = chat_reference(team, created, account, tenant)
        await self.conversations.remember_personal_chats([(tenant, user, reference)])
        return reference

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        reference = await self._conversation_for(target)
        conversation_id = reference.conversation.id
        # The Connector client's credentials: its token goes on the post (sender.py).
        credentials = (await self._connector(reference.service_url)).config.credentials
        sent: list[str] = []
        try:
            for card in render_parts(message):
                activity = card_activity(card, message.fallback)
                # A new message in the conversation, not a reply to anything.
                TurnContext.apply_conversation_reference(activity, reference)
                activity.reply_to_id = None
                # The activity is ready before its slot is taken: it leaves as it is granted.
                await self._per_conversation.wait(conversation_id)
                await self._per_tenant.wait(target.workspace)
                post = (credentials, reference.service_url, conversation_id, activity)
                try:
                    sent.append(await self._poster.send(*post))
                except DroppedConnection as error:
                    # A kept-alive connection the service closed while idle: the request never
                    # reached it, and aiohttp does not retry a POST. Once more, at once.
                    log.info("teams: retrying a send after a dropped connection: %s", cause(error))
                    sent.append(await self._poster.send(*post))
        except Exception as error:
            if http_status(error)[0] == 429:  # our count and the service's disagree
                await self._per_tenant.refused(target.workspace)
            raise delivery_error(error) from None
        if len(sent) > 1:
            await self.conversations.remember_parts(conversation_id, sent)
        first = sent[0] if sent else ""
        return SendResult(platform_ref=message_ref(conversation_id, first) if first else None)

    async def _in_turn(
        self,
        start: Callable[[Callable[[TurnContext], Awaitable[None]]], Awaitable[Any]],
        work: Callable[[TurnContext], Awaitable[None]],
    ) -> None:
        """Run ``work`` in a proactive botbuilder turn. botbuilder would hand an error raised
        inside the turn to on_turn_error and carry on, and a failed send would look sent: the
        error is brought back here and becomes the outbox's retry or dead letter."""
        failures: list[Exception] = []

        async def guarded(turn_context: TurnContext) -> None:
            try:
                await work(turn_context)
            except Exception as error:
                failures.append(error)

        try:
            await start(guarded)
        except Exception as error:
            failures.append(error)
        if failures:
            raise delivery_error(failures[0])

    # ----- rosters ------------------------------------------------------------------------

    async def sync_directory(self, scope: str = "") -> ImportReport:
        """``DirectorySync``: read the roster of the team ``scope`` (its id), or of every team
        the app is installed in, and import the members (see ``sync_team``)."""
        teams = [key for key, _ in await self.conversations.teams()]
        if scope:
            if scope not in teams:
                raise InvalidInput(f"The app is not installed in team {scope}.")
            teams = [scope]
        total = ImportReport()
        for team in teams:
            _, report = await self._sync_team(team)
            total = _merged(total, report)
        return total

    async def sync_team(self, team_id: str) -> int:
        """Read a team's roster (paged), import its members, and open a 1:1 conversation with
        each member the bot cannot reach yet. Returns how many members were read."""
        count, _ = await self._sync_team(team_id)
        return count

    async def _sync_team(self, team_id: str) -> tuple[int, ImportReport]:
        team = dict(await self.conversations.teams()).get(team_id)
        if team is None:
            raise ValueError(f"the app is not installed in team {team_id}")
        reference = await self.conversations.reference(team["conversation_id"])
        if reference is None:
            raise ValueError(f"no conversation is known for team {team_id}")
        tenant = str(team.get("tenant") or "")
        members: list[Any] = []
        opened: list[tuple[str, str, ConversationReference]] = []

        async def read_and_open(turn_context: TurnContext) -> None:
            token = None
            while True:
                await self._per_tenant.wait(tenant)
                page = await TeamsInfo.get_paged_team_members(
                    turn_context, team_id, token, ROSTER_PAGE
                )
                members.extend(page.members or [])
                token = page.continuation_token
                if not token:
                    break
            # One connector for every new chat: creating one per member costs more than the call.
            connector = turn_context.turn_state[turn_context.adapter.BOT_CONNECTOR_CLIENT_KEY]
            reachable = await self.conversations.reachable(tenant)
            for member in members:
                if user_key(member) in reachable:
                    continue
                await self._per_tenant.wait(tenant)
                try:
                    result = await connector.conversations.create_conversation(
                        personal_chat(reference.bot.id, member.id, tenant)
                    )
                except Exception as error:
                    log.warning(
                        "teams: could not open a chat with a roster member: %s",
                        delivery_error(error),
                    )
                    continue
                opened.append(
                    (tenant, user_key(member), chat_reference(reference, result, member, tenant))
                )

        await self._in_turn(
            lambda work: self.cloud.continue_conversation(
                reference, work, bot_app_id=self.config.app_id or ""
            ),
            read_and_open,
        )
        rows = [
            MemberRow(
                line=0,
                platform=PLATFORM,
                workspace=tenant,
                user_id=user_key(member),
                name=member.name or None,
                team=None,
                manager=None,
                role=None,
                timezone=None,
            )
            for member in members
        ]
        report = await self.context.members.import_rows(rows)
        await self.conversations.remember_members(
            tenant,
            {
                user_key(member): {
                    "teams_id": member.id,
                    "service_url": reference.service_url,
                    "bot_id": reference.bot.id,
                    "name": member.name or "",
                }
                for member in members
            },
        )
        await self.conversations.remember_personal_chats(opened)
        log.info(
            "teams: roster of team %s read: %d members", team.get("name") or team_id, len(members)
        )
        return len(members), report


@dataclass(frozen=True)
class _Early:
    """A vote press answered before its write: whose and which idea's (``_vote_key``), and
    whether it was answered as counted or as a repeat."""

    key: tuple[str, ...]
    counted: bool
    at: float  # the event loop's clock when it was answered


def _vote_key(event: ActionInvoked) -> tuple[str, ...]:
    actor = event.actor
    return (actor.workspace, actor.user_id, str(event.value.get("suggestion", "")))


def _merged(total: ImportReport, report: ImportReport) -> ImportReport:
    """Two teams' import reports as one: counts added, the problems kept in order."""
    counts = {
        name: getattr(total, name) + getattr(report, name)
        for name, value in vars(report).items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    return replace(
        total,
        **counts,
        rejected=[*total.rejected, *report.rejected],
        warnings=[*total.warnings, *report.warnings],
    )


class _Bot(ActivityHandler):
    """botbuilder's turn dispatch, handing each kind of activity to the adapter."""

    def __init__(self, adapter: TeamsAdapter) -> None:
        self.adapter = adapter

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self.adapter.remember(turn_context)
        # What the adapter says itself in the language of the person's Teams (the core speaks
        # the member's own inside each event it handles).
        with speaking(turn_context.activity.locale):
            await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await self.adapter.on_message(turn_context)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        return await self.adapter.on_invoke(turn_context)

    async def on_message_reaction_activity(self, turn_context: TurnContext) -> None:
        await self.adapter.on_reaction(turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        if any(m.id == turn_context.activity.recipient.id for m in members_added):
            await self.adapter.on_installed(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self.adapter.on_installed(turn_context)


# The HTTP libraries under botbuilder log each request's URL at DEBUG, and a Connector URL
# names the conversation: a sealed notice's would say whose chat it went to.
TRANSPORT_LOGGERS = ("urllib3.connectionpool", "msrest.http_logger")


def _quiet_transport_logs() -> None:
    for name in TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


def _quiet_answers(locale: str | None) -> tuple[str, str]:
    """The answers to a press that need no message when they come late ("Done.")."""
    with speaking(locale):
        return done(), already_counted()


def _payload(activity: Activity, authenticated: AuthenticateRequestResult) -> dict[str, Any]:
    """An activity as the inbox keeps it: with the identity its request proved."""
    return {
        "activity": activity.serialize(),
        "claims": authenticated.claims_identity.claims,
        "authenticated": authenticated.claims_identity.is_authenticated,
        "authentication_type": authenticated.claims_identity.authentication_type,
        "audience": authenticated.audience,
        "caller_id": authenticated.caller_id,
    }


def _invoke_response(answer: InvokeResponse | None) -> web.Response:
    if answer is None:
        return web.Response(status=201)
    if answer.body is None:  # "no response": a dialog's submission closes it
        return web.Response(status=answer.status)
    return web.json_response(serializer_helper(answer.body), status=answer.status)


def _card_answer(card: dict[str, Any]) -> InvokeResponse:
    """An ``adaptiveCard/action`` answer: the card Teams shows in the pressed one's place."""
    return InvokeResponse(
        status=200,
        body=AdaptiveCardInvokeResponse(status_code=200, type=CONTENT_TYPE, value=card),
    )


def _home_refresh(activity: Activity) -> bool:
    """A view of the home card (Universal Actions' refresh of its owner)."""
    if activity.type != ActivityTypes.invoke or activity.name != CARD_ACTION:
        return False
    value = activity.value if isinstance(activity.value, dict) else {}
    return (value.get("action") or {}).get("verb") == HOME_REFRESH


def _on_home(data: Any) -> bool:
    """Whether a button's data says it sits on the home card."""
    return isinstance(data, dict) and bool(data.get(HOME_KEY))


def _receipt(turn_context: TurnContext) -> Receipt | None:
    """The inbox receipt of a turn the inbox's worker runs (None for an invoke's turn)."""
    return turn_context.turn_state.get(RECEIPT_KEY)


def _activity_of(body: bytes) -> Activity | None:
    """The request's activity, or None when the body is not one (bad JSON, nested past
    Python's recursion limit, the wrong shapes, no type)."""
    try:
        data = json.loads(body)
        activity = Activity().deserialize(data) if isinstance(data, dict) else None
    except (ValueError, RecursionError, DeserializationError, TypeError, AttributeError):
        return None
    return activity if activity is not None and activity.type else None


def _unauthorized() -> web.Response:
    return web.json_response({"error": "Unauthorized"}, status=401)


__all__ = ["TeamsAdapter"]
