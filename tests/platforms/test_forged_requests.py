"""Forged requests: a thousand mutations of a valid Slack request (signature, timestamp, body,
headers) and of a valid Teams request (token, audience, issuer, expiry, with an app id set), sent
over real HTTP to the real server. None is accepted and none leaves a trace in the database."""

from __future__ import annotations

import base64
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from bot.app import Application
from bot.config import Settings
from bot.storage.models import Feedback, InboxEvent, Member, Suggestion
from tests.slack_support import SIGNING_SECRET, TEAM, slack_stack
from tests.teams_support import APP_ID, authenticated_teams_stack
from tests.teams_support import user as teams_user

MUTATIONS = 1000


async def traces(app: Application) -> dict[str, int]:
    async with app.db.transaction() as session:
        counts = {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Suggestion, Member, Feedback, InboxEvent)
        }
    counts["inbox"] = await app.inbox.store.run(  # the inbox's own file, on SQLite
        lambda connection: connection.scalar(select(func.count()).select_from(InboxEvent)) or 0
    )
    return counts


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ----- Slack ----------------------------------------------------------------------------------


def slack_forgery(rng: random.Random, n: int) -> tuple[str, str, dict[str, str]]:
    """(kind, body, headers) of one forged version of a valid signed slash command."""
    body = urlencode(
        {
            "command": "/suggest",
            "text": f"forged idea {n}",
            "user_id": "UEVE",
            "team_id": TEAM,
            "trigger_id": f"t{n}",
            "response_url": "http://127.0.0.1:9/hook",
        }
    )
    now = int(time.time())
    verifier = SignatureVerifier(SIGNING_SECRET)

    def signed(stamp: str, text: str, secret: str = SIGNING_SECRET) -> dict[str, str]:
        return {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
                timestamp=stamp, body=text
            ),
        }

    good = signed(str(now), body)
    signature = good["X-Slack-Signature"]
    kind = rng.choice(
        [
            "flipped signature",
            "truncated signature",
            "other version",
            "wrong secret",
            "uppercase signature",
            "empty signature",
            "stale timestamp",
            "future timestamp",
            "garbage timestamp",
            "body changed after signing",
            "body appended after signing",
            "signature of another body",
            "no signature header",
            "no timestamp header",
            "renamed headers",
            "timestamp swapped after signing",
        ]
    )
    headers = dict(good)
    if kind == "flipped signature":
        i = rng.randrange(3, len(signature))
        swap = "0" if signature[i] != "0" else "1"
        headers["X-Slack-Signature"] = signature[:i] + swap + signature[i + 1 :]
    elif kind == "truncated signature":
        headers["X-Slack-Signature"] = signature[: rng.randrange(0, len(signature) - 1)]
    elif kind == "other version":
        headers["X-Slack-Signature"] = "v1=" + signature[3:]
    elif kind == "wrong secret":
        headers = signed(str(now), body, secret=f"not-the-secret-{n}")
    elif kind == "uppercase signature":
        headers["X-Slack-Signature"] = "v0=" + signature[3:].upper()
    elif kind == "empty signature":
        headers["X-Slack-Signature"] = ""
    elif kind == "stale timestamp":  # correctly signed, but old: a replay
        headers = signed(str(now - rng.randrange(5 * 60 + 5, 10**7)), body)
    elif kind == "future timestamp":
        headers = signed(str(now + rng.randrange(5 * 60 + 5, 10**7)), body)
    elif kind == "garbage timestamp":
        stamp = rng.choice(["", "abc", "1e9", f"{now}.5", "-1", " " + str(now)])
        headers = signed(stamp, body)
    elif kind == "body changed after signing":
        i = rng.randrange(len(body))
        body = body[:i] + ("X" if body[i] != "X" else "Y") + body[i + 1 :]
    elif kind == "body appended after signing":
        body += "&text=" + rng.choice(["%3C%21channel%3E", "more", "1"])
    elif kind == "signature of another body":
        headers = signed(str(now), body.replace("forged", "other"))
    elif kind == "no signature header":
        del headers["X-Slack-Signature"]
    elif kind == "no timestamp header":
        del headers["X-Slack-Request-Timestamp"]
    elif kind == "renamed headers":
        headers = {"X-Slack-Sig": signature, "X-Slack-Timestamp": str(now)}
    elif kind == "timestamp swapped after signing":
        headers["X-Slack-Request-Timestamp"] = str(now - 1)
    assert verifier is not None
    return kind, body, {"Content-Type": "application/x-www-form-urlencoded", **headers}


async def test_a_thousand_forged_slack_requests_are_all_refused(settings: Settings) -> None:
    rng = random.Random(2026)
    async with slack_stack(settings) as slack:
        before = await traces(slack.app)
        calls_before = len(slack.fake.calls)  # the start-up auth.test
        refused: Counter[str] = Counter()
        for n in range(MUTATIONS):
            kind, body, headers = slack_forgery(rng, n)
            async with slack.session.post(slack.url, data=body.encode(), headers=headers) as r:
                assert r.status == 401, f"{kind} was answered {r.status}"
            refused[kind] += 1
        await slack.settle()
        assert await traces(slack.app) == before
        assert slack.fake.calls[calls_before:] == []  # nothing posted on anyone's behalf
        assert len(refused) == 16 and sum(refused.values()) == MUTATIONS
        # The real thing, for contrast, is accepted.
        status, _ = await slack.command("/suggest", "a real idea", "UEVE")
        await slack.settle()
        assert status == 200 and (await traces(slack.app))["Suggestion"] == 1


