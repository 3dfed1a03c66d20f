"""botbuilder's real authentication code accepts and refuses tokens from the fake identity
provider (tests/botframework_identity.py), and gets outbound tokens from it, all offline.

Why: the Teams adapter will rely on ``ConfigurationBotFrameworkAuthentication`` to reject forged
requests and to sign its own calls; these tests pin down exactly what botbuilder 4.17.1 does with
each kind of token and which configuration makes it talk to the fake instead of Microsoft.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import aiohttp
import jwt
import pytest
import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount
from botframework.connector.auth import MicrosoftAppCredentials

from tests.botframework_identity import CHANNEL_ISSUER, FakeBotFrameworkIdentity
from tests.teams_fake import FakeConnector

APP_ID = "00000000-0000-0000-0000-0000000000b0"
APP_PASSWORD = "app-password"
SERVICE_URL = "https://smba.trafficmanager.net/emea/"


@pytest.fixture
async def identity() -> AsyncIterator[FakeBotFrameworkIdentity]:
    async with FakeBotFrameworkIdentity(app_credentials={APP_ID: APP_PASSWORD}) as provider:
        yield provider


@pytest.fixture
def trust_identity(
    identity: FakeBotFrameworkIdentity, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    # MSAL's requests session must trust the fake's self-signed certificate.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", identity.ca_bundle)
    yield


def teams_activity(service_url: str = SERVICE_URL, channel_id: str = "msteams") -> Activity:
    return Activity(
        type="message",
        channel_id=channel_id,
        service_url=service_url,
        from_property=ChannelAccount(id="29:alice", aad_object_id="aad-alice"),
        recipient=ChannelAccount(id=f"28:{APP_ID}"),
        conversation=ConversationAccount(id="a:1"),
        text="hi",
    )


def authentication(config: SimpleNamespace) -> ConfigurationBotFrameworkAuthentication:
    return ConfigurationBotFrameworkAuthentication(config)


# -- what is served ----------------------------------------------------------------------------


async def test_metadata_and_keys_look_like_login_botframework_com(
    identity: FakeBotFrameworkIdentity,
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(identity.openid_metadata_url) as response:
            metadata = await response.json()
        async with session.get(metadata["jwks_uri"]) as response:
            keys = (await response.json())["keys"]
    assert metadata["issuer"] == "https://api.botframework.com"
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["jwks_uri"].startswith(identity.url + "/v1/.well-known/keys")
    assert identity.openid_metadata_url.startswith(
        identity.url + "/v1/.well-known/openidconfiguration?"
    )
    [key] = keys
    assert key["kid"] == identity.kid and key["kty"] == "RSA"
    assert {"msteams", "emulator"} <= set(key["endorsements"])

    token = identity.issue_channel_token(APP_ID, SERVICE_URL)
    assert jwt.get_unverified_header(token)["kid"] == identity.kid
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == CHANNEL_ISSUER and claims["aud"] == APP_ID
    assert claims["serviceurl"] == SERVICE_URL and claims["nbf"] < claims["exp"]
    assert "ver" not in claims  # would make botframework take it for a skill token


# -- inbound: the channel's tokens -------------------------------------------------------------


async def test_valid_channel_token_is_accepted(identity: FakeBotFrameworkIdentity) -> None:
    auth = authentication(identity.bot_configuration(APP_ID, APP_PASSWORD))
    token = identity.issue_channel_token(APP_ID, SERVICE_URL)
    result = await auth.authenticate_request(teams_activity(), f"Bearer {token}")
    assert result.claims_identity.is_authenticated
    assert result.claims_identity.claims["aud"] == APP_ID
    assert result.claims_identity.claims["serviceurl"] == SERVICE_URL
    assert result.audience == "https://api.botframework.com"  # outbound token scope
    assert result.caller_id is None  # parameterized mode: only the CALLER_ID setting sets it
    # botframework fetched the metadata, then the keys, from the fake.
    assert identity.requests[:2] == [
        "GET /v1/.well-known/openidconfiguration",
        "GET /v1/.well-known/keys",
    ]


@pytest.mark.parametrize(
    ("case", "raised", "message"),
    [
        ("rogue signature", jwt.InvalidSignatureError, "Signature verification failed"),
        ("expired", jwt.ExpiredSignatureError, "Signature has expired"),
        ("wrong audience", PermissionError, "Invalid AppId passed on token"),
        ("wrong issuer", PermissionError, "Identity missing"),
        ("other service url", PermissionError, "Invalid 'serviceurl' claim"),
        ("missing header", PermissionError, "Unauthorized Access"),
        ("not a bearer token", PermissionError, "Identity missing"),
        ("channel not endorsed", Exception, "Could not validate endorsement key"),
    ],
)
async def test_bad_requests_are_refused(
    identity: FakeBotFrameworkIdentity, case: str, raised: type[Exception], message: str
) -> None:
    # Only PermissionError is turned into 401 by botbuilder's CloudAdapter; the adapter must map
    # the PyJWT errors and the bare Exception itself.
    auth = authentication(identity.bot_configuration(APP_ID, APP_PASSWORD))
    activity = teams_activity()
    token = identity.issue_channel_token(APP_ID, SERVICE_URL)
    header: str | None = f"Bearer {token}"
    if case == "rogue signature":
        header = f"Bearer {identity.issue_channel_token(APP_ID, SERVICE_URL, valid=False)}"
    elif case == "expired":  # beyond botframework's 5-minute clock tolerance
        header = f"Bearer {identity.issue_channel_token(APP_ID, SERVICE_URL, expires_in=-301)}"
    elif case == "wrong audience":
        forged = identity.issue_channel_token(APP_ID, SERVICE_URL, audience="another-bot")
        header = f"Bearer {forged}"
    elif case == "wrong issuer":
        forged = identity.issue_channel_token(APP_ID, SERVICE_URL, issuer="https://evil.example")
        header = f"Bearer {forged}"
    elif case == "other service url":
        activity = teams_activity(service_url="https://evil.example/")
    elif case == "missing header":
        header = None
    elif case == "not a bearer token":
        header = f"Basic {token}"
    elif case == "channel not endorsed":
        activity = teams_activity(channel_id="facebook")
    with pytest.raises(raised, match=message):
        await auth.authenticate_request(activity, header)


async def test_clock_tolerance_is_five_minutes(identity: FakeBotFrameworkIdentity) -> None:
    auth = authentication(identity.bot_configuration(APP_ID, APP_PASSWORD))
    barely = identity.issue_channel_token(APP_ID, SERVICE_URL, expires_in=-240)
    result = await auth.authenticate_request(teams_activity(), f"Bearer {barely}")
    assert result.claims_identity.is_authenticated


async def test_token_issuer_setting_is_required(identity: FakeBotFrameworkIdentity) -> None:
    # Any URL setting switches botbuilder to its "parameterized" authentication, whose only
    # accepted issuer is TO_BOT_FROM_CHANNEL_TOKEN_ISSUER.
    config = identity.bot_configuration(APP_ID, APP_PASSWORD)
    del config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    token = identity.issue_channel_token(APP_ID, SERVICE_URL)
    with pytest.raises(PermissionError, match="Identity missing"):
        await authentication(config).authenticate_request(teams_activity(), f"Bearer {token}")


async def test_each_provider_has_its_own_metadata_url_and_key(
    identity: FakeBotFrameworkIdentity,
) -> None:
    # botframework caches metadata per URL for the whole process; every instance has a unique
    # URL and kid, so a token from another instance is refused (unknown kid: IndexError).
    async with FakeBotFrameworkIdentity() as other:
        assert other.openid_metadata_url != identity.openid_metadata_url
        assert other.kid != identity.kid
        auth = authentication(identity.bot_configuration(APP_ID, APP_PASSWORD))
        foreign = other.issue_channel_token(APP_ID, SERVICE_URL)
        with pytest.raises(IndexError):
            await auth.authenticate_request(teams_activity(), f"Bearer {foreign}")


# -- outbound: the bot's own tokens --------------------------------------------------------------


@pytest.mark.usefixtures("trust_identity")
async def test_connector_factory_gets_a_token_and_signs_connector_calls(
    identity: FakeBotFrameworkIdentity,
) -> None:
    async with FakeConnector(require_token=lambda token: token in identity.issued_tokens) as fake:
        auth = authentication(identity.bot_configuration(APP_ID, APP_PASSWORD))
        inbound = identity.issue_channel_token(APP_ID, fake.service_url)
        activity = teams_activity(service_url=fake.service_url)
        result = await auth.authenticate_request(activity, f"Bearer {inbound}")
        client = await result.connector_factory.create(fake.service_url, result.audience)
        sent = await client.conversations.send_to_conversation(
            "a:1", Activity(type="message", text="signed")
        )
    assert sent.id
    [token] = identity.issued_tokens
    assert fake.calls[0].authorization == f"Bearer {token}"
    [form] = identity.token_requests
    assert form["grant_type"] == "client_credentials"
    assert (form["client_id"], form["client_secret"]) == (APP_ID, APP_PASSWORD)
    assert form["scope"] == "https://api.botframework.com/.default"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["aud"], claims["appid"]) == ("https://api.botframework.com", APP_ID)
    # MSAL read the ADFS-style tenant discovery document, then posted to the token endpoint.
    assert "GET /adfs/.well-known/openid-configuration" in identity.requests
    assert "POST /adfs/oauth2/v2.0/token" in identity.requests


@pytest.mark.usefixtures("trust_identity")
async def test_microsoft_app_credentials_directly(identity: FakeBotFrameworkIdentity) -> None:
    # botframework 4.17.1 has no oauth_endpoint argument: set the attribute before first use.
    credentials = MicrosoftAppCredentials(APP_ID, APP_PASSWORD)
    credentials.oauth_endpoint = identity.login_url
    token = credentials.get_access_token()
    assert token == identity.issued_tokens[-1]

    wrong = MicrosoftAppCredentials(APP_ID, "not-the-password")
    wrong.oauth_endpoint = identity.login_url
    with pytest.raises(PermissionError, match="invalid_client"):
        wrong.get_access_token()


async def test_without_trusting_the_certificate_msal_fails(
    identity: FakeBotFrameworkIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    credentials = MicrosoftAppCredentials(APP_ID, APP_PASSWORD)
    credentials.oauth_endpoint = identity.login_url
    with pytest.raises(requests.exceptions.SSLError):
        credentials.get_access_token()


@pytest.mark.usefixtures("trust_identity")
async def test_why_login_url_is_an_adfs_authority(
    identity: FakeBotFrameworkIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MSAL only takes https authorities...
    plain = MicrosoftAppCredentials(APP_ID, APP_PASSWORD)
    plain.oauth_endpoint = f"{identity.url}/adfs"
    with pytest.raises(ValueError, match="https"):
        plain.get_access_token()
    # ...and for an unknown host with a tenant it first asks login.microsoftonline.com (instance
    # discovery), which botframework cannot turn off. A dead proxy proves it, offline.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    tenant = MicrosoftAppCredentials(APP_ID, APP_PASSWORD)
    tenant.oauth_endpoint = f"{identity.https_url}/botframework.com"
    with pytest.raises(requests.exceptions.ProxyError, match=r"login\.microsoftonline\.com"):
        tenant.get_access_token()
    assert not identity.issued_tokens
