"""Each person's direct-message space with the app, kept in our database (the adapter store,
sealed) so proactive digests and notices reach them after a restart. Written only when it
changes: a record rewritten on every message would date each one."""

from __future__ import annotations

from typing import Any

DIRECT = "direct_space"  # key: the person's user name -> their DM space (sealed)


class SpaceBook:
    def __init__(self, store: Any) -> None:
        self.store = store  # the adapter's AdapterStore (context.store)
        self._known: dict[str, str] = {}

    async def direct(self, user: str) -> str | None:
        if user in self._known:
            return self._known[user]
        record = await self.store.get(DIRECT, user)
        space = (record.secret or {}).get("space") if record is not None else None
        if space:
            self._known[user] = str(space)
        return self._known.get(user)

    async def remember(self, user: str, space: str) -> None:
        if await self.direct(user) == space:
            return
        await self.store.put(DIRECT, user, {}, secret={"space": space})
        self._known[user] = space

    async def forget(self, user: str) -> None:
        self._known.pop(user, None)
        await self.store.delete(DIRECT, user)
