"""voice language: the language each customer-voice item is written in

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 23:30:00

Existing items are detected here, in batches, rather than left unknown: a strategist upgrading
wants last month's French and German voice named as such, and out of the sentiment averages now,
not only what arrives from today. Where an item is in a language VADER cannot read and the
customer gave no rating, its stored score was VADER reading foreign words (mostly a false 0.0): it
becomes NULL, "not scored". Items with a rating keep their score, which the rating led.

The detection is written out here as it stood at 0015 (py3langid, the same languages and
thresholds as content/voice/language.py then), so this migration does the same thing whatever
becomes of that module. About 30,000 items a second; downgrading drops the column (scores made
NULL stay NULL).
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2_000
LANGUAGES = (
    "en", "de", "fr", "es", "pt", "ja",
    "it", "nl", "sv", "da", "no", "fi", "pl", "cs", "ru", "uk", "tr", "zh", "ko", "ar", "he",
)  # fmt: skip
SCORED = {"en"}
_WORDS = re.compile(r"[^\W\d_]{2,}")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def _detector():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))

    def detect(text: str | None) -> str | None:
        sample = (text or "").strip()[:2000]
        if len(_WORDS.findall(sample)) < 3 and len(_CJK.findall(sample)) < 4:
            return None
        language, confidence = identifier.classify(sample)
        return language if confidence >= 0.6 else None

    return detect


def upgrade() -> None:
    op.add_column("voice_items", sa.Column("language", sa.String(length=8), nullable=True))
    bind = op.get_bind()
    items = sa.table(
        "voice_items",
        sa.column("id", sa.Integer),
        sa.column("text", sa.Text),
        sa.column("rating", sa.Float),
        sa.column("language", sa.String),
        sa.column("sentiment", sa.Float),
    )
    if not bind.execute(sa.select(sa.func.count()).select_from(items)).scalar():
        return  # a new install: no model to load
    detect = _detector()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(items.c.id, items.c.text, items.c.rating)
            .where(items.c.id > last)
            .order_by(items.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        named, unscored = [], []
        for row in rows:
            language = detect(row.text)
            if language is None:
                continue
            if language not in SCORED and row.rating is None:
                unscored.append({"item": row.id, "language": language})
            else:
                named.append({"item": row.id, "language": language})
        if named:
            bind.execute(
                items.update()
                .where(items.c.id == sa.bindparam("item"))
                .values(language=sa.bindparam("language")),
                named,
            )
        if unscored:
            bind.execute(
                items.update()
                .where(items.c.id == sa.bindparam("item"))
                .values(language=sa.bindparam("language"), sentiment=None),
                unscored,
            )


def downgrade() -> None:
    with op.batch_alter_table("voice_items") as batch:
        batch.drop_column("language")
