"""Conversation references and roster entries, kept in our database (the adapter store) so that
proactive digests and DMs work after a restart.

A reference is stored without what changes from one activity to the next (the activity's id, and
in a channel or group chat the person who wrote), and written only when it changed: a record
rewritten on every incoming activity would date each one, so a reader of the database could put
a person's message next to an anonymous idea filed the same instant."""

from __future__ import annotations

from collections import OrderedDict
from datetime import timedelta
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference

from adapters.teams.lookups import BatchedLookups
from bot.platform.store import AdapterStore
from bot.platform.support import utcnow

CONVERSATION = "conversation"  # key: conversation id -> the reference and what it is
PERSONAL = "personal"  # key: tenant/user -> the 1:1 conversation id with that person
MEMBER = "member"  # key: tenant/user -> their Teams id and service URL (from a roster)
TEAM = "team"  # key: team id -> the team's general channel conversation id
PART = "part"  # key: conversation|activity id -> the first activity of a split message
INSTALLED = "installed"  # key: conversation id -> when the app was last installed there
HOME = "home"  # key: tenant/user -> their home card: its conversation and activity ids
INSTALL_WINDOW = timedelta(minutes=10)
KNOWN = 20_000  # records kept in memory (a reference is about a kilobyte)


def person_key(tenant: str, user: str) -> str:
    return f"{tenant}/{user}"


