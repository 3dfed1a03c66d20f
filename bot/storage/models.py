"""The relational model. Names follow the product's vocabulary (see DESIGN.md).

Enumerated values are stored as short strings (validated by the services) so that adding a value
never needs a database enum migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.storage.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Member(Base):
    """An employee. One person, possibly present on several platforms (see MemberIdentity)."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="employee")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    # What the member chose to receive; every adapter gets it through the outbox.
    muted_kinds: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    cadence: Mapped[str] = mapped_column(String(10), default="daily", server_default="daily")
    quiet_hours: Mapped[str | None] = mapped_column(String(11))  # "22:00-07:00", local time
    # The language the bot speaks to them (bot/i18n): the platform's hint until they choose one
    # in /prefs (``locale_chosen``); None = the workspace's default (ADVOCACY_LOCALE).
    locale: Mapped[str | None] = mapped_column(String(16))
    locale_chosen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Left the company (the day, like first contact): kept for the history of their ideas, votes
    # and feedback, but no longer counted, sent to or listed. ``left_by`` is who said so (admin,
    # hr, slack): a directory sync or HR import brings back only the people it marked itself.
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_by: Mapped[str | None] = mapped_column(String(20))

    team: Mapped[Team | None] = relationship(lazy="joined")
    identities: Mapped[list[MemberIdentity]] = relationship(
        back_populates="member", lazy="selectin", cascade="all, delete-orphan"
    )


class MemberIdentity(Base):
    """How a member is known on one platform: (platform, workspace or tenant, user id)."""

    __tablename__ = "member_identities"
    __table_args__ = (UniqueConstraint("platform", "workspace", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(100), default="")
    user_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member: Mapped[Member] = relationship(back_populates="identities")


class Objective(Base):
    """A business objective or a promise made to customers."""

    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kpi: Mapped[str | None] = mapped_column(String(200))
    # The target as people wrote it ("under 1 hour"); kept as written, beside its number.
    target: Mapped[str | None] = mapped_column(String(100))
    # The KPI measured: its unit ("minutes", "%"), which way is better ("higher" or "lower",
    # bot/domain.py KpiDirection) and the numeric target in that unit (see KpiReading).
    kpi_unit: Mapped[str | None] = mapped_column(String(30))
    kpi_direction: Mapped[str | None] = mapped_column(String(10))
    target_value: Mapped[float | None] = mapped_column(Float)
    # Higher comes first when content digests choose what to send.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContentItem(Base):
    __tablename__ = "content_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    share_text: Mapped[str] = mapped_column(Text, default="")
    # Suggested post per network ({"linkedin": ..., "x": ...}); share_text is the fallback.
    share_texts: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    image_url: Mapped[str | None] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="approved", index=True)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("content_feeds.id"), index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    objective: Mapped[Objective | None] = relationship(lazy="joined")


