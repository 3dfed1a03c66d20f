"""The Teams app package: a zip with manifest.json and the two icons, built from configuration.

Icons are drawn here (a speech bubble) so the package needs no image files or imaging library.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from typing import Any
from urllib.parse import urlsplit

from adapters.teams.commands import COMMANDS, SUGGEST_COMMAND, VOICE_COMMAND
from adapters.teams.localization import language_files, localization_info
from adapters.teams.tab import TAB_PATH
from bot.i18n import N_
from bot.platform.support import CONSOLE_PATH, PRIVACY_PATH, TERMS_PATH, VERSION, InvalidInput

MANIFEST_VERSION = "1.17"
MANIFEST_SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
)
ACCENT = (0x2C, 0x5C, 0x8A)
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def manifest(
    app_id: str,
    public_url: str,
    *,
    name: str = "Advocacy",
    privacy_url: str | None = None,
    terms_url: str | None = None,
) -> dict[str, Any]:
    """The app's manifest. Its privacy and terms links are the pages this bot serves
    (bot/policy_pages.py), unless the organisation gives its own (https) addresses."""
    if not GUID.match(app_id or ""):
        raise InvalidInput(
            "MICROSOFT_APP_ID must be the bot's Azure app id (a GUID) to build the Teams package."
        )
    public_url = public_url.rstrip("/")
    host = urlsplit(public_url).hostname  # the tab's and the console's host too
    if not host or not public_url.startswith("https://"):
        raise InvalidInput(
            "PUBLIC_URL must be this server's https:// address for the Teams "
            "package (Teams only talks to https)."
        )
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": VERSION,
        "id": app_id,
        "developer": {
            "name": name,
            "websiteUrl": public_url,
            "privacyUrl": _https("the privacy URL", privacy_url or public_url + PRIVACY_PATH),
            "termsOfUseUrl": _https("the terms URL", terms_url or public_url + TERMS_PATH),
        },
        "name": {"short": name[:30], "full": f"{name} bot"[:100]},
        "description": {
            "short": N_("Content, customer voice and your ideas, tied to our promises.")[:80],
            "full": N_(
                "Curated content worth sharing, what customers are telling us, and a place to "
                "send ideas upward (anonymously if you wish) and hear what became of them. "
                "Everything is tied to the promises we made to our customers."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": ["personal"],
                        "commands": [{"title": t, "description": d} for t, d in COMMANDS],
                    }
                ],
            }
        ],
        # "Turn into suggestion" and "Log as customer voice" in a message's "More actions"
        # menu (an action-based message extension, answered by the bot:
        # composeExtension/fetchTask, then submitAction).
        "composeExtensions": [
            {
                "botId": app_id,
                "commands": [
                    {
                        "id": SUGGEST_COMMAND,
                        "type": "action",
                        "title": N_("Turn into suggestion"),
                        "description": N_(
                            "Send this message upward as an idea, anonymously if you wish"
                        ),
                        "context": ["message"],
                        "fetchTask": True,
                    },
                    {
                        "id": VOICE_COMMAND,
                        "type": "action",
                        "title": N_("Log as customer voice"),
                        "description": N_("Log what a customer said in this message, with a link"),
                        "context": ["message"],
                        "fetchTask": True,
                    },
                ],
            }
        ],
        # The console, from the app's personal tabs (next to the chat with the bot): a page of
        # this server that opens it (adapters/teams/tab.py); "open in browser" goes straight there.
        "staticTabs": [
            {
                "entityId": "console",
                "name": "Console",
                "contentUrl": public_url + TAB_PATH,
                "websiteUrl": public_url + CONSOLE_PATH,
                "scopes": ["personal"],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [host],
    }


def _png(width: int, height: int, pixel: Any) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _bubble(x: float, y: float) -> tuple[bool, bool]:
    """(inside, on the edge) of a speech bubble in a unit square."""
    body = 0.18 <= x <= 0.82 and 0.2 <= y <= 0.66
    tail = 0.3 <= x <= 0.45 and 0.66 <= y <= 0.82 and (y - 0.66) <= (0.45 - x)
    inside = body or tail
    edge = inside and (x < 0.25 or x > 0.75 or y < 0.27 or (0.59 < y <= 0.66 and not tail))
    return inside, edge or tail


def color_icon(size: int = 192) -> bytes:
    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        inside, _ = _bubble(x / size, y / size)
        return (255, 255, 255, 255) if inside else (*ACCENT, 255)

    return _png(size, size, pixel)


def _https(what: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput(
            f"{what} must be an https:// address (Teams shows it to people), such as "
            f"https://intranet.example.com/privacy; not '{url}'."
        )
    return url


def outline_icon(size: int = 32) -> bytes:
    """White on transparent, as Teams requires for the outline icon."""

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        _, edge = _bubble((x + 0.5) / size, (y + 0.5) / size)
        return (255, 255, 255, 255) if edge else (0, 0, 0, 0)

    return _png(size, size, pixel)


def build_package(
    app_id: str,
    public_url: str,
    *,
    name: str = "Advocacy",
    privacy_url: str | None = None,
    terms_url: str | None = None,
) -> bytes:
    document = manifest(app_id, public_url, name=name, privacy_url=privacy_url, terms_url=terms_url)
    # The manifest is English; Teams reads each client language's texts from its own file.
    languages = language_files(document)
    document["localizationInfo"] = localization_info(languages)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(document, indent=2))
        for file_name, strings in languages.items():
            archive.writestr(file_name, json.dumps(strings, indent=2, ensure_ascii=False))
        archive.writestr("color.png", color_icon())
        archive.writestr("outline.png", outline_icon())
    return buffer.getvalue()
