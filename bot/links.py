"""Tracked share links: a signed URL on this server that counts the click, then redirects.

A link is made per delivery when the message is sent, so a click is counted for the item, the
member and the network, once per person (bot/services/feedback.py, record_share_click). The
destination travels inside the signed token: the redirect can only ever go where the bot itself
sent people (no open redirect).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bot.messages import Card, LinkButton, Message

SIGNATURE_BYTES = 16


@dataclass(frozen=True)
class TrackedClick:
    url: str
    subject: str
    network: str
    delivery_id: int | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TrackedLinks:
    def __init__(self, secret: str, public_url: str) -> None:
        self._key = hashlib.sha256(b"advocacy-links-v1:" + secret.encode()).digest()
        self.public_url = public_url.rstrip("/")

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def url_for(self, url: str, subject: str, network: str, delivery_id: int | None) -> str:
        payload = json.dumps(
            {"u": url, "s": subject, "n": network, "d": delivery_id}, separators=(",", ":")
        ).encode()
        return f"{self.public_url}/s/{_b64(payload)}.{_b64(self._sign(payload))}"

    def read(self, token: str) -> TrackedClick | None:
        """The click a token stands for, or None when it is forged, altered or malformed."""
        try:
            encoded, signature = token.split(".", 1)
            payload = _unb64(encoded)
            if not hmac.compare_digest(self._sign(payload), _unb64(signature)):
                return None
            data: dict[str, Any] = json.loads(payload)
            return TrackedClick(str(data["u"]), str(data["s"]), str(data["n"]), data.get("d"))
        except (ValueError, KeyError, TypeError):
            return None

    def passer_by(self, click: TrackedClick, client: str, day: date) -> str:
        """Who clicked a link posted in a channel, as far as can be told without knowing them:
        the same message, client (address and browser) and day give the same value, anything
        else another. Keyed, so the stored value says nothing about the address."""
        seen = json.dumps([click.delivery_id, click.subject, client, day.isoformat()]).encode()
        digest = hmac.new(self._key, b"passer-by:" + seen, hashlib.sha256).hexdigest()
        return "passer-by:" + digest[:32]

    def personalise(self, message: Message, delivery_id: int) -> Message:
        """Replace each tracked link button with this delivery's own tracked URL."""
        if not has_tracked_links(message):
            return message
        return replace(
            message, cards=tuple(self._card(card, delivery_id) for card in message.cards)
        )

    def _card(self, card: Card, delivery_id: int) -> Card:
        buttons = tuple(
            replace(
                button,
                url=self.url_for(
                    button.url, button.track["subject"], button.track["network"], delivery_id
                ),
                track=None,
            )
            if isinstance(button, LinkButton) and button.track
            else button
            for button in card.buttons
        )
        return replace(card, buttons=buttons)


def has_tracked_links(message: Message) -> bool:
    return any(
        isinstance(button, LinkButton) and button.track
        for card in message.cards
        for button in card.buttons
    )


# Fetchers that open a link to show a preview of it, not people: they are sent on, not counted.
LINK_PREVIEWERS = re.compile(
    r"Slackbot|SkypeUriPreview|MicrosoftPreview|facebookexternalhit|LinkedInBot|Twitterbot|"
    r"Discordbot|TelegramBot|WhatsApp|Googlebot|bingbot",
    re.IGNORECASE,
)


def is_link_preview(user_agent: str) -> bool:
    return bool(LINK_PREVIEWERS.search(user_agent))
