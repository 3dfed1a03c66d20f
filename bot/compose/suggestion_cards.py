"""Cards about suggestions: the receipt, the voting card, the rollup and the author's notice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.compose import actions
from bot.compose.authorship import shown_author
from bot.compose.text import humanise_duration, percent, quoted, truncate
from bot.domain import OPEN_SUGGESTION_STATUSES, SuggestionStatus
from bot.i18n import N_, _, ngettext
from bot.i18n.formats import format_number, format_signed
from bot.messages import (
    CHECKED,
    Button,
    ButtonStyle,
    Card,
    Fact,
    FieldKind,
    Form,
    FormField,
    Link,
    Message,
    Option,
    subject_key,
)
from bot.services.rollups import Rollup, RollupRow
from bot.services.suggestion_evidence import EvidenceSummary
from bot.storage.models import Objective, Suggestion
from bot.storage.types import utcnow

# A status as a label ("Under review") and inside a sentence ("is now under review").
STATUS_LABELS = {
    SuggestionStatus.NEW: N_("New"),
    SuggestionStatus.UNDER_REVIEW: N_("Under review"),
    SuggestionStatus.PLANNED: N_("Planned"),
    SuggestionStatus.DONE: N_("Done"),
    SuggestionStatus.DECLINED: N_("Declined"),
}
STATUS_WORDS = {
    # Translators: a suggestion's status inside a sentence: "Your suggestion #12 is now new".
    SuggestionStatus.NEW: N_("new"),
    # Translators: "Your suggestion #12 is now under review".
    SuggestionStatus.UNDER_REVIEW: N_("under review"),
    # Translators: "Your suggestion #12 is now planned".
    SuggestionStatus.PLANNED: N_("planned"),
    # Translators: "Your suggestion #12 is now done".
    SuggestionStatus.DONE: N_("done"),
    # Translators: "Your suggestion #12 is now declined".
    SuggestionStatus.DECLINED: N_("declined"),
}


def status_label(status: str) -> str:
    """'Under review', in the language being spoken."""
    return _(STATUS_LABELS[SuggestionStatus(status)])


def status_word(status: str) -> str:
    """'under review', for inside a sentence, in the language being spoken."""
    return _(STATUS_WORDS[SuggestionStatus(status)])


def votes_text(count: int) -> str:
    return ngettext("{count} vote", "{count} votes", count).format(count=format_number(count))


def receipt(
    suggestion: Suggestion,
    *,
    author_team: str | None = None,
    evidence: EvidenceSummary | None = None,
) -> Message:
    """Thanks, and for an anonymous idea who will answer it (``author_team``: the author's own
    team, which an anonymous idea does not store); what customers said about it too."""
    if suggestion.anonymous:
        text = _(
            "Thanks! Your suggestion #{number} is filed anonymously. Colleagues can read it on the "
            "board and vote on it, and you will be told when a manager answers."
        ).format(number=suggestion.id)
        text += " " + who_sees_it(suggestion, author_team)
        text += " " + _("Nobody, managers included, can see that it came from you.")
    else:
        text = _(
            "Thanks! Your suggestion #{number} is filed. Colleagues can read it on the board and "
            "vote on it, and you will be told when a manager answers."
        ).format(number=suggestion.id)
    return Message(
        fallback=text,
        kind="suggestion_receipt",
        cards=(
            Card(
                title=_("Suggestion #{number} filed").format(number=suggestion.id),
                text=text,
                facts=_facts(suggestion, evidence),
                links=_source(suggestion),
                subject=subject_key("suggestion", suggestion.id),
            ),
        ),
    )


def who_sees_it(suggestion: Suggestion, author_team: str | None) -> str:
    """Who answers an anonymous idea, told truthfully. Everyone can read it on the board; its
    team is where it is counted and answered (bot/services/anonymous_scope.py), which is the
    author's own only in a large enough team."""
    shown = suggestion.team.name if suggestion.team is not None else None
    if author_team is None:
        return _("Every manager can answer it (you are in no team).")
    if shown == author_team:
        return _("The managers of {team} and those above them answer it.").format(team=shown)
    if shown is None:
        return _(
            "Every manager can answer it, under no team: your team, {own}, has fewer than 5 people "
            "besides its managers, and no level above it has enough either."
        ).format(own=author_team)
    return _(
        "The managers of {team} and those above them answer it, not your team's alone: your "
        "team, {own}, has fewer than 5 people besides its managers, so it is counted one level up."
    ).format(team=shown, own=author_team)


