"""The bot commands the app declares to Teams (its manifest's command list): Teams offers them
in a menu and sends the chosen one as the message's text, so a message that starts with one is
a command."""

from __future__ import annotations

from bot.i18n import N_

# Teams shows at most 10 (whoami, help's last line, gave way to voice).
# The descriptions are marked for the teams catalogue: the package's language files translate
# them (adapters/teams/localization.py); the command words stay as typed.
COMMANDS = (
    ("help", N_("What I can do for you")),
    ("suggest", N_("Send an idea to leadership (add --anonymous to hide your name)")),
    ("suggestions", N_("Ideas from colleagues, to vote on")),
    ("voice", N_("Log what a customer told you")),
    ("rollup", N_("Managers: ideas from your teams, oldest waiting first")),
    ("digest list", N_("Strategists: scheduled digests")),
    ("digest add", N_("Strategists: schedule a digest")),
    ("digest run", N_("Strategists: send a digest now")),
    ("content add", N_("Strategists: curate an article")),
    ("objectives", N_("The objectives everything here serves")),
)

# The command's own word: "digest list" is the digest command with "list" as its text.
COMMAND_WORDS = frozenset(title.split()[0] for title, _ in COMMANDS)

# The message actions' command ids (the manifest's message extension; ``parse`` maps them to the
# core's actions). Here, not in ``parse``, so packaging the app does not import botbuilder.
VOICE_COMMAND = "logCustomerVoice"
SUGGEST_COMMAND = "turnIntoSuggestion"