class ConversationStore:
    def __init__(self, store: AdapterStore) -> None:
        self.store = store
        # What this process read or wrote lately, by (kind, key), the KNOWN last used. References
        # rarely change and every proactive send needs one; a miss still reads the database,
        # where another process (a roster sync from the CLI, say) may have written it. Bounded:
        # a digest to 300,000 members would otherwise keep every reference it sent to.
        self._known: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        # Misses of concurrent sends share their reads (see lookups.py).
        self._lookups: dict[str, BatchedLookups] = {}

    async def _get(self, kind: str, key: str) -> dict[str, Any] | None:
        cached = self._known.get((kind, key))
        if cached is not None:
            self._known.move_to_end((kind, key))
            return cached
        lookups = self._lookups.get(kind)
        if lookups is None:
            lookups = self._lookups[kind] = BatchedLookups(self.store, kind)
        value = await lookups.get(key)
        if value is None:
            return None
        # A write made while the read was on its way is newer than what it read.
        return self._keep(kind, key, value, overwrite=False)

    def _keep(
        self, kind: str, key: str, value: dict[str, Any], *, overwrite: bool = True
    ) -> dict[str, Any]:
        if not overwrite and (kept := self._known.get((kind, key))) is not None:
            return kept
        self._known[(kind, key)] = value
        self._known.move_to_end((kind, key))
        if len(self._known) > KNOWN:
            self._known.popitem(last=False)
        return value

    async def _put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        """Write only what changed: every activity refreshes its reference, few change it. What
        this process has not seen yet is read first (after a restart, say)."""
        if await self._get(kind, key) == value:
            return
        await self.store.put(kind, key, value)
        self._keep(kind, key, value)

    async def _put_many(self, kind: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        if items:
            await self.store.put_many(kind, items)
            for key, value in items:
                self._keep(kind, key, value)

    async def remember(
        self,
        activity: Activity,
        conversation_type: str | None = None,
        *,
        tenant: str,
        user: str | None,
    ) -> ConversationReference:
        reference = TurnContext.get_conversation_reference(activity)
        kind = conversation_type or activity.conversation.conversation_type or "personal"
        await self._put(
            CONVERSATION,
            activity.conversation.id,
            {"reference": stable_reference(reference, kind), "type": kind, "tenant": tenant},
        )
        if kind == "personal" and user:
            await self._put(
                PERSONAL, person_key(tenant, user), {"conversation_id": activity.conversation.id}
            )
        return reference

    async def remember_personal_chats(
        self, chats: list[tuple[str, str, ConversationReference]]
    ) -> None:
        """New 1:1 chats (tenant, user, reference), many at once after a roster sync."""
        await self._put_many(
            CONVERSATION,
            [
                (
                    ref.conversation.id,
                    {"reference": ref.serialize(), "type": "personal", "tenant": tenant},
                )
                for tenant, _, ref in chats
            ],
        )
        await self._put_many(
            PERSONAL,
            [
                (person_key(tenant, user), {"conversation_id": ref.conversation.id})
                for tenant, user, ref in chats
            ],
        )

    async def remember_members(self, tenant: str, members: dict[str, dict[str, Any]]) -> None:
        await self._put_many(
            MEMBER, [(person_key(tenant, user), value) for user, value in members.items()]
        )

    async def reachable(self, tenant: str) -> set[str]:
        """The users of ``tenant`` the bot already has a 1:1 chat with."""
        prefix = f"{tenant}/"
        return {
            record.key[len(prefix) :]
            for record in await self.store.find(PERSONAL)
            if record.key.startswith(prefix)
        }

    async def reference(self, conversation_id: str) -> ConversationReference | None:
        value = await self._get(CONVERSATION, conversation_id)
        return ConversationReference().deserialize(value["reference"]) if value else None

    async def personal(self, tenant: str, user: str) -> ConversationReference | None:
        value = await self._get(PERSONAL, person_key(tenant, user))
        return await self.reference(value["conversation_id"]) if value else None

    async def member(self, tenant: str, user: str) -> dict[str, Any] | None:
        return await self._get(MEMBER, person_key(tenant, user))

    async def remember_home(
        self, tenant: str, user: str, conversation_id: str, activity_id: str, teams_id: str
    ) -> None:
        """The member's home card (the last one sent), so answers update it in place, also
        after a restart; ``teams_id`` is whose views refresh it."""
        await self._put(
            HOME,
            person_key(tenant, user),
            {"conversation_id": conversation_id, "activity_id": activity_id, "teams_id": teams_id},
        )

    async def home(self, tenant: str, user: str) -> dict[str, Any] | None:
        return await self._get(HOME, person_key(tenant, user))

    async def remember_team(self, team_id: str, value: dict[str, Any]) -> None:
        await self._put(TEAM, team_id, value)

    async def teams(self) -> list[tuple[str, dict[str, Any]]]:
        return [(record.key, record.value) for record in await self.store.find(TEAM)]

    async def remember_parts(self, conversation_id: str, activity_ids: list[str]) -> None:
        first = f"{conversation_id}|{activity_ids[0]}"
        await self._put_many(
            PART,
            [
                (f"{conversation_id}|{activity_id}", {"first": first, "part": number})
                for number, activity_id in enumerate(activity_ids[1:], start=1)
            ],
        )

    async def part(self, ref: str) -> tuple[str, int]:
        """The message a card belongs to (its first activity) and which part it is."""
        value = await self._get(PART, ref)
        return (value["first"], int(value["part"])) if value else (ref, 0)

    async def first_install(self, conversation_id: str, announcement: str) -> bool:
        """True for the first announcement of an installation; False for its echo (Teams sends
        both installationUpdate and conversationUpdate, ``announcement`` is which) within a few
        minutes. The same announcement again is a new installation (removed and added back).
        Kept under a keyed hash of the conversation: its exact time must not date someone's
        personal chat."""
        key = self.store.sealer.event_key("teams-installed", conversation_id)
        record = await self.store.get(INSTALLED, key)
        seen = list(record.value.get("by") or []) if record is not None else []
        echo = bool(seen) and announcement not in seen
        await self.store.put(
            INSTALLED,
            key,
            {"by": [*seen, announcement] if echo else [announcement]},
            expires_at=utcnow() + INSTALL_WINDOW,
        )
        return not echo


def stable_reference(reference: ConversationReference, kind: str) -> dict[str, Any]:
    """What a proactive message needs, without what changes with every activity: the activity
    id (a proactive message is not a reply to it) and, outside a personal chat, the person who
    happened to write last."""
    stored = reference.serialize()
    stored.pop("activityId", None)
    if kind != "personal":
        stored.pop("user", None)
    return stored