def evidence_facts(evidence: EvidenceSummary | None) -> tuple[Fact, ...]:
    """'14 customers said something similar (theme: billing)' and two of them, scrubbed."""
    if evidence is None or not evidence.count:
        return ()
    labels = (_("A customer said"), _("Another said"))
    return (
        Fact(_("Customer evidence"), evidence.headline),
        *(Fact(label, quoted(q)) for label, q in zip(labels, evidence.quotes, strict=False)),
    )


def _facts(suggestion: Suggestion, evidence: EvidenceSummary | None = None) -> tuple[Fact, ...]:
    shown = shown_author(suggestion)
    author = _("Anonymous") if shown.name is None else shown.name
    facts = [Fact(_("Status"), status_label(suggestion.status)), Fact(_("From"), author)]
    if shown.team is not None:
        facts.append(Fact(_("Team"), shown.team))
    if suggestion.objective is not None:
        facts.append(Fact(_("Objective"), suggestion.objective.title))
    facts.append(Fact(_("Votes"), format_number(suggestion.vote_count)))
    return (*facts, *evidence_facts(evidence))


def _source(suggestion: Suggestion) -> tuple[Link, ...]:
    if not suggestion.source_url:
        return ()
    return (Link(_("Original message"), suggestion.source_url),)


def voting_card(
    suggestion: Suggestion,
    *,
    voted: bool = False,
    title: str = "",
    answer: str | None = None,
    evidence: EvidenceSummary | None = None,
) -> Card:
    """An idea with its vote button while votes are open, its latest answer when given, and
    what customers said about it."""
    value = {"suggestion": suggestion.id}
    facts = _facts(suggestion, evidence)
    if answer:
        facts = (*facts, Fact(_("Answer"), truncate(answer, 300)))
    open_for_votes = suggestion.status in OPEN_SUGGESTION_STATUSES
    return Card(
        title=title or _("Suggestion #{number}").format(number=suggestion.id),
        text=truncate(suggestion.text, 1500),
        facts=facts,
        links=_source(suggestion),
        buttons=(
            Button(
                _("Voted") if voted else _("Vote"),
                actions.SUGGESTION_VOTE,
                value,
                ButtonStyle.PRIMARY,
                selected=voted,
            ),
        )
        if open_for_votes
        else (),
        subject=subject_key("suggestion", suggestion.id),
    )


def announcement(suggestion: Suggestion, evidence: EvidenceSummary | None = None) -> Message:
    """A new idea as posted in a suggestions channel: everyone sees the count, each votes once."""
    return Message(
        fallback=_("New idea #{number}: {text}").format(
            number=suggestion.id, text=truncate(suggestion.text, 200)
        ),
        kind="suggestion",
        subject=subject_key("suggestion", suggestion.id),
        cards=(
            voting_card(
                suggestion,
                title=_("New idea #{number}").format(number=suggestion.id),
                evidence=evidence,
            ),
        ),
    )


def suggest_form(
    objectives: Sequence[Objective],
    *,
    context: dict | None = None,
    text: str = "",
    anonymous: bool = False,
) -> Form:
    options = (
        Option(_("No particular objective"), ""),
        *(Option(truncate(o.title, 75), o.key) for o in objectives),
    )
    return Form(
        form_id=actions.FORM_SUGGEST,
        title=_("Suggest an idea"),
        submit_label=_("Send"),
        context=context or {},
        fields=(
            FormField(
                "text",
                _("Your idea"),
                FieldKind.MULTILINE,
                required=True,
                max_length=3000,
                placeholder=_("What should we change, and why?"),
                initial=text,
            ),
            FormField("objective", _("Objective it serves"), FieldKind.SELECT, options=options),
            FormField(
                "anonymous",
                _("Send anonymously"),
                FieldKind.CHECKBOX,
                initial=CHECKED if anonymous else "",
            ),
        ),
    )


def promise_fields(objectives: Sequence[Objective]) -> tuple[FormField, ...]:
    """The KPI check a planned or done decision may promise (bot/services/promises.py)."""
    if not objectives:
        return ()
    return (
        FormField(
            "objective",
            _("If planned or done: the objective whose KPI it should move"),
            FieldKind.SELECT,
            options=(
                Option(_("No KPI check"), ""),
                *(Option(truncate(o.title, 75), o.key) for o in objectives),
            ),
        ),
        FormField(
            "expect",
            _("Which way the KPI should go"),
            FieldKind.SELECT,
            options=(
                Option(_("The way that is better for it"), ""),
                Option(_("Higher"), "higher"),
                Option(_("Lower"), "lower"),
            ),
        ),
        FormField(
            "review",
            _("When to check: 30d or a date (empty: 30 days for done, 90 for planned)"),
            max_length=30,
            placeholder=_("30d or 2027-03-01"),
        ),
    )


