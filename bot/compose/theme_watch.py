"""Theme watch in words, the same in the chat card, the CLI and the console."""

from __future__ import annotations

from bot.compose.text import plural, truncate
from bot.messages import Card
from bot.services.theme_watch import ThemeSide, ThemeWatch

TITLE = "Customer themes after ideas were done"


def _side(side: ThemeSide) -> str:
    mood = f", sentiment {side.sentiment:+.2f}" if side.sentiment is not None else ""
    return f"{plural(side.count, 'item')}{mood}"


def watch_line(watch: ThemeWatch) -> str:
    """'#12 “Speed up refunds”, done 20 Nov 2026: billing went from 34 items, sentiment -0.42,
    in the 16 days before to 12 items, sentiment -0.10, in the 16 days after.'"""
    head = (
        f"#{watch.suggestion_id} “{truncate(watch.idea, 80)}”, done "
        f"{watch.done_at.strftime('%d %b %Y')}"
    )
    if watch.too_early:
        return f"{head}: too early to compare {watch.theme} (less than a day since)."
    days = plural(max(1, round(watch.window.total_seconds() / 86_400)), "day")
    return (
        f"{head}: {watch.theme} went from {_side(watch.before)} in the {days} before to "
        f"{_side(watch.after)} in the {days} after."
    )


def theme_watch_card(watched: list[ThemeWatch]) -> Card | None:
    if not watched:
        return None
    return Card(
        title=TITLE,
        text="Did customers stop saying it? The theme customers shared with each idea, in equal "
        "windows before and after it was done.\n" + "\n".join(watch_line(w) for w in watched),
    )
