"""The bot commands the app declares to Teams (its manifest's command list): Teams offers them
in a menu and sends the chosen one as the message's text, so a message that starts with one is
a command."""

from __future__ import annotations

# Teams shows at most 10 (whoami, help's last line, gave way to voice).
COMMANDS = (
    ("help", "What I can do for you"),
    ("suggest", "Send an idea to leadership (add --anonymous to hide your name)"),
    ("suggestions", "Ideas from colleagues, to vote on"),
    ("voice", "Log what a customer told you"),
    ("rollup", "Managers: ideas from your teams, oldest waiting first"),
    ("digest list", "Strategists: scheduled digests"),
    ("digest add", "Strategists: schedule a digest"),
    ("digest run", "Strategists: send a digest now"),
    ("content add", "Strategists: curate an article"),
    ("objectives", "The objectives everything here serves"),
)

# The command's own word: "digest list" is the digest command with "list" as its text.
COMMAND_WORDS = frozenset(title.split()[0] for title, _ in COMMANDS)
