"""Cards about suggestions: the receipt, the voting card, the rollup and the author's notice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.compose import actions
from bot.compose.authorship import shown_author
from bot.compose.text import humanise_duration, percent, plural, truncate
from bot.domain import OPEN_SUGGESTION_STATUSES, SuggestionStatus
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
from bot.services.idea_evidence import EvidenceSummary
from bot.services.rollups import Rollup, RollupRow
from bot.storage.models import Objective, Suggestion
from bot.storage.types import utcnow


def status_label(status: str) -> str:
    return SuggestionStatus(status).label.capitalize()


def receipt(
    suggestion: Suggestion,
    *,
    author_team: str | None = None,
    evidence: EvidenceSummary | None = None,
) -> Message:
    """Thanks, and for an anonymous idea who will answer it (``author_team``: the author's own
    team, which an anonymous idea does not store); what customers said about it too."""
    how = " anonymously" if suggestion.anonymous else ""
    text = (
        f"Thanks! Your suggestion #{suggestion.id} is filed{how}. Colleagues can read it on the "
        "board and vote on it, and you will be told when a manager answers."
    )
    if suggestion.anonymous:
        text += (
            f" {who_sees_it(suggestion, author_team)} Nobody, managers included, can see that it "
            "came from you."
        )
    return Message(
        fallback=text,
        kind="suggestion_receipt",
        cards=(
            Card(
                title=f"Suggestion #{suggestion.id} filed",
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
        return "Every manager can answer it (you are in no team)."
    if shown == author_team:
        return f"The managers of {shown} and those above them answer it."
    small = f"your team, {author_team}, has fewer than 5 people besides its managers"
    if shown is None:
        return (
            f"Every manager can answer it, under no team: {small}, and no level above it has "
            "enough either."
        )
    return (
        f"The managers of {shown} and those above them answer it, not your team's alone: "
        f"{small}, so it is counted one level up."
    )


def evidence_facts(evidence: EvidenceSummary | None) -> tuple[Fact, ...]:
    """'14 customers said something similar (theme: billing)' and two of them, scrubbed."""
    if evidence is None or not evidence.count:
        return ()
    labels = ("A customer said", "Another said")
    return (
        Fact("Customer evidence", evidence.headline),
        *(Fact(label, f"“{q}”") for label, q in zip(labels, evidence.quotes, strict=False)),
    )


def _facts(suggestion: Suggestion, evidence: EvidenceSummary | None = None) -> tuple[Fact, ...]:
    shown = shown_author(suggestion)
    facts = [Fact("Status", status_label(suggestion.status)), Fact("From", shown.label)]
    if shown.team is not None:
        facts.append(Fact("Team", shown.team))
    if suggestion.objective is not None:
        facts.append(Fact("Objective", suggestion.objective.title))
    facts.append(Fact("Votes", str(suggestion.vote_count)))
    return (*facts, *evidence_facts(evidence))


def _source(suggestion: Suggestion) -> tuple[Link, ...]:
    return (Link("Original message", suggestion.source_url),) if suggestion.source_url else ()


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
        facts = (*facts, Fact("Answer", truncate(answer, 300)))
    open_for_votes = suggestion.status in OPEN_SUGGESTION_STATUSES
    return Card(
        title=title or f"Suggestion #{suggestion.id}",
        text=truncate(suggestion.text, 1500),
        facts=facts,
        links=_source(suggestion),
        buttons=(
            Button(
                "Voted" if voted else "Vote",
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
        fallback=f"New idea #{suggestion.id}: {truncate(suggestion.text, 200)}",
        kind="suggestion",
        subject=subject_key("suggestion", suggestion.id),
        cards=(voting_card(suggestion, title=f"New idea #{suggestion.id}", evidence=evidence),),
    )


def suggest_form(
    objectives: Sequence[Objective],
    *,
    context: dict | None = None,
    text: str = "",
    anonymous: bool = False,
) -> Form:
    options = (
        Option("No particular objective", ""),
        *(Option(truncate(o.title, 75), o.key) for o in objectives),
    )
    return Form(
        form_id=actions.FORM_SUGGEST,
        title="Suggest an idea",
        submit_label="Send",
        context=context or {},
        fields=(
            FormField(
                "text",
                "Your idea",
                FieldKind.MULTILINE,
                required=True,
                max_length=3000,
                placeholder="What should we change, and why?",
                initial=text,
            ),
            FormField("objective", "Objective it serves", FieldKind.SELECT, options=options),
            FormField(
                "anonymous",
                "Send anonymously",
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
            "If planned or done: the objective whose KPI it should move",
            FieldKind.SELECT,
            options=(
                Option("No KPI check", ""),
                *(Option(truncate(o.title, 75), o.key) for o in objectives),
            ),
        ),
        FormField(
            "expect",
            "Which way the KPI should go",
            FieldKind.SELECT,
            options=(
                Option("The way that is better for it", ""),
                Option("Higher", "higher"),
                Option("Lower", "lower"),
            ),
        ),
        FormField(
            "review",
            "When to check: 30d or a date (empty: 30 days for done, 90 for planned)",
            max_length=30,
            placeholder="30d or 2027-03-01",
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
        title=f"Answer suggestion #{suggestion.id}",
        submit_label="Answer",
        context={"suggestion": suggestion.id},
        fields=(
            FormField(
                "status",
                "New status",
                FieldKind.SELECT,
                required=True,
                initial=status or suggestion.status,
                options=tuple(Option(status_label(s), s.value) for s in SuggestionStatus),
            ),
            FormField(
                "text",
                "Your answer to the author",
                FieldKind.MULTILINE,
                required=True,
                max_length=3000,
                placeholder="What happens next, and why?",
            ),
            *promise_fields(objectives),
        ),
    )


def answer_button(suggestion_id: int) -> Button:
    return Button(
        "Answer / set status",
        actions.SUGGESTION_ANSWER,
        {"suggestion": suggestion_id},
        ButtonStyle.PRIMARY,
    )


def _row_labels(rollup: Rollup) -> dict[str, str]:
    """What each row is called for people: an objective by its title (with its key when two
    objectives share a title, so they stay apart), a status by its name ('Under review')."""
    titles = Counter(row.title for row in rollup.rows if row.title)
    statuses = {status.value for status in SuggestionStatus}
    labels = {}
    for row in rollup.rows:
        label = row.key
        if row.title:
            label = truncate(row.title, 80)
            if titles[row.title] > 1:
                label += f" ({row.key})"
        elif rollup.by == "status" and row.key in statuses:
            label = status_label(row.key)
        labels[row.key] = label
    return labels


def _row_line(row: RollupRow, label: str) -> str:
    parts = [
        plural(row.total, "idea"),
        f"{percent(row.answered, row.total)} answered",
        f"{row.waiting} waiting",
    ]
    if row.oldest_wait is not None:
        parts.append(f"oldest {humanise_duration(row.oldest_wait)}")
    return f"{label}: " + ", ".join(parts)


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
    change = ""
    if rollup.previous_total is not None:
        change = f" ({total.total - rollup.previous_total:+d} on the period before)"
    summary = Card(
        title=f"Suggestion rollup, {period_label} ({rollup.scope})",
        facts=(
            Fact("New ideas", f"{total.total}{change}"),
            Fact("Answered", f"{total.answered} ({percent(total.answered, total.total)})"),
            Fact("Waiting for an answer", str(total.waiting)),
            Fact("Median wait", humanise_duration(total.median_wait)),
            Fact("Median time to answer", humanise_duration(total.median_time_to_answer)),
        ),
        footer="Groups of fewer than 5 people are counted together as 'other', so no one can "
        "be singled out.",
    )
    switch = tuple(
        Button(
            f"By {dimension}",
            actions.ROLLUP_SHOW,
            {"by": dimension, "since": since},
            selected=dimension == rollup.by,
        )
        for dimension in ("objective", "team", "status")
    )
    breakdown_cards = tuple(
        Card(
            title=f"By {each.by}",
            text=_breakdown_text(each) or "No suggestions in this period.",
            buttons=() if breakdowns else switch,
        )
        for each in (breakdowns or [rollup])
    )
    now = utcnow()
    waiting = tuple(
        Card(
            title=f"Waiting {humanise_duration(now - s.created_at)}: suggestion #{s.id}",
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
                title="Most voted",
                text="\n".join(
                    f"#{s.id} ({plural(s.vote_count, 'vote')}, {status_label(s.status)}): "
                    + truncate(s.text, 160)
                    for s in rollup.top_voted
                ),
            ),
        )
        if rollup.top_voted
        else ()
    )
    weighed = (
        (
            Card(
                title="Most customer evidence, waiting",
                text="\n".join(
                    f"#{s.id}: {rollup.evidence[s.id].headline}: " + truncate(s.text, 120)
                    for s in rollup.most_evidence
                    if s.id in rollup.evidence
                ),
            ),
        )
        if rollup.most_evidence
        else ()
    )
    fallback = (
        f"Suggestion rollup: {plural(total.total, 'idea')}{change}, "
        f"{percent(total.answered, total.total)} answered, {total.waiting} waiting"
    )
    return Message(
        fallback=fallback,
        cards=(summary, *breakdown_cards, *top, *weighed, *waiting),
        kind="rollup",
    )


def similar_ideas_card(new: Suggestion, similar: Sequence[tuple[Suggestion, float]]) -> Card:
    """Offered right after filing: back an existing idea instead of splitting the votes."""
    lines = [
        f"#{s.id} ({plural(s.vote_count, 'vote')}, {status_label(s.status)}): "
        + truncate(s.text, 200)
        for s, _ in similar
    ]
    return Card(
        title="Similar ideas are already on the board",
        text=(
            "Backing one of them keeps the votes together: your idea joins it, without your "
            "name (vote for it yourself if you want to back it openly).\n"
            if new.anonymous
            else "Backing one of them keeps the votes together; your idea joins it and your "
            "vote counts there.\n"
        )
        + "\n".join(lines),
        buttons=tuple(
            Button(
                f"Back #{s.id} instead",
                actions.SUGGESTION_FOLD,
                {"suggestion": new.id, "into": s.id},
            )
            for s, _ in similar
        ),
        subject=subject_key("suggestion", new.id),
    )
