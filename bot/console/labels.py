"""What the console calls a role, a status or a kind: the stored value stays English (it is
what the CLI and the database say), the page shows a word in the reader's language. In English
the word is the value itself, as the console always showed it."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, _

ROLES = {
    "employee": N_("employee"),
    "strategist": N_("strategist"),
    "manager": N_("manager"),
    "admin": N_("admin"),
}
# The state of an item in the content library.
CONTENT_STATUSES = {
    "draft": N_("draft"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "archived": N_("archived"),
}
# The state of one run of a digest.
RUN_STATUSES = {
    "enqueued": N_("enqueued"),
    "done": N_("done"),
    "skipped": N_("skipped"),
    "failed": N_("failed"),
}
# A digest's kind (what it sends).
DIGEST_KINDS = {
    "content": N_("content"),
    "voice": N_("voice"),
    "rollup": N_("rollup"),
}
# Where a KPI reading came from.
READING_SOURCES = {
    "cli": N_("cli"),
    "import": N_("import"),
    "webhook": N_("webhook"),
    "console": N_("console"),
    "demo": N_("demo"),
}


def _labeller(table: dict[str, str]) -> Any:
    def label(value: object) -> str:
        text = table.get(str(value))
        return _(text) if text else str(value)

    return label


FILTERS: dict[str, Any] = {
    "role": _labeller(ROLES),
    "content_status": _labeller(CONTENT_STATUSES),
    "run_status": _labeller(RUN_STATUSES),
    "digest_kind": _labeller(DIGEST_KINDS),
    "reading_source": _labeller(READING_SOURCES),
}