class VoiceItem(Base):
    """One piece of customer voice (a ticket, a review, a survey comment)."""

    __tablename__ = "voice_items"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)
    segment: Mapped[str | None] = mapped_column(String(100))
    customer: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(Text)
    # The language it is written in (ISO 639-1, content/voice/language.py); None: unknown.
    language: Mapped[str | None] = mapped_column(String(8))
    # -1 to 1; None: not scored (a language the analyser cannot read, and no rating).
    sentiment: Mapped[float | None] = mapped_column(Float)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the item was posted as an urgent alert (so it is posted once).
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Source "employee": the colleague who heard it and logged it from chat.
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class KpiReading(Base):
    """One measurement of an objective's KPI, on a day. A second reading for the same day is a
    correction and replaces the first (so a re-sent CSV or webhook changes nothing)."""

    __tablename__ = "kpi_readings"
    __table_args__ = (UniqueConstraint("objective_id", "measured_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(ForeignKey("objectives.id", ondelete="CASCADE"))
    # The day the value describes, as midnight UTC of that day.
    measured_on: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    value: Mapped[float] = mapped_column(Float)
    # Where it came from: cli, import, webhook, console, demo.
    source: Mapped[str] = mapped_column(String(20), default="cli")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DecisionReview(Base):
    """A decision as a promise: a manager set an idea to planned or done, said which objective's
    KPI it should move and which way, and when to look. On ``review_on`` the manager is asked
    whether it helped; the answer is told to the idea's author and voters.

    ``state``: waiting (review_on not reached), asked (card sent), answered (verdict given), or
    superseded (a later decision on the same idea replaced it)."""

    __tablename__ = "decision_reviews"
    __table_args__ = (Index("ix_decision_reviews_due", "state", "review_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[int | None] = mapped_column(ForeignKey("suggestion_responses.id"))
    objective_id: Mapped[int] = mapped_column(ForeignKey("objectives.id"), index=True)
    # "higher" or "lower": which way the decision should move the KPI.
    expected: Mapped[str] = mapped_column(String(10))
    decided_status: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    review_on: Mapped[datetime] = mapped_column(UTCDateTime())
    # The KPI's latest reading on or before the decision, and the one the review compared.
    baseline_value: Mapped[float | None] = mapped_column(Float)
    review_value: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20), default="waiting")
    # helped, did_not_help (revisit); "too early" moves review_on and asks again later.
    verdict: Mapped[str | None] = mapped_column(String(20))
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    postponed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Overdue reviews are flagged up the hierarchy like unanswered ideas.
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    suggestion: Mapped[Suggestion] = relationship(lazy="joined")
    objective: Mapped[Objective] = relationship(lazy="joined")


class IdeaEvidence(Base):
    """A piece of customer voice that says what an idea says: the idea's weight in customers'
    words. Found when the idea is filed (and refreshed as voice arrives)."""

    __tablename__ = "idea_evidence"
    __table_args__ = (UniqueConstraint("suggestion_id", "voice_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), index=True
    )
    voice_item_id: Mapped[int] = mapped_column(
        ForeignKey("voice_items.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    # The theme they share, when they share one.
    theme: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VoiceSpike(Base):
    """A theme whose volume in one period stood far above its own recent history; alerted once
    (unique per theme and period)."""

    __tablename__ = "voice_spikes"
    __table_args__ = (UniqueConstraint("theme", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    theme: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    # The usual level: mean and standard deviation of the count over the periods before.
    usual: Mapped[float] = mapped_column(Float)
    spread: Mapped[float] = mapped_column(Float)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContentFeed(Base):
    """An RSS or Atom feed polled into the draft queue."""

    __tablename__ = "content_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(String(300))
    modified: Mapped[str | None] = mapped_column(String(100))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VoiceImport(Base):
    """One import of customer voice (a file or a webhook batch), with its rejected rows."""

    __tablename__ = "voice_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(500), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # The first rejected rows, as {"line": n, "reason": "..."}.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Digest(Base):
    """A schedule: what to send (kind), to whom (audience) and when (cron in a time zone)."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(200), default="all")
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Fire at the cron's time on each recipient's own clock rather than in ``timezone``.
    local_time: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    objective: Mapped[Objective | None] = relationship(lazy="joined")


class DigestRun(Base):
    """One firing of a digest. A scheduled firing is unique per (digest, scheduled time)."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("digest_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="enqueued")
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    # The content items this run sent, so later runs send what the audience has not seen.
    content_ids: Mapped[list[int]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    digest: Mapped[Digest] = relationship(lazy="joined")


class OutboundMessage(Base):
    """A platform-neutral message rendered once and shared by all its deliveries."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("digest_runs.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(Base):
    """One message to one conversation: the durable outbox row that workers drain."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_queue", "status", "platform", "next_attempt_at"),
        Index("ix_deliveries_platform_ref", "platform", "platform_ref"),
        # Whether a run still has deliveries waiting, in one probe (and every lookup by run).
        Index("ix_deliveries_run_status", "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("digest_runs.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(100), default="")
    # Empty when the recipient is sealed (an anonymous author being told about their idea).
    recipient: Mapped[str] = mapped_column(String(255), default="")
    # A shared channel rather than one person's DM: cards there show everyone's answers.
    channel: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    sealed_recipient: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The worker holding the lease; it renews the lease while alive, so a dead one's expire.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_ref: Mapped[str | None] = mapped_column(String(255))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    message: Mapped[OutboundMessage] = relationship(lazy="joined")


class ContentReceipt(Base):
    """One content item in one delivery: what each person (or shared channel) was sent, so a
    content digest never sends anyone the same item twice. It is written with its delivery, in
    the same transaction, and counts while that delivery is on its way or sent: a dead-lettered
    delivery's items were never received."""

    __tablename__ = "content_receipts"
    __table_args__ = (
        UniqueConstraint("delivery_id", "content_item_id"),
        Index("ix_content_receipts_target", "target", "content_item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    content_item_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    # Who had it: "member:ID", or "channel:PLATFORM:WORKSPACE:CHANNEL_ID" for a shared channel.
    target: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Feedback(Base):
    """A member's answer to something the bot delivered; one per member, subject, kind, detail."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("member_id", "subject_type", "subject_id", "kind", "detail"),
        Index("ix_feedback_subject", "subject_type", "subject_id"),
        # The objectives report: one subject type's feedback within a period.
        Index("ix_feedback_recent", "subject_type", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    # The emoji for reactions, the network for shares, a digest of the text for comments.
    detail: Mapped[str] = mapped_column(String(100), default="")
    comment: Mapped[str | None] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    platform: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Suggestion(Base):
    """An idea sent upward. Anonymous ones keep only a sealed author reference."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    sealed_author: Mapped[str | None] = mapped_column(Text)
    # Anonymous ideas only: a keyed stand-in for the author, to count distinct people in reports,
    # sealed with a random nonce (two ideas of one person store different bytes).
    contributor_tag: Mapped[str | None] = mapped_column(Text)
    # An anonymous idea's team is where it is shown, not necessarily its author's
    # (bot/services/anonymous_scope.py), and its times are kept to the hour.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    platform: Mapped[str] = mapped_column(String(20))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"))
    # Where the idea came from (a chat message turned into a suggestion), if anywhere.
    source_url: Mapped[str | None] = mapped_column(Text)
    # Indexed for the rollups' most voted ideas.
    vote_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Moderation: a hidden idea is out of every list, vote and rollup; its author is told why.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    # How far up the hierarchy an unanswered idea has been flagged (0: not yet).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Customer evidence (IdeaEvidence): how many voice items say the same, and their main theme;
    # kept here so waiting ideas can be sorted by it.
    evidence_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)
    evidence_theme: Mapped[str | None] = mapped_column(String(100))

    author: Mapped[Member | None] = relationship(lazy="joined", foreign_keys=[author_id])
    team: Mapped[Team | None] = relationship(lazy="joined")
    objective: Mapped[Objective | None] = relationship(lazy="joined")


class ShareClick(Base):
    """One person's click through a tracked share link: which item, on which network, from whose
    message (none when the link was posted in a channel).

    ``visitor`` says who clicked, so that a link fetched again counts once: ``member:ID`` when the
    link was in a person's own message, else a keyed hash of the channel message and the client,
    per day (bot/services/feedback.py, record_share_click)."""

    __tablename__ = "share_clicks"
    __table_args__ = (UniqueConstraint("content_id", "network", "visitor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    network: Mapped[str] = mapped_column(String(30))
    platform: Mapped[str] = mapped_column(String(20))
    visitor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class SuggestionVote(Base):
    __tablename__ = "suggestion_votes"
    __table_args__ = (UniqueConstraint("suggestion_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuggestionResponse(Base):
    """A manager's answer, with the status change it made (if any)."""

    __tablename__ = "suggestion_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), index=True
    )
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    status_before: Mapped[str] = mapped_column(String(20))
    status_after: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    responder: Mapped[Member | None] = relationship(lazy="joined")


class InboxEvent(Base):
    """An inbound event written before the platform is told it arrived (see bot/inbox/).

    ``event_key`` is a keyed hash of the platform's event id: a retried delivery finds it and
    counts once, and nobody reading the database can turn it back into a conversation or a
    person. ``payload`` is sealed with the server's key while the event waits and is cleared in
    the transaction that handles it; handled rows are purged after the platforms' retry window.

    Beside a SQLite file the inbox's rows live in a file of their own (``bot/inbox/store.py``),
    and this table of the main database holds only done markers: the keyed ids of handled
    events, written in the handler's transaction, and those of events handled in their request.
    """

    __tablename__ = "inbox_events"
    __table_args__ = (
        Index("ix_inbox_events_queue", "status", "next_attempt_at"),
        Index("ix_inbox_events_handled_at", "handled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(20))
    # Which handler takes it (an adapter's, or a plugin's such as the voice webhook).
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AdapterRecord(Base):
    """State an adapter keeps in our database (OAuth installations, conversation references),
    so the core needs no table per platform. ``secret`` holds sealed values such as tokens."""

    __tablename__ = "adapter_records"
    __table_args__ = (UniqueConstraint("platform", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PacingSlot(Base):
    """One shared rate limit (a Slack workspace, a Teams tenant): the theoretical time of its next
    free send slot, in seconds since the epoch by the database's clock. Instances sharing a
    PostgreSQL database take blocks of slots from it (bot/shared_pacing.py), so together they keep
    the platform's cap; a single SQLite instance paces in memory and never writes here."""

    __tablename__ = "pacing_slots"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float(precision=53))


class ConsoleLink(Base):
    """A one-time sign-in link for the web console: stored as a hash, valid minutes, used once."""

    __tablename__ = "console_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsoleSession(Base):
    """A signed-in console session; the cookie holds a secret whose hash is kept here."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The one-line result of the session's last form, shown once on the page it returns to: the
    # server says what happened, never the address (a ?notice= could be written by anyone).
    notice: Mapped[str | None] = mapped_column(Text)
    notice_refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())


# Report counters (bot/services/report_counters.py): kept by the write paths in the same
# transaction as the rows they count, so the objectives report reads counts, not every row.


class ReportRunCount(Base):
    """Sent deliveries of one digest run, counted as each is recorded sent."""

    __tablename__ = "report_run_counts"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("digest_runs.id", ondelete="CASCADE"), primary_key=True
    )
    sent: Mapped[int] = mapped_column(Integer, default=0)


class ReportObjectivePerson(Base):
    """The last time one member was reached by an objective's content (``mark`` "reached": the
    start of the latest digest run that sent it to them) or said it was useful or not relevant.
    A report over the period up to now counts the people whose mark is in it: distinct people
    without reading every delivery or answer. Content feedback is named, never anonymous."""

    __tablename__ = "report_objective_people"
    __table_args__ = (
        Index("ix_report_objective_people_recent", "objective_id", "mark", "last_at"),
    )

    objective_id: Mapped[int] = mapped_column(
        ForeignKey("objectives.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    mark: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportObjectiveDay(Base):
    """Per objective and UTC day, how many of a kind of event its content had ("shared"
    answers, "clicks" through tracked share links)."""

    __tablename__ = "report_objective_days"

    objective_id: Mapped[int] = mapped_column(
        ForeignKey("objectives.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
