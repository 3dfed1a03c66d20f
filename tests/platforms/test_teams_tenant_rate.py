"""TEAMS_TENANT_RATE: the bot's requests a second to one tenant, Teams' published 50 unless an
admin (whose tenant Microsoft allows more, or a test fake with its cap raised) says otherwise."""

from __future__ import annotations

import json

import pytest

from adapters.teams import TeamsAdapterFactory
from adapters.teams.config import TeamsConfig
from bot.config import Settings
from bot.services.digest_runs import start_run
from bot.services.permissions import OPERATOR
from tests.outbox_support import article_and_daily_digest
from tests.teams_support import install_in_team, teams_stack

PUBLIC_URL = "https://bot.example.com"


def config(**env: str) -> TeamsConfig:
    return TeamsConfig.from_env(env, PUBLIC_URL)


def test_the_tenant_rate_is_teams_published_limit_unless_set() -> None:
    default = config()
    assert (default.tenant_rate, default.tenant_burst) == (50.0, 5)
    assert "sends up to 50 requests/s per tenant" in default.status().reason
    raised = config(TEAMS_TENANT_RATE="400")
    assert (raised.tenant_rate, raised.tenant_burst) == (400.0, 40)  # a tenth of a second's
    assert "sends up to 400 requests/s per tenant" in raised.status().reason
    assert config(TEAMS_TENANT_RATE=" ").tenant_rate == 50.0


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("0", "TEAMS_TENANT_RATE must be between 0.1 and 1000, not 0."),
        ("5000", "TEAMS_TENANT_RATE must be between 0.1 and 1000, not 5000."),
        ("fast", "TEAMS_TENANT_RATE must be a number, not 'fast'."),
    ],
)
def test_a_bad_tenant_rate_is_refused_by_name(settings: Settings, given: str, said: str) -> None:
    with pytest.raises(ValueError) as refused:
        config(TEAMS_TENANT_RATE=given)
    assert str(refused.value) == said
    # At start, the log's line for Teams says it (as a warning) and Teams stays off.
    wrong = Settings(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        public_url=PUBLIC_URL,
        env={"TEAMS_TENANT_RATE": given},
    )
    status = TeamsAdapterFactory().status(wrong)
    assert not status.enabled and status.warning and status.reason == said


async def test_the_adapter_paces_each_tenant_at_the_setting(settings: Settings) -> None:
    """A tenant capped at 6 requests a second: at Teams' default pacing (50) the roster read,
    the chats opened and the digest meet 429s; told 5, the bot meets none."""
    members = 12
    async with teams_stack(settings, TEAMS_TENANT_RATE="5") as teams:
        connector = teams.connector
        connector.per_tenant_rate = 6
        connector.validate_cards = False  # cards have their own tests; this one is about pacing
        team_id = "19:paced@thread.tacv2"
        for n in range(members):
            connector.add_member(
                team_id, user_id=f"29:p{n}", aad_object_id=f"aad-p{n}", name=f"P{n}"
            )
        await install_in_team(teams, team_id, "Paced")
        async with teams.app.db.transaction() as session:
            digest = await article_and_daily_digest(session, "Paced day")
            outcome = await start_run(session, teams.app.sealer, digest, actor=OPERATOR)
        assert outcome is not None and outcome.queued == members
        assert teams.app.worker is not None
        await teams.app.worker.drain()
        reached = [
            cid
            for cid, activities in connector.activities.items()
            if any("Paced day" in json.dumps(activity) for activity in activities)
        ]
        assert len(reached) == members
        assert connector.rate_limited_count == 0
