"""Checking a form's answers one field at a time, for platforms that ask field by field (the
shell) or can show a mistake inside the form before it closes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.chat.form_checks import check_form_answer
from bot.events import Actor
from bot.storage.database import Database


class FormAnswers:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def problem(
        self, actor: Actor, form_id: str, name: str, value: Any, earlier: Mapping[str, Any]
    ) -> str | None:
        """What is wrong with one answer, saying what a right one looks like; None when fine."""
        return await check_form_answer(self._db, actor, form_id, name, value, earlier)
