"""Theme watch in words, the same in the chat card, the CLI and the console."""

from __future__ import annotations

from bot.compose.text import quoted, truncate
from bot.i18n import L_, _, ngettext
from bot.i18n.formats import format_date, format_number, format_signed
from bot.messages import Card
from bot.services.theme_watch import ThemeSide, ThemeWatch

TITLE = L_("Customer themes after ideas were done")


def _side(side: ThemeSide) -> str:
    items = ngettext("{count} item", "{count} items", side.count).format(
        count=format_number(side.count)
    )
    if side.sentiment is None:
        return items
    return _("{items}, sentiment {sentiment}").format(
        items=items, sentiment=format_signed(side.sentiment)
    )


def watch_line(watch: ThemeWatch) -> str:
    """'#12 “Speed up refunds”, done Nov 20, 2026: billing went from 34 items, sentiment -0.42,
    in the 16 days before to 12 items, sentiment -0.10, in the 16 days after.'"""
    head = _("#{number} {idea}, done {date}").format(
        number=watch.suggestion_id,
        idea=quoted(truncate(watch.idea, 80)),
        date=format_date(watch.done_at),
    )
    if watch.too_early:
        return _("{head}: too early to compare {theme} (less than a day since).").format(
            head=head, theme=watch.theme
        )
    count = max(1, round(watch.window.total_seconds() / 86_400))
    return ngettext(
        "{head}: {theme} went from {before} in the {count} day before to {after} in the {count} "
        "day after.",
        "{head}: {theme} went from {before} in the {count} days before to {after} in the {count} "
        "days after.",
        count,
    ).format(
        head=head,
        theme=watch.theme,
        before=_side(watch.before),
        after=_side(watch.after),
        count=format_number(count),
    )


def theme_watch_card(watched: list[ThemeWatch]) -> Card | None:
    if not watched:
        return None
    intro = _(
        "Did customers stop saying it? The theme customers shared with each idea, in equal "
        "windows before and after it was done."
    )
    return Card(title=str(TITLE), text="\n".join([intro, *(watch_line(w) for w in watched)]))
