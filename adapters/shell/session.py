"""An interactive (or piped) terminal chat with the bot, like Hubot's shell or errbot's text mode.

Typed lines become core events; numbers press the buttons of cards shown earlier; forms are
asked field by field. Reading from a pipe works the same, so sessions can be scripted.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, TextIO

from adapters.shell.adapter import PLATFORM
from adapters.shell.mailbox import Mailbox
from adapters.shell.render import (
    ActionNumbers,
    checkbox_default,
    clean,
    render_form_intro,
    render_message,
)
from adapters.shell.users import require_shell_user
from bot.events import (
    ActionInvoked,
    Actor,
    CommandInvoked,
    Event,
    FormSubmitted,
    MessageReceived,
    ReactionAdded,
    ReactionRemoved,
    Reply,
)
from bot.i18n import N_, _, ngettext, speaking
from bot.messages import CHECKED, Button, FieldKind, Form, FormField, LinkButton, Message
from bot.platform import error_message, show_reply
from bot.platform.cli import LocalCore, local_run
from bot.platform.reply import without_update
from bot.platform.support import DomainError, split_command

SHELL_HELP = N_(
    "In this shell: type a number to press that button; /react N EMOJI or /unreact N EMOJI "
    "on message N (a digest, an article or an idea the bot sent you); /switch USER to act as "
    "someone else (/switch USER --new to create them); /quit to leave. In a form, a line "
    "starting with / abandons the form and runs that command."
)
YES = ("y", "yes", "true", "1")
NO = ("n", "no", "false", "0")
POLL_SECONDS = 2.0
# The greeting's role as a word ("Sie sind Hans (Mitarbeiter, Support)"), not the stored value.
ROLE_NAMES = {
    "employee": N_("employee"),
    "strategist": N_("strategist"),
    "manager": N_("manager"),
    "admin": N_("admin"),
}


class ShellSession:
    def __init__(
        self,
        core: LocalCore,
        mailbox: Mailbox,
        user_id: str,
        *,
        display_name: str | None = None,
        locale: str | None = None,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
    ) -> None:
        self.local = local_run(core, PLATFORM)
        self.context = self.local.context
        self.mailbox = mailbox
        self.user_id = user_id
        self.display_name = display_name
        # The language asked for with --locale: told to the core as the platform's language
        # (Slack's user locale, Teams' activity locale), which /prefs language overrides.
        self.locale_hint = locale
        # The member's language as the core keeps it: what this session speaks itself.
        self.locale: str | None = locale
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = interactive
        self.numbers = ActionNumbers()
        self.message_refs: dict[int, str] = {}
        self.message_count = 0
        self._lock = asyncio.Lock()
        # Commands that failed (an error shown with '!'): a piped script exits 1 if any did.
        self.failed_commands = 0
        self._this_line_failed = False
        # A command typed inside a form: the form is abandoned and this runs next.
        self._typed_in_form: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(
            platform=PLATFORM,
            user_id=self.user_id,
            display_name=self.display_name,
            locale=self.locale_hint,
        )

    def speaking(self) -> contextlib.AbstractContextManager[str]:
        """The session's own words (prompts, errors, headings) in the member's language."""
        return speaking(self.locale)

    async def follow_language(self) -> None:
        """The member's language as it now is (``/prefs language`` may have changed it)."""
        self.locale = (await self.context.members.meet(self.actor)).locale

    def write(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def fail(self, text: str) -> None:
        """An error, shown with '!'; the command being run counts as failed."""
        self.write(f"! {text}")
        self._this_line_failed = True

    async def read_line(self, prompt: str) -> str | None:
        """One line of input, or None at the end of input."""
        if self.interactive:
            self.stdout.write(prompt)
            self.stdout.flush()
        line = await asyncio.get_running_loop().run_in_executor(None, self.stdin.readline)
        if line == "":
            return None
        line = line.rstrip("\n")
        if not self.interactive:
            self.write(prompt + line)  # a transcript of a piped session reads like a chat
        return line

    async def run(self) -> int:
        """Read and run lines until /quit or the end of input. The exit status: 0, or 1 when
        input was piped and a command in it failed (scripts must not pass on errors)."""
        await self.greet()
        poller = asyncio.create_task(self._poll()) if self.interactive else None
        try:
            while True:
                line = self._typed_in_form or await self.read_line(f"{self.user_id}> ")
                self._typed_in_form = None
                if line is None or line.strip().lower() in ("/quit", "/exit"):
                    break
                if line.strip():
                    self._this_line_failed = False
                    async with self._lock:
                        with self.speaking():
                            await self.handle_line(line.strip())
                        await self.follow_language()
                        with self.speaking():
                            await self.show_mail()
                    self.failed_commands += self._this_line_failed
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
        with self.speaking():
            if self.failed_commands and not self.interactive:
                count = self.failed_commands
                self.write(
                    ngettext(
                        "{count} command failed (marked with !).",
                        "{count} commands failed (marked with !).",
                        count,
                    ).format(count=count)
                )
                self.write(_("Bye."))
                return 1
            self.write(_("Bye."))
        return 0

    async def greet(self) -> None:
        member = await self.context.members.meet(self.actor)
        self.locale = member.locale
        with self.speaking():
            name = clean(member.display_name)
            if member.team:
                self.write(
                    _(
                        "You are {name} ({role}, {team}) on the advocacy shell. "
                        "Type /help for commands."
                    ).format(name=name, role=_role_name(member.role), team=member.team)
                )
            else:
                self.write(
                    _(
                        "You are {name} ({role}, no team) on the advocacy shell. "
                        "Type /help for commands."
                    ).format(name=name, role=_role_name(member.role))
                )
            await self.show_mail()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            async with self._lock:
                with self.speaking():
                    await self.show_mail()

    async def show_mail(self) -> None:
        """Deliver what is due to shell members, then show this user's new messages."""
        await self.local.deliver_due()
        for entry in self.mailbox.unread(self.user_id):
            self.message_count += 1
            self.message_refs[self.message_count] = entry.ref
            self.show_mail_message(Message.from_dict(entry.message), entry.ref)

    def show_mail_message(self, message: Message, ref: str) -> None:
        """One message the bot sent this user, numbered for /react."""
        heading = message_heading(self.message_count)
        self.write(render_message(message, self.numbers, ref, heading))

    async def handle_line(self, line: str) -> None:
        if line.isdigit():
            await self.press(int(line))
            return
        if not line.startswith("/"):
            await self.send(MessageReceived(self.actor, text=line))
            return
        name, rest = split_command(line)
        if name == "switch":
            await self.switch(rest)
        elif name in ("react", "unreact"):
            await self.react(rest, added=name == "react")
        else:
            await self.send(CommandInvoked(self.actor, command=name, text=rest))
            if name == "help":
                self.write(_(SHELL_HELP))

    async def switch(self, text: str) -> None:
        words = text.split()
        create = "--new" in words
        users = [word for word in words if word != "--new"]
        if len(users) != 1:
            self.fail(_("Write /switch USER_ID, for example /switch alice (--new to create them)."))
            return
        [user_id] = users
        if not create:
            try:
                await require_shell_user(
                    self.context.members, user_id, create_with=f"--new: /switch {user_id} --new"
                )
            except DomainError as error:
                self.fail(error.message)
                return
        self.user_id = user_id
        self.display_name = None
        await self.greet()

    async def react(self, rest: str, *, added: bool) -> None:
        number, _space, emoji = rest.strip().partition(" ")
        emoji = emoji.strip()
        ref = self.message_refs.get(int(number)) if number.isascii() and number.isdigit() else None
        if number.isascii() and number.isdigit() and ref is None:
            heading = message_heading("N")
            if self.message_count:
                self.fail(
                    _(
                        "There is no message {number} here: messages are numbered in their "
                        "'{heading}' heading (1 to {last})."
                    ).format(number=number, heading=heading, last=self.message_count)
                )
            else:
                self.fail(
                    _(
                        "There is no message {number} here: messages are numbered in their "
                        "'{heading}' heading (none yet)."
                    ).format(number=number, heading=heading)
                )
            return
        if ref is None or not emoji:
            self.fail(
                _(
                    "Write /react N EMOJI, where N is a message number shown above "
                    "(e.g. /react 1 👍)."
                )
            )
            return
        if len(emoji.split()) > 1:
            self.fail(_("One emoji at a time: /react N EMOJI, then again for the next one."))
            return
        event_class = ReactionAdded if added else ReactionRemoved
        reply = await self.context.router.handle(
            event_class(self.actor, emoji=emoji, message_ref=ref)
        )
        if reply.error:
            self.fail(reply.error)
        elif reply.duplicate:  # the core says why nothing changed
            for message in reply.messages or [Message.text(_("(nothing changed)"))]:
                self.write(render_message(message, self.numbers))
        elif added:
            self.write(_("Reaction recorded: {emoji}").format(emoji=clean(emoji)))
        else:
            self.write(_("Reaction removed: {emoji}").format(emoji=clean(emoji)))

    async def press(self, number: int) -> None:
        numbered = self.numbers.actions.get(number)
        if numbered is None:
            self.fail(
                _(
                    "There is no button {number} above; type the number shown in [ ] on a card."
                ).format(number=number)
            )
            return
        button = numbered.button
        if isinstance(button, Form):
            await self.submit_form(button)
            return
        if isinstance(button, LinkButton):
            self.write(_("Open in your browser: {url}").format(url=clean(button.url)))
            return
        assert isinstance(button, Button)
        await self.send(
            ActionInvoked(
                self.actor,
                action_id=button.action_id,
                value=dict(button.value),
                message_ref=numbered.message_ref,
            ),
            message_ref=numbered.message_ref,
        )

    async def send(self, event: Event, message_ref: str | None = None) -> None:
        reply = await self.context.router.handle(event)
        await self.show_reply(reply, message_ref)

    async def show_reply(self, reply: Reply, message_ref: str | None) -> None:
        """Shown the one way (``bot.platform.show_reply``); a form opened by the reply is asked
        once the rest is shown, since filling it in runs the next event."""
        if reply.duplicate and reply.update is not None:
            if not reply.messages:  # else they say what was already done (a review answered)
                self.write(_("Already counted; it counts once."))
            reply = without_update(reply)
        surface = _ShellSurface(self, message_ref, reply.error)
        await show_reply(reply, surface, platform=PLATFORM)
        if surface.form is not None:
            await self.submit_form(surface.form)

    def form_opened(self, form: Form) -> None:
        """A reply opened ``form``: it is asked field by field after the rest of the reply."""

    def show_update(self, message: Message, message_ref: str | None) -> None:
        heading = _("── card updated ──")
        self.write(render_message(message, self.numbers, message_ref, heading))

    def tell(self, message: Message, *, error: str | None = None) -> None:
        """A reply's message; its error is shown with '!' and marks the command failed."""
        if error is not None:
            self.fail(error)
        else:
            self.write(render_message(message, self.numbers))

    async def submit_form(self, form: Form) -> None:
        values = await self.fill_form(form)
        if values is not None:
            await self.send(
                FormSubmitted(
                    self.actor, form_id=form.form_id, values=values, context=dict(form.context)
                )
            )

    async def fill_form(self, form: Form) -> dict[str, Any] | None:
        """Ask each field in turn; a wrong answer is asked again on its own, with why. A line
        starting with / abandons the form, and that command runs next."""
        self.write(render_form_intro(form))
        values: dict[str, Any] = {}
        for field in form.fields:
            if field.kind == FieldKind.SELECT:
                for index, option in enumerate(field.options, start=1):
                    self.write(f"  {index}) {clean(option.label)}")
            default = f" [{clean(_initial_label(field))}]" if field.initial else ""
            if field.kind == FieldKind.CHECKBOX:
                default = checkbox_default(field.initial == CHECKED)
            while True:
                answer = await self.read_line(f"{clean(field.label)}{default}: ")
                if answer is None:
                    self.fail(_("Form abandoned: the input ended before it was filled in."))
                    return None
                answer = answer.strip()
                if answer == "/cancel":
                    self.write(_("Form abandoned."))
                    return None
                if answer.startswith("/") and not answer.startswith("//"):
                    self.write(
                        _(
                            "Form abandoned: {command} is a command, so it runs instead (to "
                            "answer with text that starts with /, type // for /)."
                        ).format(command=clean(answer.split()[0]))
                    )
                    self._typed_in_form = answer
                    return None
                value, problem = self._field_value(field, answer.removeprefix("/"))
                if problem is None:
                    problem = await self.context.forms.problem(
                        self.actor, form.form_id, field.name, value, values
                    )
                if problem is not None:
                    self.fail(
                        _("{problem} Answer “{label}” again, or /cancel.").format(
                            problem=problem, label=clean(field.label)
                        )
                    )
                    continue
                values[field.name] = value
                break
        return values

    @staticmethod
    def _field_value(field: FormField, answer: str) -> tuple[Any, str | None]:
        """The value an answer gives the field, or why it cannot (saying what would do)."""
        label = clean(field.label)
        if field.kind == FieldKind.CHECKBOX:
            if not answer:
                return field.initial == CHECKED, None
            if answer.lower() in YES + NO:
                return answer.lower() in YES, None
            return None, _("'{answer}' is not an answer to {label}: type y or n.").format(
                answer=clean(answer), label=label
            )
        value = answer or field.initial
        if field.kind == FieldKind.SELECT and value:
            chosen = _option(field, value)
            if chosen is None:
                first = field.options[0]
                return None, _(
                    "'{answer}' is not one of the choices for {label}: type its number, "
                    "1 to {last} (e.g. 1 for {first})."
                ).format(
                    answer=clean(value),
                    label=label,
                    last=len(field.options),
                    first=clean(first.label),
                )
            value = chosen
        if not value and field.required:
            if field.placeholder:
                return None, _("{label} is required (e.g. {example}).").format(
                    label=label, example=clean(field.placeholder)
                )
            return None, _("{label} is required.").format(label=label)
        if field.max_length and len(value) > field.max_length:
            return None, _("{label} can have at most {limit} characters; this has {count}.").format(
                label=label, limit=field.max_length, count=len(value)
            )
        return value, None


class _ShellSurface:
    """Where one reply is shown: this terminal. Nothing here can fail, so nothing raises."""

    def __init__(self, session: ShellSession, message_ref: str | None, error: str | None):
        self._session = session
        self._message_ref = message_ref
        self._error = error_message(error) if error else None
        self._error_text = error
        self.form: Form | None = None

    async def open_form(self, form: Form) -> bool:
        self.form = form
        self._session.form_opened(form)
        return True

    async def update_card(self, message: Message) -> None:
        self._session.show_update(message, self._message_ref)

    async def tell(self, message: Message) -> None:
        is_error = self._error is not None and message == self._error
        self._session.tell(message, error=self._error_text if is_error else None)

    async def refresh_home(self) -> None:
        """The shell has no home surface."""


def _role_name(role: str) -> str:
    found = ROLE_NAMES.get(str(role))
    return _(found) if found else str(role)


def message_heading(number: int | str) -> str:
    """The heading of a message the bot sent; its number is what /react takes."""
    return _("── message {number} from the bot ──").format(number=number)


def _initial_label(field: FormField) -> str:
    """A field's default as the person reads it: a choice by its label ('under review', not
    'under_review'), anything else as it is."""
    labels = {option.value: option.label for option in field.options}
    return labels.get(field.initial or "", field.initial or "")


def _option(field: FormField, answer: str) -> str | None:
    """The option an answer picks: by its number, its value or its label (any case)."""
    if answer.isdigit():
        index = int(answer) - 1
        return field.options[index].value if 0 <= index < len(field.options) else None
    for option in field.options:
        if answer.lower() in (option.value.lower(), option.label.lower()):
            return option.value
    return None