def answer_form(
    suggestion: Suggestion, status: str | None = None, objectives: Sequence[Objective] = ()
) -> Form:
    """The answer form, its status set to ``status`` when the manager already typed one
    (``/answer 12 planned``), else to the idea's own; with ``objectives``, the KPI check a
    planned or done decision may promise."""
    return Form(
        form_id=actions.FORM_ANSWER,
        title=_("Answer suggestion #{number}").format(number=suggestion.id),
        submit_label=_("Answer"),
        context={"suggestion": suggestion.id},
        fields=(
            FormField(
                "status",
                _("New status"),
                FieldKind.SELECT,
                required=True,
                initial=status or suggestion.status,
                options=tuple(Option(status_label(s), s.value) for s in SuggestionStatus),
            ),
            FormField(
                "text",
                _("Your answer to the author"),
                FieldKind.MULTILINE,
                required=True,
                max_length=3000,
                placeholder=_("What happens next, and why?"),
            ),
            *promise_fields(objectives),
        ),
    )


def answer_button(suggestion_id: int) -> Button:
    return Button(
        _("Answer / set status"),
        actions.SUGGESTION_ANSWER,
        {"suggestion": suggestion_id},
        ButtonStyle.PRIMARY,
    )


# Whose ideas a rollup counts (bot/services/rollups.py says it in English).
SCOPES = {"all teams": N_("all teams"), "your teams": N_("your teams")}
# Rows that are no objective, team or status of their own (bot/services/rollups.py).
ROW_NAMES = {
    "(no objective)": N_("(no objective)"),
    "(no team)": N_("(no team)"),
    "(none)": N_("(none)"),
    "other (groups of fewer than 5 people)": N_("other (groups of fewer than 5 people)"),
}
# A rollup's breakdowns: the switch's buttons and each breakdown's title.
DIMENSIONS = {
    "objective": N_("By objective"),
    "team": N_("By team"),
    "status": N_("By status"),
}


def _row_labels(rollup: Rollup) -> dict[str, str]:
    """What each row is called for people: an objective by its title (with its key when two
    objectives share a title, so they stay apart), a status by its name ('Under review')."""
    titles = Counter(row.title for row in rollup.rows if row.title)
    statuses = {status.value for status in SuggestionStatus}
    labels = {}
    for row in rollup.rows:
        label = _(ROW_NAMES[row.key]) if row.key in ROW_NAMES else row.key
        if row.title:
            label = truncate(row.title, 80)
            if titles[row.title] > 1:
                label += f" ({row.key})"
        elif rollup.by == "status" and row.key in statuses:
            label = status_label(row.key)
        labels[row.key] = label
    return labels


def ideas_text(count: int) -> str:
    return ngettext("{count} idea", "{count} ideas", count).format(count=format_number(count))


def _row_line(row: RollupRow, label: str) -> str:
    parts = [
        ideas_text(row.total),
        _("{percent} answered").format(percent=percent(row.answered, row.total)),
        _("{count} waiting").format(count=format_number(row.waiting)),
    ]
    if row.oldest_wait is not None:
        parts.append(_("oldest {duration}").format(duration=humanise_duration(row.oldest_wait)))
    return _("{label}: {figures}").format(label=label, figures=", ".join(parts))


def _breakdown_text(rollup: Rollup) -> str:
    labels = _row_labels(rollup)
    return "\n".join(_row_line(row, labels[row.key]) for row in rollup.rows)


