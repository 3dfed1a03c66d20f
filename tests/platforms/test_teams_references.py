"""The Teams adapter's conversation references read back from the real database: lookups made
side by side (a digest's sends) share their reads and each gets its own answer, a failed read
fails only the lookups that waited for it, and the references kept in memory are bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference

from adapters.teams import references
from adapters.teams.references import PERSONAL, ConversationStore
from bot.app import Application
from bot.services.adapter_store import AdapterStore

TENANT = "tenant-refs"


def chat(n: int) -> tuple[str, str, ConversationReference]:
    aad = f"aad-{n:03d}"
    return (
        TENANT,
        aad,
        ConversationReference(
            bot=ChannelAccount(id="28:bot", name="Advocacy"),
            user=ChannelAccount(id=f"29:{aad}", aad_object_id=aad),
            conversation=ConversationAccount(
                id=f"a:1on1-{aad}", conversation_type="personal", tenant_id=TENANT
            ),
            channel_id="msteams",
            service_url="https://smba.example.net/amer/",
        ),
    )


class CountingStore(AdapterStore):
    """The real store, counting its reads of many records by kind (and failing on request)."""

    def __init__(self, app: Application) -> None:
        super().__init__(app.db, app.sealer, "teams")
        self.reads: list[tuple[str, int]] = []
        self.fail_next = 0

    async def get_many(self, kind: str, keys: list[str]) -> Any:
        self.reads.append((kind, len(keys)))
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("the database went away for a moment")
        return await super().get_many(kind, keys)


async def test_lookups_made_side_by_side_share_reads_and_each_gets_its_own(
    app: Application,
) -> None:
    store = CountingStore(app)
    await ConversationStore(store).remember_personal_chats([chat(n) for n in range(30)])
    fresh = ConversationStore(store)  # after a restart: nothing in memory
    found = await asyncio.gather(
        *(fresh.personal(TENANT, f"aad-{n:03d}") for n in range(30)),
        fresh.personal(TENANT, "aad-stranger"),
    )
    assert [ref.conversation.id for ref in found[:30]] == [f"a:1on1-aad-{n:03d}" for n in range(30)]
    assert found[30] is None
    personal_reads = [size for kind, size in store.reads if kind == PERSONAL]
    assert sum(personal_reads) == 31 and len(personal_reads) <= 2
    assert len(store.reads) <= 4  # the chats, then their references: not 62 reads


async def test_a_failed_read_fails_the_lookups_that_waited_for_it_and_the_next_reads_again(
    app: Application,
) -> None:
    store = CountingStore(app)
    await ConversationStore(store).remember_personal_chats([chat(1), chat(2)])
    fresh = ConversationStore(store)
    store.fail_next = 1
    first = await asyncio.gather(
        fresh.personal(TENANT, "aad-001"), fresh.personal(TENANT, "aad-002"), return_exceptions=True
    )
    assert all(isinstance(outcome, ConnectionError) for outcome in first)
    again = await fresh.personal(TENANT, "aad-002")
    assert again is not None and again.conversation.id == "a:1on1-aad-002"


async def test_references_kept_in_memory_are_bounded_and_the_rest_read_again(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(references, "KNOWN", 4)
    store = CountingStore(app)
    conversations = ConversationStore(store)
    await conversations.remember_personal_chats([chat(n) for n in range(6)])
    assert len(conversations._known) == 4
    oldest = await conversations.personal(TENANT, "aad-000")  # forgotten: read from the database
    assert oldest is not None and oldest.conversation.id == "a:1on1-aad-000"
    assert store.reads and len(conversations._known) == 4
