"""The Slack adapter: slack-bolt's AsyncApp on the shared aiohttp app, and outbound sends.

Every request is verified by Bolt with the signing secret (401 otherwise). Listeners write the
request to the durable inbox and only then acknowledge it (Bolt runs them before answering:
``process_before_response``), so Slack gets its answer within 3 seconds and nothing it was told
we received can be lost; the inbox's worker does the work and sends the replies. A modal
submission waits up to ``VIEW_ACK_BUDGET`` for the worker so that a mistake can be shown in the
modal itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import (
    LINK_ACTION,
    core_action_id,
    fallback_text,
    render_blocks,
)
from adapters.slack.config import (
    BOT_SCOPES,
    EVENTS_PATH,
    INSTALL_PATH,
    REDIRECT_PATH,
    SlackConfig,
)
from adapters.slack.directory import USERS_LIST_PER_SECOND, SyncReport, sync_members
from adapters.slack.errors import PERMANENT_ERRORS, delivery_error, unreachable
from adapters.slack.errors import reason as _reason
from adapters.slack.oauth import DatabaseInstallationStore, DatabaseStateStore
from adapters.slack.parse import (
    PLATFORM,
    action_event,
    command_event,
    event_to_core,
    message_ref,
    plain_message_text,
    team_of,
    user_of,
    view_event_id,
    view_submission_event,
    without_card,
)
from adapters.slack.surface import SlackReplySurface
from bot.events import ActionInvoked, Actor, AppInstalled, Event, HomeOpened, MessageReceived, Reply
from bot.i18n import speaking
from bot.messages import Message
from bot.platform import (
    AdapterContext,
    DeliveryError,
    DeliveryTarget,
    SendResult,
    SignedEndpoint,
    show_reply,
)
from bot.platform import actions as core_actions
from bot.platform.inbox import Accepted, InboxItem, Receipt
from bot.platform.members import ImportReport
from bot.platform.pacing import KeyedLocks, Pacer, pacer_for
from bot.platform.reply import without_update
from bot.platform.support import InvalidInput

log = logging.getLogger(__name__)


class _TokenFromEnvironment(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns, at every start, that the client we give it
    (which carries that same token) wins: true, and nothing an operator should act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("As you gave `client` as well")


logging.getLogger("slack_bolt.AsyncApp").addFilter(_TokenFromEnvironment())

# slack_sdk's logger for an anonymous author's notice: its debug lines name the recipient, so
# only warnings and errors (which name no request argument) pass.
SEALED_LOG = logging.getLogger("adapters.slack.sealed")
SEALED_LOG.setLevel(logging.WARNING)

VIEW_ACK_BUDGET = 2.5
SHORTCUT_CALLBACK = "turn_into_suggestion"
VOICE_SHORTCUT_CALLBACK = "log_customer_voice"
# What each message shortcut opens: the form its core action shows, prefilled with the message.
SHORTCUT_ACTIONS = {
    SHORTCUT_CALLBACK: core_actions.SUGGEST_OPEN,
    VOICE_SHORTCUT_CALLBACK: core_actions.VOICE_OPEN,
}
# Slack allows about one message a second to one channel.
MESSAGES_PER_SECOND_PER_CHANNEL = 1.0
WORKSPACE_BURST = 3
KNOWN_USERS = 10_000
# How long a person's name, time zone and language are taken as Slack last gave them: a change of
# language in Slack reaches the bot within the hour, at one users.info call an hour per person.
KNOWN_USER_SECONDS = 3600.0
INBOX_KIND = "slack"
# Kept under this name for callers that knew it here.
_delivery_error = delivery_error


class SlackAdapter:
    """Slack on the contract, with a Home tab (``HomeSurface``), message shortcuts
    (``MessageActions``) and the workspace directory (``DirectorySync``)."""

    platform = PLATFORM
    message_actions = tuple(SHORTCUT_ACTIONS.values())

    def __init__(self, context: AdapterContext, config: SlackConfig) -> None:
        assert context.store is not None
        self.context = context
        self.config = config
        self.router = context.router
        self.installations = DatabaseInstallationStore(context.store)
        self._clients: dict[str, AsyncWebClient] = {}
        # Updates of one card leave in the order its presses were recorded (see KeyedLocks).
        self._card_turns = KeyedLocks()
        # Each person as Slack gave them (users.info), so their events name them alike, and when.
        self._known_users: OrderedDict[str, tuple[Actor, float]] = OrderedDict()
        self._per_channel = Pacer(MESSAGES_PER_SECOND_PER_CHANNEL)
        # A short burst makes up for time lost between outbox batches, staying under Slack's cap;
        # the cap is the workspace's, so instances sharing a PostgreSQL database share it.
        self._per_workspace = pacer_for(
            context.db, "slack.workspace", config.workspace_rate, WORKSPACE_BURST
        )
        self._directory_pages = Pacer(USERS_LIST_PER_SECOND)
        assert context.inbox is not None
        self.inbox = context.inbox
        self.inbox.register(INBOX_KIND, self.handle_inbox_item, order_key=_order_key)
        self.app = self._build_app()

    # ----- set-up -------------------------------------------------------------------------

    def _client(self, token: str | None, *, sealed: bool = False) -> AsyncWebClient:
        # No hidden retries inside slack_sdk: the outbox retries, counts and bounds every attempt
        # (a silent second POST after a dropped connection could post the message twice).
        kwargs: dict[str, Any] = {
            "token": token,
            "timeout": self.config.timeout,
            "retry_handlers": [],
        }
        if sealed:  # slack_sdk logs each request's arguments, the recipient among them
            kwargs["logger"] = SEALED_LOG
        if self.config.api_url:
            kwargs["base_url"] = self.config.api_url
        return AsyncWebClient(**kwargs)

    def _build_app(self) -> AsyncApp:
        if self.config.oauth:
            flow = AsyncOAuthFlow(
                client=self._client(None),
                settings=AsyncOAuthSettings(
                    client_id=self.config.client_id,
                    client_secret=self.config.client_secret,
                    scopes=list(BOT_SCOPES),
                    installation_store=self.installations,
                    state_store=DatabaseStateStore(self.installations.store),
                    install_path=INSTALL_PATH,
                    redirect_uri_path=REDIRECT_PATH,
                    redirect_uri=f"{self.config.public_url}{REDIRECT_PATH}",
                ),
            )
            app = AsyncApp(
                signing_secret=self.config.signing_secret,
                client=self._client(None),
                oauth_flow=flow,
                process_before_response=True,
            )
        else:
            app = AsyncApp(
                signing_secret=self.config.signing_secret,
                # The client carries the bot token (and the Web API URL tests point elsewhere).
                client=self._client(self.config.bot_token),
                process_before_response=True,
            )
        # Bolt tries listeners in the order they were added: clicks, the most frequent, first.
        app.action(re.compile(".*"))(self._on_action)
        app.command("/suggest")(self._on_command)
        app.command("/advocacy")(self._on_command)
        app.command("/voice")(self._on_command)
        app.view(re.compile(".*"))(self._on_view_submission)
        for callback in SHORTCUT_ACTIONS:
            app.shortcut(callback)(self._on_shortcut)
        for kind in ("reaction_added", "reaction_removed", "app_home_opened", "message"):
            app.event(kind)(self._on_event)
        return app

    # Bolt checks the signature; the server refuses a request without one before its body.
    signed_endpoints = (
        SignedEndpoint(EVENTS_PATH, ("X-Slack-Signature", "X-Slack-Request-Timestamp")),
    )

    def mount(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self._handle_events)
        if self.app.oauth_flow is not None:
            app.router.add_get(INSTALL_PATH, self._handle_install)
            app.router.add_get(REDIRECT_PATH, self._handle_oauth_redirect)

    async def start(self) -> None:
        if self.config.oauth:
            installs = await self.installations.store.find("installation")
            log.info(
                "slack: %d workspace(s) installed; install page %s%s",
                len(installs),
                self.config.public_url,
                INSTALL_PATH,
            )
            return
        try:
            identity = await self._client(self.config.bot_token).auth_test()
            log.info(
                "slack: connected to workspace '%s' as bot user %s",
                identity.get("team"),
                identity.get("user_id"),
            )
        except SlackApiError as error:
            reason = _reason(error)
            if reason in PERMANENT_ERRORS:  # retrying will not mend a wrong token
                log.error(
                    "slack: Slack refused the bot token (%s): check SLACK_BOT_TOKEN (the "
                    "xoxb- token of this app's installation); nothing can be sent until it is "
                    "fixed",
                    reason,
                )
            else:
                log.warning(
                    "slack: the bot token could not be checked (%s); messages will be "
                    "retried from the outbox",
                    reason,
                )
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "slack: Slack could not be reached to check the bot token (%s); messages will "
                "be retried from the outbox",
                _reason(error),
            )

    async def stop(self) -> None:
        return None  # acknowledged work waits in the inbox, which outlives this process

    # ----- HTTP ---------------------------------------------------------------------------

    async def _handle_events(self, request: web.Request) -> web.Response:
        # slack_sdk's verifier raises on a timestamp that is not a whole number (a 500): refuse
        # it as what it is, an unverifiable request.
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not stamp.isdigit():
            return web.json_response({"error": "invalid request"}, status=401)
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _handle_install(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        response = await self.app.oauth_flow.handle_installation(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _handle_oauth_redirect(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        response = await self.app.oauth_flow.handle_callback(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    # ----- who is acting ------------------------------------------------------------------

    def _workspace(self, team_id: str) -> str:
        return team_id if self.config.oauth else ""

    async def _actor(self, user_id: str, team_id: str, client: AsyncWebClient) -> Actor:
        """The acting user; their name, time zone and language (``locale``, which Slack sends
        only when asked) are read from Slack, then kept for ``KNOWN_USER_SECONDS``."""
        workspace = self._workspace(team_id)
        key = f"{workspace}/{user_id}"
        now = time.monotonic()
        known = self._known_users.get(key)
        if known is not None and now - known[1] < KNOWN_USER_SECONDS:
            self._known_users.move_to_end(key)
            return known[0]
        name = timezone = locale = None
        try:
            info = (await client.users_info(user=user_id, include_locale=True))["user"]
            profile = info.get("profile", {})
            name = profile.get("real_name") or info.get("real_name") or info.get("name")
            timezone = info.get("tz")
            locale = info.get("locale")
        except (SlackApiError, aiohttp.ClientError, TimeoutError, KeyError) as error:
            log.warning("slack: users.info failed (%s); continuing without a name", _reason(error))
        actor = Actor(
            PLATFORM, user_id, workspace, display_name=name, timezone=timezone, locale=locale
        )
        self._known_users[key] = (actor, now)
        self._known_users.move_to_end(key)
        if len(self._known_users) > KNOWN_USERS:
            self._known_users.popitem(last=False)
        return actor

    # ----- listeners: write to the inbox, then acknowledge --------------------------------

    async def _accept(
        self, kind: str, body: dict[str, Any], event_id: str | None, *, wait: bool = False
    ) -> Accepted:
        """Write the request to the inbox; Slack gets its ack only after this returns. An
        error here (the database is away) answers 500 without an ack, so Slack retries an
        event, and a person sees that their click did not go through, rather than losing it."""
        return await self.inbox.accept(
            PLATFORM, INBOX_KIND, event_id, {"type": kind, "body": body}, wait=wait
        )

    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        trigger = body.get("trigger_id")
        await self._accept("command", body, f"command:{trigger}" if trigger else None)
        await ack()

    async def _on_action(self, ack: Any, body: dict[str, Any]) -> None:
        action = (body.get("actions") or [{}])[0]
        if core_action_id(str(action.get("action_id", ""))) != LINK_ACTION:
            stamp = action.get("action_ts")
            event_id = f"action:{stamp}:{user_of(body)}" if stamp else None
            await self._accept("action", without_card(body), event_id)
        await ack()  # a link button: the browser does the work

    async def _on_view_submission(self, ack: Any, body: dict[str, Any]) -> None:
        """A modal's answer: a mistake is shown in the modal itself when the inbox's worker
        finds it within Slack's 3 seconds; otherwise the modal closes and the answer follows
        by DM."""
        started = asyncio.get_running_loop().time()
        accepted = await self._accept("view", body, view_event_id(body), wait=True)
        if accepted.waiter is None:  # a repeat of a submission already taken
            await ack()
            return
        budget = VIEW_ACK_BUDGET - (asyncio.get_running_loop().time() - started)
        answered, reply = await accepted.waiter.wait(max(0.0, budget))
        blocks = body["view"].get("blocks") or []
        if answered and reply.error and blocks:
            await ack(
                response_action="errors",
                errors={blocks[0].get("block_id", "text"): reply.error[:300]},
            )
            return
        await ack()

    async def _on_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        trigger = body.get("trigger_id")
        await self._accept("shortcut", body, f"shortcut:{trigger}" if trigger else None)
        await ack()

    async def _on_event(self, body: dict[str, Any]) -> None:
        """Events API callbacks; Bolt acknowledges once this returns (process_before_response).
        A bot's own messages and events the core ignores are not written at all."""
        payload = body.get("event", {})
        if not payload.get("user") or payload.get("bot_id"):
            return
        if event_to_core(body, Actor(PLATFORM, str(payload["user"]))) is None:
            return
        await self._accept("event", body, body.get("event_id"))

    # ----- the inbox's worker: the work behind each acknowledged request ------------------

    async def handle_inbox_item(self, item: InboxItem, receipt: Receipt) -> None:
        body = item.payload["body"]
        kind = item.payload["type"]
        team = team_of(body)
        client = await self._client_for(self._workspace(team))
        actor = await self._actor(_user(body), team, client)
        # What the adapter says itself (a form that could not open...) in the person's language.
        with speaking(actor.locale):
            await self._handle_kind(kind, body, actor, client, receipt)

    async def _handle_kind(
        self,
        kind: str,
        body: dict[str, Any],
        actor: Actor,
        client: AsyncWebClient,
        receipt: Receipt,
    ) -> None:
        if kind == "command":
            await self._handle_command(body, actor, client, receipt)
        elif kind == "action":
            await self._handle_action(body, actor, client, receipt)
        elif kind == "view":
            await self._handle_view(body, actor, client, receipt)
        elif kind == "shortcut":
            await self._handle_shortcut(body, actor, client, receipt)
        elif kind == "event":
            await self._handle_event(body, actor, client, receipt)
        else:
            log.warning("slack: an inbox event of unknown type '%s' was skipped", kind)

    def _surface(
        self, body: dict[str, Any], actor: Actor, client: AsyncWebClient, **kwargs: Any
    ) -> SlackReplySurface:
        """The reply surface of one request: its trigger id and response_url, when it has them."""
        return SlackReplySurface(
            client=client,
            actor=actor,
            home=self._home_of,
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url"),
            timeout=self.config.timeout,
            **kwargs,
        )

    async def _handle_command(
        self, body: dict[str, Any], actor: Actor, client: AsyncWebClient, receipt: Receipt
    ) -> None:
        reply = await self.router.handle(command_event(body, actor), receipt)
        await show_reply(reply, self._surface(body, actor, client), platform=PLATFORM)

    async def _handle_action(
        self, body: dict[str, Any], actor: Actor, client: AsyncWebClient, receipt: Receipt
    ) -> None:
        event = action_event(body, actor)
        if event is None:
            return
        container = body.get("container") or {}
        in_home = container.get("type") == "view" and body.get("view", {}).get("type") == "home"
        in_modal = container.get("type") == "view" and not in_home
        reply = await self.router.handle(event, receipt)
        # Only a press on a message answers in its conversation (a view's press has no place).
        surface = self._surface(
            body,
            actor,
            client,
            message_ref=event.message_ref,
            ephemeral_card=bool(container.get("is_ephemeral")),
            push=in_modal,
        )
        if container.get("type") != "message":
            surface.response_url = None
        opens_form = reply.form is not None
        if reply.update is not None and event.message_ref:
            # Presses on one card update it in the order they were recorded (taking a place in
            # the queue now, just after the commit); a press with another queued behind it
            # leaves the card to that one, sparing Slack's chat.update limit on busy cards.
            async with self._card_turns.hold(event.message_ref):
                if reply.form is not None:  # first, as show_reply does: the trigger is fresh
                    await show_reply(Reply(form=reply.form), surface, platform=PLATFORM)
                if not self._card_turns.waiting(event.message_ref):
                    await show_reply(Reply(update=reply.update), surface, platform=PLATFORM)
            reply = dataclasses.replace(without_update(reply), form=None)
        # A press in the Home tab (a vote, say) is answered by showing the tab as it now is.
        await show_reply(
            reply,
            surface,
            platform=PLATFORM,
            quiet=in_home,
            refresh_home=in_home and not opens_form,
        )

    async def _handle_view(
        self, body: dict[str, Any], actor: Actor, client: AsyncWebClient, receipt: Receipt
    ) -> None:
        reply = await self.router.handle(view_submission_event(body, actor), receipt)
        taken = receipt.waiter.offer(reply) if receipt.waiter is not None else False
        if taken and reply.error and body["view"].get("blocks"):
            reply = dataclasses.replace(reply, error=None)  # shown in the modal, under a field
        # The modal closes with the answer: what follows goes by DM, with no trigger to use.
        surface = SlackReplySurface(
            client=client, actor=actor, home=self._home_of, timeout=self.config.timeout
        )
        await show_reply(reply, surface, platform=PLATFORM)

    async def _handle_shortcut(
        self, body: dict[str, Any], actor: Actor, client: AsyncWebClient, receipt: Receipt
    ) -> None:
        """ "Turn into suggestion" or "Log as customer voice" on any message: its form, prefilled
        with the message's text, keeping a link back to it."""
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        permalink = None
        if channel and message.get("ts"):
            try:
                answer = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
                permalink = answer.get("permalink")
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
                log.warning("slack: chat.getPermalink failed: %s", _reason(error))
        action_id = SHORTCUT_ACTIONS.get(str(body.get("callback_id")), core_actions.SUGGEST_OPEN)
        # The message's words, not Slack's markup; the voice form says when it cuts.
        text = plain_message_text(str(message.get("text") or ""))
        voice = action_id == core_actions.VOICE_OPEN
        value: dict[str, Any] = {"text": text if voice else text[:3000]}
        if permalink:
            value["source_url"] = permalink
        event = ActionInvoked(
            actor,
            action_id=action_id,
            value=value,
            event_id=f"shortcut:{body.get('trigger_id')}",
        )
        reply = await self.router.handle(event, receipt)
        surface = self._surface(body, actor, client)
        surface.response_url = None  # a shortcut's answers go by DM, as before
        await show_reply(reply, surface, platform=PLATFORM)

    async def _handle_event(
        self, body: dict[str, Any], actor: Actor, client: AsyncWebClient, receipt: Receipt
    ) -> None:
        event: Event | None = event_to_core(body, actor)
        if event is None:
            return
        if isinstance(event, AppInstalled) and await self.context.members.exists(
            PLATFORM, actor.user_id, actor.workspace
        ):
            return  # a later visit to the Messages tab: the bot already said hello
        reply = await self.router.handle(event, receipt)
        surface = SlackReplySurface(
            client=client, actor=actor, home=self._home_of, timeout=self.config.timeout
        )
        if isinstance(event, HomeOpened) and reply.messages:
            home = reply.messages[0]

            async def drawn(_: Actor) -> Message:
                return home  # the core's answer to this very event

            surface.home = drawn
            await show_reply(Reply(refresh_home=True), surface, platform=PLATFORM)
        elif isinstance(event, MessageReceived | AppInstalled):
            await show_reply(reply, surface, platform=PLATFORM)

    # ----- the Home tab -------------------------------------------------------------------

    async def _home_of(self, actor: Actor) -> Message | None:
        """The person's Home tab as the core draws it now."""
        reply = await self.router.handle(HomeOpened(actor))
        return reply.messages[0] if reply.messages else None

    async def publish_home(self, actor: Actor) -> None:
        """Show ``actor``'s Home tab as it now is (``HomeSurface``)."""
        client = await self._client_for(actor.workspace)
        surface = SlackReplySurface(
            client=client, actor=actor, home=self._home_of, timeout=self.config.timeout
        )
        await show_reply(Reply(refresh_home=True), surface, platform=PLATFORM)

    # ----- the directory ------------------------------------------------------------------

    async def sync_directory(self, scope: str = "") -> ImportReport:
        """Import the people of the workspace ``scope`` (a team id; every installed workspace
        when empty) from users.list (``DirectorySync``); the imports, added together."""
        reports = await self.sync_workspaces(scope or None)
        return _combined([report.imported for _, report in reports if report.imported])

    async def sync_workspaces(
        self,
        workspace: str | None = None,
        *,
        on_page: Callable[[str, SyncReport], None] | None = None,
    ) -> list[tuple[str, SyncReport]]:
        """Each workspace's sync, read through this adapter's client at users.list's pace
        (Tier 2), with what was read and skipped; ``on_page`` follows the reading."""
        reports = []
        for team in await self._workspaces(workspace):
            client = await self._client_for(team)

            def page_read(report: SyncReport, team: str = team) -> None:
                if on_page is not None:
                    on_page(team, report)

            report = await sync_members(
                self.context.members,
                client,
                workspace=team,
                pacer=self._directory_pages,
                on_page=page_read,
            )
            reports.append((team, report))
        return reports

    async def _workspaces(self, workspace: str | None) -> list[str]:
        """The workspaces to read: the one of the bot token, or those that installed the app."""
        if not self.config.oauth:
            return [""]
        installs = await self.installations.store.find("installation")
        teams = [str(i.value["team_id"]) for i in installs if i.value.get("team_id")]
        if workspace:
            teams = [team for team in teams if team == workspace]
        if not teams:
            raise InvalidInput(
                "No Slack workspace has installed the app yet; install it at "
                f"{self.config.public_url}{INSTALL_PATH}"
            )
        return teams

    # ----- outbound -----------------------------------------------------------------------

    async def _client_for(self, workspace: str, *, sealed: bool = False) -> AsyncWebClient:
        """The workspace's client; ``sealed``: one that logs nothing of its requests."""
        key = f"{workspace}|sealed" if sealed else workspace
        if key not in self._clients:
            self._clients[key] = self._client(await self._token(workspace), sealed=sealed)
        return self._clients[key]

    async def _token(self, workspace: str) -> str | None:
        if not self.config.oauth:
            return self.config.bot_token
        team = workspace or await self._only_workspace()
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team)
        if bot is None:
            raise DeliveryError(f"the app is not installed in workspace {team}", permanent=True)
        return bot.bot_token

    async def _only_workspace(self) -> str:
        """A channel named without its workspace (slack:C0123) is fine while only one workspace
        has installed the app; with several, it must say which (slack:T0123/C0123)."""
        installs = await self.installations.store.find("installation")
        teams = [i.value.get("team_id") for i in installs if i.value.get("team_id")]
        if len(teams) != 1:
            raise DeliveryError(
                f"{len(teams)} workspaces have installed the app; name the channel's workspace "
                "as slack:TEAM_ID/CHANNEL_ID",
                permanent=True,
            )
        return str(teams[0])

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        client = await self._client_for(target.workspace, sealed=target.sealed)
        # Everything is ready before the slot is taken, so the request leaves as it is granted:
        # work done between the two spreads arrivals unevenly, and Slack counts arrivals.
        text, blocks = fallback_text(message), render_blocks(message)
        await self._per_channel.wait(target.recipient)
        await self._per_workspace.wait(target.workspace)
        try:
            answer = await client.chat_postMessage(
                channel=target.recipient,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            failure = delivery_error(error)
            if failure.retry_after is not None:  # a 429: our count and Slack's disagree
                await self._per_workspace.refused(target.workspace)
            raise failure from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise unreachable(error) from None
        return SendResult(platform_ref=message_ref(answer["channel"], answer["ts"]))


def _user(body: dict[str, Any]) -> str:
    """Who acted: an interaction's or command's user, or an Events API event's."""
    return user_of(body) or str((body.get("event") or {}).get("user") or "")


def _order_key(payload: dict[str, Any]) -> str | None:
    """One person's requests are handled in the order they arrived."""
    body = payload.get("body") or {}
    user = _user(body)
    return f"{team_of(body)}/{user}" if user else None


def _combined(reports: list[ImportReport]) -> ImportReport:
    """Several workspaces' imports as one report: counts added, problems listed together."""
    total = ImportReport()
    for report in reports:
        for item in dataclasses.fields(ImportReport):
            mine, theirs = getattr(total, item.name), getattr(report, item.name)
            if isinstance(mine, (bool, str)):
                if theirs and not mine:
                    setattr(total, item.name, theirs)
            elif isinstance(mine, int):
                setattr(total, item.name, mine + theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
    return total


__all__ = ["SlackAdapter"]
