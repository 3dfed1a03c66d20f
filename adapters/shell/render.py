"""Render core messages as terminal text, with numbered actions (pure, so it is golden-tested).

Text from employees and customers may hold escape sequences or control characters that would
rewrite the terminal; they are removed before anything is printed.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from dataclasses import dataclass, field

from bot.i18n import _
from bot.messages import CHECKED, Button, Card, FieldKind, Form, LinkButton, Message
from bot.platform.support import in_written_order

WIDTH = 78
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Holds a button's words together while its line is wrapped (textwrap breaks only at ASCII space).
NO_BREAK = "\u00a0"
# Marks that close a phrase in Japanese (and Chinese): a line never starts with one.
_CLOSING = set("、。，．・：；？！）」』】〕〉》ー々ぁぃぅぇぉっゃゅょァィゥェォッャュョ")


def _is_wide(char: str) -> bool:
    return len(char) == 1 and unicodedata.east_asian_width(char) in "WF"


def columns(text: str) -> int:
    """The terminal columns ``text`` takes: a wide (Japanese, Chinese, Korean) character, two."""
    return sum(2 if _is_wide(char) else 1 for char in text)


def _blank(text: str) -> bool:
    """Where a line may break: ASCII spaces only, as textwrap (a no-break space holds)."""
    return bool(text) and not text.strip(" \t")


def _pieces(paragraph: str) -> list[str]:
    """What a line may break between: Latin words, runs of spaces, and each wide character
    (with the closing marks that follow it)."""
    pieces: list[str] = []
    for char in paragraph:
        last = pieces[-1] if pieces else ""
        same_word = not (_blank(char) or _is_wide(char) or _blank(last) or _is_wide(last[-1:]))
        if last and (char in _CLOSING or same_word or (_blank(char) and _blank(last))):
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def _wrap_line(paragraph: str, width: int) -> list[str]:
    """``paragraph`` in lines of at most ``width`` columns. Text without wide characters is
    wrapped as textwrap does; text with them (where a line may break between any two characters,
    as in Japanese) by columns, keeping Latin words whole and closing marks on their line."""
    if not any(_is_wide(char) for char in paragraph):
        return textwrap.wrap(paragraph, width)
    lines: list[str] = []
    line = ""
    for piece in _pieces(paragraph):
        if _blank(piece):
            line += piece if line else ""  # kept as written: buttons are two spaces apart
            continue
        if line and columns(line + piece) > width:
            lines.append(line.rstrip())
            line = ""
        while columns(piece) > width:  # a word longer than a line is cut, as textwrap does
            cut = 1
            while columns(piece[: cut + 1]) <= width:
                cut += 1
            lines.append(piece[:cut])
            piece = piece[cut:]
        line += piece
    if line.strip():
        lines.append(line.rstrip())
    return lines


def clean(text: str) -> str:
    """Strip terminal escape sequences, control characters (keeps newlines and tabs) and
    direction overrides (U+202E would show "evil" as "live" in a terminal that reorders)."""
    return in_written_order(_CONTROL.sub("", _ANSI.sub("", text)))


@dataclass
class Numbered:
    """An action shown with a number the user can type to press it: a button, or a card's form."""

    button: Button | LinkButton | Form
    message_ref: str | None


@dataclass
class ActionNumbers:
    """Numbers keep counting across the session, so older cards stay pressable."""

    actions: dict[int, Numbered] = field(default_factory=dict)
    next_number: int = 1

    def add(self, button: Button | LinkButton | Form, message_ref: str | None) -> int:
        number = self.next_number
        self.actions[number] = Numbered(button, message_ref)
        self.next_number += 1
        return number


def _wrap(text: str, indent: str = "│ ") -> list[str]:
    lines: list[str] = []
    for paragraph in clean(text).split("\n"):
        wrapped = _wrap_line(paragraph, WIDTH - len(indent)) or [""]
        lines.extend(indent + line for line in wrapped)
    return lines


def _wrap_labels(labels: list[str], indent: str = "│ ") -> list[str]:
    """Buttons wrapped whole: a line never ends on "[5] Share" with "on X ↗" on the next."""
    glued = [clean(label).replace(" ", NO_BREAK) for label in labels]
    return [line.replace(NO_BREAK, " ") for line in _wrap("  ".join(glued), indent)]


def render_card(card: Card, numbers: ActionNumbers, message_ref: str | None) -> list[str]:
    # A long title goes on in the card rather than being cut: its end is often the news
    # ("...was checked against its KPI: it did not help").
    title, *rest = _wrap_line(clean(card.title), WIDTH - 5) or [""]
    lines = ["┌─ " + title + " " + "─" * max(0, WIDTH - columns(title) - 4)]
    if rest:
        lines += _wrap(" ".join(rest))
    if card.text:
        lines += _wrap(card.text)
    for fact in card.facts:
        lines += _wrap(f"{clean(fact.label)}: {clean(fact.value)}")
    if card.image_url:
        alt = clean(card.image_alt) or _("picture")
        # Translators: an image in a terminal, shown as its description and its address.
        lines += _wrap(_("[image: {alt}] {url}").format(alt=alt, url=clean(card.image_url)))
    for link in card.links:
        lines += _wrap(f"{clean(link.label)}: {clean(link.url)}")
    if card.buttons:
        labels = []
        for button in card.buttons:
            number = numbers.add(button, message_ref)
            if isinstance(button, LinkButton):
                labels.append(f"[{number}] {clean(button.label)} ↗")
            else:
                mark = "✓ " if button.selected else ""
                labels.append(f"[{number}] {mark}{clean(button.label)}")
        lines += _wrap_labels(labels)
    if card.form is not None:
        number = numbers.add(card.form, message_ref)
        # Translators: a numbered action that opens a form; {title} is the form's title.
        fill_in = _("Fill in: {title}").format(title=clean(card.form.title))
        lines += _wrap(f"[{number}] {fill_in}")
    if card.footer:
        lines += _wrap(card.footer)
    lines.append("└" + "─" * (WIDTH - 1))
    return lines


def render_message(
    message: Message, numbers: ActionNumbers, message_ref: str | None = None, heading: str = ""
) -> str:
    lines = [heading] if heading else []
    if not message.cards:
        lines += [clean(line) for line in message.fallback.split("\n")]
    for card in message.cards:
        lines += render_card(card, numbers, message_ref)
    return "\n".join(lines)


def render_form_intro(form: Form) -> str:
    return _(
        "── {title} ── (answer each field; an empty line keeps the default, "
        "/cancel abandons the form)"
    ).format(title=clean(form.title))


def checkbox_default(checked: bool) -> str:
    """How a yes/no question shows its default (the answers typed stay y and n)."""
    # Translators: the capital letter is the default answer; keep the letters y and n.
    return " " + (_("(Y/n)") if checked else _("(y/N)"))


def required_mark() -> str:
    return " " + _("(required)")


def render_form(form: Form) -> str:
    """The whole form as the session asks it: its title, then each field with its choices and
    its default (the session asks them one at a time; this is the form at a glance)."""
    lines = [render_form_intro(form)]
    for asked in form.fields:
        if asked.kind == FieldKind.CHECKBOX:
            default = checkbox_default(asked.initial == CHECKED)
        else:
            labels = {option.value: option.label for option in asked.options}
            initial = labels.get(asked.initial, asked.initial)
            default = f" [{clean(initial)}]" if initial else ""
        required = required_mark() if asked.required else ""
        lines.append(f"{clean(asked.label)}{default}{required}:")
        lines += [
            f"  {index}) {clean(option.label)}" for index, option in enumerate(asked.options, 1)
        ]
    return "\n".join(lines)
