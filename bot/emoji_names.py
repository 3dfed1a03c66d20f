"""One name for each reaction, whichever way a platform or a person wrote it.

Slack reports reactions by short name (``tada``, ``+1``), Teams by its six reaction types
(``like``, ``heart``, ``laugh``, ``surprised``, ``sad``, ``angry``), and people in the shell type
the character itself (🎉) or a name with or without colons. Counting them as different reactions
would split one feeling across several rows of every report, so each is stored by one name.
"""

from __future__ import annotations

# Canonical name -> the other ways it arrives (characters, Slack aliases, Teams types).
ALIASES: dict[str, tuple[str, ...]] = {
    "+1": ("👍", "thumbsup", "thumbs_up", "like"),
    "-1": ("👎", "thumbsdown", "thumbs_down"),
    "heart": ("❤️", "❤", "red_heart", "love"),
    "joy": ("😂", "laugh", "laughing", "😆", "satisfied"),
    "open_mouth": ("😮", "surprised", "wow"),
    "cry": ("😢", "sad", "disappointed_relieved"),
    "angry": ("😠", "rage", "😡"),
    "tada": ("🎉", "party", "party_popper"),
    "eyes": ("👀",),
    "fire": ("🔥",),
    "rocket": ("🚀",),
    "pray": ("🙏", "thanks"),
    "clap": ("👏",),
    "white_check_mark": ("✅", "check", "heavy_check_mark", "✔️"),
    "thinking_face": ("🤔", "thinking"),
    "100": ("💯",),
}
CANONICAL = {alias: name for name, aliases in ALIASES.items() for alias in (name, *aliases)}
# Skin tones (Slack's "::skin-tone-3" suffix, or the modifier characters) do not change the
# feeling: 👍🏽 is 👍.
SKIN_TONES = ("\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff")


def reaction_name(written: str) -> str:
    """The one stored name for a reaction as written (``:tada:``, 🎉 and ``party`` are ``tada``);
    a name this table does not know is kept as written, lower-cased, without colons."""
    value = written.strip().strip(":").lower()
    value = value.split("::skin-tone-")[0]
    for tone in SKIN_TONES:
        value = value.replace(tone, "")
    return CANONICAL.get(value, CANONICAL.get(value.replace("\ufe0f", ""), value))
