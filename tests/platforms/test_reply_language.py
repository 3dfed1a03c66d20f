"""What an adapter adds while showing a reply is said in the language of the person it answers,
not the workspace's: the reply carries the language it was made in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.services.members import add_member
from bot.services.permissions import OPERATOR
from tests.slack_support import SlackStack, slack_stack


@pytest.fixture
async def slack(settings: Settings) -> AsyncIterator[SlackStack]:
    async with slack_stack(settings) as stack:
        yield stack


async def test_a_form_that_cannot_open_in_time_is_explained_in_the_persons_language(
    slack: SlackStack,
) -> None:
    async with slack.app.db.transaction() as session:
        member = await add_member(session, OPERATOR, "slack", "UDORA", name="Dora")
        member.locale, member.locale_chosen = "de", True
    slack.fake.delays["views.open"] = 3.5  # Slack's 3-second trigger has passed when it opens
    status, _ = await slack.command("/suggest", "", "UDORA")
    assert status == 200
    await slack.settle()
    assert slack.fake.opened_views == []
    [answer] = [c.args for c in slack.fake.calls_to("response_url") if c.args]
    said = json.dumps(answer, ensure_ascii=False)
    assert "konnte nicht rechtzeitig geöffnet werden; bitte versuchen Sie es erneut" in said
    assert "could not open in time" not in said