# ----- Teams ----------------------------------------------------------------------------------


def tampered(token: str, rng: random.Random) -> str:
    """The token with one part changed (header, claims or signature), signature kept."""
    header, payload, signature = token.split(".")
    part = rng.choice(["header", "payload", "signature"])
    if part == "signature":
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return f"{header}.{payload}.{_b64(bytes(raw))}"
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if part == "payload":
        claims[rng.choice(["aud", "iss", "serviceurl", "exp"])] = rng.choice(
            ["https://evil.example.com/", "someone-else", 9999999999, ""]
        )
        return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    fields = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    fields[rng.choice(["alg", "kid"])] = rng.choice(["none", "HS256", "other-key"])
    return f"{_b64(json.dumps(fields).encode())}.{payload}.{signature}"


def teams_forgery(
    rng: random.Random, issue: Callable[..., str], service_url: str
) -> tuple[str, str | None]:
    """(kind, Authorization header) of one forged version of a valid channel token."""
    kind = rng.choice(
        [
            "tampered token",
            "rogue signing key",
            "expired",
            "not yet valid",
            "other audience",
            "other issuer",
            "other service url",
            "alg none",
            "no token",
            "not a bearer",
            "garbage",
        ]
    )
    if kind == "tampered token":
        return kind, "Bearer " + tampered(issue(APP_ID, service_url), rng)
    if kind == "rogue signing key":
        return kind, "Bearer " + issue(APP_ID, service_url, valid=False)
    if kind == "expired":
        return kind, "Bearer " + issue(APP_ID, service_url, expires_in=-rng.randrange(400, 10**6))
    if kind == "not yet valid":
        now = int(time.time())
        return kind, "Bearer " + issue(
            APP_ID, service_url, claims={"nbf": now + rng.randrange(600, 10**6)}
        )
    if kind == "other audience":
        audience = rng.choice(["", "api://botid-" + APP_ID, "99999999-2222-3333-4444-555555555555"])
        return kind, "Bearer " + issue(APP_ID, service_url, audience=audience)
    if kind == "other issuer":
        issuer = rng.choice(["https://login.evil.example.com", "https://sts.windows.net/x/", ""])
        return kind, "Bearer " + issue(APP_ID, service_url, issuer=issuer)
    if kind == "other service url":
        return kind, "Bearer " + issue(APP_ID, "https://evil.example.com/")
    if kind == "alg none":
        claims = {"aud": APP_ID, "iss": "https://api.botframework.com", "exp": 9999999999}
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return kind, f"Bearer {header}.{_b64(json.dumps(claims).encode())}."
    if kind == "no token":
        return kind, None
    if kind == "not a bearer":
        return kind, "Basic " + _b64(b"bot:password")
    return kind, "Bearer " + rng.choice(["", "x", "a.b.c", "a" * 4000, "é.é.é"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_thousand_forged_teams_requests_are_all_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(2027)
    async with authenticated_teams_stack(settings, monkeypatch) as (teams, identity):
        connector = teams.connector
        before = await traces(teams.app)
        refused: Counter[str] = Counter()
        eve = teams_user("Eve")
        for n in range(MUTATIONS):
            kind, header = teams_forgery(rng, identity.issue_channel_token, connector.service_url)
            teams.authorization = header
            activity = teams.activity("message", eve, text=f"suggest forged {n}")
            status, _ = await teams.post(dict(activity, id=f"forged-{n}"))
            assert status == 401, f"{kind} was answered {status}"
            refused[kind] += 1
        await teams.settle()
        assert await traces(teams.app) == before
        assert not connector.calls  # the bot answered nobody
        assert len(refused) == 11 and sum(refused.values()) == MUTATIONS
        teams.authorization = "Bearer " + identity.issue_channel_token(
            APP_ID, connector.service_url
        )
        status, _ = await teams.say(eve, "suggest A real idea")
        await teams.settle()
        assert status in (200, 201) and (await traces(teams.app))["Suggestion"] == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_teams_body_is_not_read_before_its_token_is_checked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deeply nested JSON with a forged token was parsed first and answered 500 with a
    traceback; now anything without a valid token is 401, whatever its body, and only a caller
    with a valid token learns that the body is not an activity (400)."""
    nested = b'{"type": "message", "value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with authenticated_teams_stack(settings, monkeypatch) as (teams, identity):
        connector = teams.connector
        valid = "Bearer " + identity.issue_channel_token(APP_ID, connector.service_url)
        answers = {}
        for name, header, body in (
            ("no token, nested", None, nested),
            ("forged token, nested", "Bearer a.b.c", nested),
            ("forged token, not JSON", "Bearer a.b.c", b"\x00{{{"),
            ("valid token, nested", valid, nested),
            ("valid token, not JSON", valid, b"{{{"),
            ("valid token, not an activity", valid, b"[1, 2]"),
        ):
            headers = {"Content-Type": "application/json"}
            if header:
                headers["Authorization"] = header
            async with teams.session.post(teams.url, data=body, headers=headers) as response:
                answers[name] = (response.status, await response.text())
        assert {name: status for name, (status, _) in answers.items()} == {
            "no token, nested": 401,
            "forged token, nested": 401,
            "forged token, not JSON": 401,
            "valid token, nested": 400,
            "valid token, not JSON": 400,
            "valid token, not an activity": 400,
        }
        assert not [text for _, text in answers.values() if "Traceback" in text]
        assert set((await traces(teams.app)).values()) == {0}
