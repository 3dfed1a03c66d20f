"""Where one Slack request's reply is shown: the ``ReplySurface`` that ``show_reply`` drives.

A form opens as a modal with the request's trigger id (pushed onto the stack when the press came
from a modal); a card is replaced with chat.update, or through the response_url when it was an
ephemeral message (which has no ts to update); a message goes to the response_url as an
ephemeral reply when the request had one, else by DM; the home is the Home tab (views.publish).
Every Slack failure leaves here as ``DeliveryError``, so ``show_reply`` waits out a short 429.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.blocks import fallback_text, home_view, modal_view, render_blocks
from adapters.slack.errors import (
    TRIGGER_ERRORS,
    delivery_error,
    error_code,
    retry_after,
    unreachable,
)
from adapters.slack.parse import split_ref
from bot.events import Actor
from bot.messages import Form, Message
from bot.platform import DeliveryError

T = TypeVar("T")

# What the surface asks the adapter for the person's home as it now is (None: nothing to show).
HomeSource = Callable[[Actor], Awaitable[Message | None]]


@dataclass
class SlackReplySurface:
    """One request's reply surface. ``trigger_id`` opens forms; ``response_url`` answers in the
    conversation the request came from; ``message_ref`` is the pressed card (channel and ts)."""

    client: AsyncWebClient
    actor: Actor
    home: HomeSource
    trigger_id: str | None = None
    response_url: str | None = None
    message_ref: str | None = None
    # The pressed card was an ephemeral message: only its response_url can replace it.
    ephemeral_card: bool = False
    # The press came from inside a modal: a new form is pushed on top of it.
    push: bool = False
    timeout: float = 15.0

    async def open_form(self, form: Form) -> bool:
        """Slack lets a trigger open a modal for 3 seconds only: when the request waited
        longer (a burst, a restart), False, and the person is asked to try again."""
        if not self.trigger_id:
            raise DeliveryError("no trigger id to open a form with", permanent=True)
        opener = self.client.views_push if self.push else self.client.views_open
        try:
            await opener(trigger_id=self.trigger_id, view=modal_view(form))
        except SlackApiError as error:
            if error_code(error) in TRIGGER_ERRORS:
                return False
            raise delivery_error(error) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise unreachable(error) from None
        return True

    async def update_card(self, message: Message) -> None:
        blocks, text = render_blocks(message), fallback_text(message)
        if self.message_ref:
            channel, ts = split_ref(self.message_ref)
            await self._call(
                self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks
            )
        elif self.response_url and self.ephemeral_card:
            await self._respond({"text": text, "blocks": blocks, "replace_original": True})

    async def tell(self, message: Message) -> None:
        blocks, text = render_blocks(message), fallback_text(message)
        if self.response_url:
            await self._respond(
                {
                    "text": text,
                    "blocks": blocks,
                    "response_type": "ephemeral",
                    "replace_original": False,
                }
            )
        else:
            await self._call(
                self.client.chat_postMessage, channel=self.actor.user_id, text=text, blocks=blocks
            )

    async def refresh_home(self) -> None:
        home = await self.home(self.actor)
        if home is not None:
            await self.publish(home)

    async def publish(self, home: Message) -> None:
        """Show ``home`` as the person's Home tab."""
        await self._call(
            self.client.views_publish, user_id=self.actor.user_id, view=home_view(home)
        )

    async def _call(self, method: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        try:
            return await method(**kwargs)
        except SlackApiError as error:
            raise delivery_error(error) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise unreachable(error) from None

    async def _respond(self, message: dict[str, Any]) -> None:
        """Post to the request's response_url (valid 30 minutes, 5 uses), through the Web API
        client's session when it has one: a kept-alive connection, not a new one a post."""
        assert self.response_url is not None
        hook = AsyncWebhookClient(
            url=self.response_url,
            timeout=int(max(1, self.timeout)),
            session=self.client.session,
        )
        try:
            answer = await hook.send_dict(message)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise unreachable(error) from None
        if answer.status_code == 429:
            wait = retry_after(answer.headers)
            raise DeliveryError(
                f"Slack rate limit (429), retry after {wait:.0f}s", retry_after=wait
            )
        if answer.status_code >= 500:
            raise DeliveryError(f"Slack answered HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise DeliveryError(
                f"Slack refused the response_url message: HTTP {answer.status_code}",
                permanent=True,
            )