def rollup_message(
    rollup: Rollup,
    period_label: str,
    since: str = "30d",
    *,
    breakdowns: Sequence[Rollup] = (),
) -> Message:
    """The manager's rollup: headline figures, the breakdown, then the oldest waiting ideas.

    With ``breakdowns`` (the same period by objective, team and status), each is shown in full
    and there are no buttons to switch between them (for a Home view)."""
    total = rollup.total
    new_ideas = format_number(total.total)
    if rollup.previous_total is not None:
        new_ideas = _("{count} ({change} on the period before)").format(
            count=new_ideas, change=format_signed(total.total - rollup.previous_total, 0)
        )
    summary = Card(
        title=_("Suggestion rollup, {period} ({scope})").format(
            period=period_label, scope=_(SCOPES.get(rollup.scope, rollup.scope))
        ),
        facts=(
            Fact(_("New ideas"), new_ideas),
            Fact(
                _("Answered"),
                _("{count} ({percent})").format(
                    count=format_number(total.answered),
                    percent=percent(total.answered, total.total),
                ),
            ),
            Fact(_("Waiting for an answer"), format_number(total.waiting)),
            Fact(_("Median wait"), humanise_duration(total.median_wait)),
            Fact(_("Median time to answer"), humanise_duration(total.median_time_to_answer)),
        ),
        footer=_(
            "Groups of fewer than 5 people are counted together as 'other', so no one can "
            "be singled out."
        ),
    )
    switch = tuple(
        Button(
            _(DIMENSIONS[dimension]),
            actions.ROLLUP_SHOW,
            {"by": dimension, "since": since},
            selected=dimension == rollup.by,
        )
        for dimension in ("objective", "team", "status")
    )
    breakdown_cards = tuple(
        Card(
            title=_(DIMENSIONS.get(each.by, each.by)),
            text=_breakdown_text(each) or _("No suggestions in this period."),
            buttons=() if breakdowns else switch,
        )
        for each in (breakdowns or [rollup])
    )
    now = utcnow()
    waiting = tuple(
        Card(
            title=_("Waiting {duration}: suggestion #{number}").format(
                duration=humanise_duration(now - s.created_at), number=s.id
            ),
            text=truncate(s.text, 600),
            facts=_facts(s, rollup.evidence.get(s.id)),
            buttons=(answer_button(s.id),),
            subject=subject_key("suggestion", s.id),
        )
        for s in rollup.oldest_waiting
    )
    top = (
        (
            Card(
                title=_("Most voted"),
                text="\n".join(_idea_line(s, 160) for s in rollup.top_voted),
            ),
        )
        if rollup.top_voted
        else ()
    )
    weighed = (
        (
            Card(
                title=_("Most customer evidence, waiting"),
                text="\n".join(
                    _("#{number}: {evidence}: {text}").format(
                        number=s.id,
                        evidence=rollup.evidence[s.id].headline,
                        text=truncate(s.text, 120),
                    )
                    for s in rollup.most_evidence
                    if s.id in rollup.evidence
                ),
            ),
        )
        if rollup.most_evidence
        else ()
    )
    if rollup.previous_total is None:
        fallback = _("Suggestion rollup: {ideas}, {percent} answered, {waiting} waiting").format(
            ideas=ideas_text(total.total),
            percent=percent(total.answered, total.total),
            waiting=format_number(total.waiting),
        )
    else:
        fallback = _(
            "Suggestion rollup: {ideas} ({change} on the period before), {percent} answered, "
            "{waiting} waiting"
        ).format(
            ideas=ideas_text(total.total),
            change=format_signed(total.total - rollup.previous_total, 0),
            percent=percent(total.answered, total.total),
            waiting=format_number(total.waiting),
        )
    return Message(
        fallback=fallback,
        cards=(summary, *breakdown_cards, *top, *weighed, *waiting),
        kind="rollup",
    )


def similar_ideas_card(new: Suggestion, similar: Sequence[tuple[Suggestion, float]]) -> Card:
    """Offered right after filing: back an existing idea instead of splitting the votes."""
    lines = [_idea_line(s, 200) for s, _score in similar]
    if new.anonymous:
        why = _(
            "Backing one of them keeps the votes together: your idea joins it, without your "
            "name (vote for it yourself if you want to back it openly)."
        )
    else:
        why = _(
            "Backing one of them keeps the votes together; your idea joins it and your "
            "vote counts there."
        )
    return Card(
        title=_("Similar ideas are already on the board"),
        text="\n".join([why, *lines]),
        buttons=tuple(
            Button(
                _("Back #{number} instead").format(number=s.id),
                actions.SUGGESTION_FOLD,
                {"suggestion": new.id, "into": s.id},
            )
            for s, _score in similar
        ),
        subject=subject_key("suggestion", new.id),
    )


def _idea_line(suggestion: Suggestion, limit: int) -> str:
    """'#12 (3 votes, Planned): Faster refunds'."""
    return _("#{number} ({votes}, {status}): {text}").format(
        number=suggestion.id,
        votes=votes_text(suggestion.vote_count),
        status=status_label(suggestion.status),
        text=truncate(suggestion.text, limit),
    )
