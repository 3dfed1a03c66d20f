"""A fake Bot Framework identity provider, so the Teams adapter's JWT checks run for real, offline.

Why: botbuilder validates every incoming activity's ``Authorization`` header against the keys
published by ``login.botframework.com``, and gets its own outbound tokens from Azure AD through
MSAL. Tests must exercise both with botbuilder's real code, without leaving the machine. This
server plays both parts on 127.0.0.1:

* ``openid_metadata_url`` (HTTP): ``/v1/.well-known/openidconfiguration`` shaped like
  https://login.botframework.com/v1/.well-known/openidconfiguration (issuer
  ``https://api.botframework.com``, ``jwks_uri``, ``id_token_signing_alg_values_supported``), and
  ``/v1/.well-known/keys``, the JWKS with this instance's RSA public key and the ``endorsements``
  (channel ids) Bot Framework keys carry. ``issue_channel_token`` signs tokens as the channel
  would; ``valid=False`` signs with a rogue key under the same ``kid``.
* ``managed_identity_endpoint`` (HTTP): Azure App Service's managed identity endpoint, for a
  bot registered as a user-assigned managed identity (``MICROSOFT_APP_TYPE=UserAssignedMSI``):
  MSAL's ``ManagedIdentityClient`` uses it when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``
  are set (``managed_identity_environment``), asking ``GET ?api-version=2019-08-01&resource=
  &client_id=`` with the header ``X-IDENTITY-HEADER``, and reading ``access_token`` and
  ``expires_on`` (epoch seconds) from the answer; a wrong header is refused with 401 as App
  Service does. Each token is appended to ``issued_tokens`` and each request's query to
  ``managed_identity_requests``.
* ``login_url`` (HTTPS): an authority MSAL accepts, with tenant discovery
  (``{authority}/.well-known/openid-configuration`` and the Entra form
  ``{authority}/v2.0/.well-known/openid-configuration``), the token endpoint
  ``{authority}/oauth2/v2.0/token`` (client credentials; each access token issued is appended to
  ``issued_tokens``) and instance discovery (``/common/discovery/instance``) for callers that can
  point MSAL at it.

Found by reading botframework-connector 4.17.1 and msal 1.39, and by experiment (see
tests/platforms/test_botframework_identity.py):

* botframework fetches metadata and keys with synchronous ``requests.get`` inside the async
  ``authenticate_request``, and MSAL is synchronous too (called from ``signed_session`` in the
  event loop). A server on the test's own event loop would deadlock, so this one runs its own
  loop in a thread.
* ``JwtTokenExtractor.metadataCache`` is a module-level dict keyed by metadata URL, never
  evicted; keys are refetched at most once a day (once an hour for an unknown ``kid``). A new
  server on a reused port would be shadowed by the cached keys of an old one, so each instance's
  ``openid_metadata_url`` carries a unique query string and its key a unique ``kid``.
* Setting any of the URL settings makes ``ConfigurationBotFrameworkAuthentication`` use the
  "parameterized" authentication, which accepts exactly one issuer,
  ``TO_BOT_FROM_CHANNEL_TOKEN_ISSUER``: unset, every token is refused ("Identity missing").
* A channel token must not carry a ``ver`` claim, or botframework takes it for a skill token.
* Clock tolerance is 5 minutes: a token expired less than 300 s ago is still accepted.
* What ``authenticate_request`` raises: no header, wrong audience, issuer or ``serviceurl`` →
  ``PermissionError``; rogue signature → ``jwt.InvalidSignatureError``; expired →
  ``jwt.ExpiredSignatureError``; unknown ``kid`` → ``IndexError``; channel id not endorsed →
  a bare ``Exception``. botbuilder's ``CloudAdapter.process_activity`` turns only
  ``PermissionError`` into 401; the others escape (500) unless the adapter maps them.
* Outbound tokens: MSAL accepts only ``https`` authorities, and for a host it does not know it
  first asks https://login.microsoftonline.com/common/discovery/instance (instance discovery),
  which leaves the machine. ``validate_authority=False``/``instance_discovery=False`` would skip
  it, but botframework never passes them to MSAL (``_PrivateCloudAppCredentials`` stores
  ``validate_authority`` and ignores it). MSAL skips instance discovery for ADFS authorities
  (path ``/adfs``), so ``login_url`` is ``https://127.0.0.1:PORT/adfs``. MSAL's requests session
  must trust this server's self-signed certificate: set ``REQUESTS_CA_BUNDLE=<ca_bundle>`` (it
  replaces certifi's bundle for the whole process while set).
* botframework creates new credentials, hence a new MSAL app (tenant discovery + token request),
  for every connector client; nothing is cached between ``ConnectorFactory.create`` calls.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import functools
import ipaddress
import os
import secrets
import ssl
import tempfile
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import jwt
import msal
from aiohttp import web
from botframework.connector.auth.managedidentity_app_credentials import (
    ManagedIdentityAppCredentials,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.fake_server import LoopbackServer

CHANNEL_ISSUER = "https://api.botframework.com"  # iss of tokens the channel sends to the bot
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com"  # audience of the bot's outbound tokens
BOTFRAMEWORK_TENANT = "d6d49420-f39b-4df7-a1dc-d59a935871db"  # botframework.com's AAD tenant
DEFAULT_ENDORSEMENTS = ("msteams", "emulator", "webchat", "directline", "slack", "skype")
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
MANAGED_IDENTITY_PATH = "/msi/token"


# -- keys and certificates, made once per test process (RSA generation costs ~80 ms) -------


@functools.cache
def _rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name ("signing", "rogue"); instances tell theirs apart by ``kid``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _tls_files() -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost: (certificate PEM path, key PEM path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        # A self-signed CA, so strict verifiers (OpenSSL X509_STRICT) accept it as a root.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tempfile.mkdtemp(prefix="fake-botframework-tls-")
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as file:
        file.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def _remove() -> None:
        for path in (cert_path, key_path):
            with contextlib.suppress(OSError):
                os.remove(path)
        with contextlib.suppress(OSError):
            os.rmdir(directory)

    atexit.register(_remove)
    return cert_path, key_path


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- the identity provider ------------------------------------------------------------------


class FakeBotFrameworkIdentity(LoopbackServer):
    """Bot Framework's OpenID metadata + keys (HTTP) and an Azure AD token endpoint (HTTPS) on
    127.0.0.1. Use as ``async with FakeBotFrameworkIdentity() as identity:``."""

    def __init__(
        self,
        *,
        endorsements: Sequence[str] = DEFAULT_ENDORSEMENTS,
        app_credentials: dict[str, str] | None = None,
        token_lifetime: int = 3600,
    ) -> None:
        """``app_credentials`` (app id -> password), when given, makes the token endpoint refuse
        other clients the way Azure AD does (401 ``invalid_client``); by default any is served."""
        self.endorsements = list(endorsements)
        self.app_credentials = app_credentials
        self.token_lifetime = token_lifetime
        self.instance = secrets.token_hex(6)
        self.kid = f"fake-bf-{self.instance}"
        self.openid_metadata_url = ""
        self.jwks_url = ""
        self.login_url = ""  # the MSAL authority: TO_CHANNEL_FROM_BOT_LOGIN_URL
        self.instance_discovery_url = ""
        self.ca_bundle, self._tls_key = _tls_files()  # trust ca_bundle: REQUESTS_CA_BUNDLE
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.ca_bundle, self._tls_key)
        # url: metadata and keys over HTTP; https_url: everything, over TLS, for MSAL.
        super().__init__(own_thread=True, tls=tls)
        self.issued_tokens: list[str] = []
        self.token_requests: list[dict[str, str]] = []  # form bodies posted to the token endpoint
        self.managed_identity_requests: list[dict[str, str]] = []  # queries of /msi/token
        self.identity_header = secrets.token_hex(8)  # App Service's X-IDENTITY-HEADER secret
        self.managed_identity_endpoint = ""
        self.requests: list[str] = []  # "METHOD /path" of every request served, in order
        self._key = _rsa_key("signing")
        self._rogue_key = _rsa_key("rogue")

    # -- lifecycle ------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get(METADATA_PATH, self._metadata)
        app.router.add_get(KEYS_PATH, self._keys)
        app.router.add_get(MANAGED_IDENTITY_PATH, self._managed_identity_token)
        app.router.add_get("/common/discovery/instance", self._instance_discovery)
        app.router.add_get("/{tenant}/.well-known/openid-configuration", self._tenant_discovery)
        app.router.add_get(
            "/{tenant}/v2.0/.well-known/openid-configuration", self._tenant_discovery
        )
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_post("/{tenant}/oauth2/token", self._token)  # ADFS/v1 form
        return app

    async def start(self) -> None:
        await super().start()
        # Unique per instance: botframework caches metadata by URL for the whole process.
        self.openid_metadata_url = f"{self.url}{METADATA_PATH}?instance={self.instance}"
        self.jwks_url = f"{self.url}{KEYS_PATH}?instance={self.instance}"
        self.login_url = f"{self.https_url}/adfs"
        self.instance_discovery_url = f"{self.https_url}/common/discovery/instance"
        self.managed_identity_endpoint = f"{self.url}{MANAGED_IDENTITY_PATH}"
        # Each fake is a new Azure: botbuilder keeps managed-identity tokens in one cache for
        # the whole process (a class attribute), which would hand this bot an earlier fake's.
        ManagedIdentityAppCredentials.global_token_cache = msal.TokenCache()

    def managed_identity_environment(self) -> dict[str, str]:
        """The variables Azure App Service sets for a process with a managed identity."""
        return {
            "IDENTITY_ENDPOINT": self.managed_identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    # -- helpers for tests -------------------------------------------------------------------

    def issue_channel_token(
        self,
        app_id: str,
        service_url: str,
        *,
        valid: bool = True,
        expires_in: int = 3600,
        audience: str | None = None,
        issuer: str = CHANNEL_ISSUER,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A JWT as the Bot Framework channel sends it to the bot (RS256, this server's kid).

        ``valid=False`` signs with a rogue key under the same kid; ``audience`` replaces the app
        id in ``aud``; ``claims`` adds or overrides claims. No ``ver`` claim, like the real one.
        """
        now = int(time.time())
        expires = now + expires_in
        payload: dict[str, Any] = {
            "serviceurl": service_url,
            "nbf": min(now, expires) - 60,
            "exp": expires,
            "iss": issuer,
            "aud": audience if audience is not None else app_id,
            **(claims or {}),
        }
        key = self._key if valid else self._rogue_key
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": self.kid})

    def bot_configuration(self, app_id: str, app_password: str) -> SimpleNamespace:
        """The configuration object ``ConfigurationBotFrameworkAuthentication`` needs to validate
        this server's channel tokens and get outbound tokens from it."""
        return SimpleNamespace(
            APP_ID=app_id,
            APP_PASSWORD=app_password,
            APP_TYPE="MultiTenant",
            TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=self.openid_metadata_url,
            TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=CHANNEL_ISSUER,
            TO_CHANNEL_FROM_BOT_LOGIN_URL=self.login_url,
            TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=BOT_FRAMEWORK_SCOPE,
        )

    def public_jwk(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
            "endorsements": list(self.endorsements),
        }

    # -- handlers (run on the server thread) -------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        return await handler(request)

    def _base(self, request: web.Request) -> str:
        return self.https_url if request.secure else self.url

    async def _metadata(self, request: web.Request) -> web.Response:
        query = f"?instance={self.instance}"
        return web.json_response(
            {
                "issuer": CHANNEL_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self._base(request)}{KEYS_PATH}{query}",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.public_jwk()]})

    def _authority_config(self, tenant: str) -> dict[str, Any]:
        authority = f"{self.https_url}/{tenant}"
        return {
            "issuer": f"{authority}/v2.0",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "jwks_uri": f"{self.https_url}{KEYS_PATH}?instance={self.instance}",
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }

    async def _tenant_discovery(self, request: web.Request) -> web.Response:
        return web.json_response(self._authority_config(request.match_info["tenant"]))

    async def _instance_discovery(self, request: web.Request) -> web.Response:
        # Answers any authorization_endpoint on this host, as Azure AD does for its own hosts.
        # MSAL drops the port: https://127.0.0.1/{tenant}/oauth2/v2.0/authorize
        endpoint = urlsplit(request.query.get("authorization_endpoint", ""))
        tenant = endpoint.path.split("/")[1] if endpoint.path.count("/") > 1 else "common"
        host = self.https_url.removeprefix("https://")
        return web.json_response(
            {
                "tenant_discovery_endpoint": (
                    f"{self.https_url}/{tenant}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                ],
            }
        )

    async def _managed_identity_token(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.managed_identity_requests.append(query)
        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return web.json_response(
                {"statusCode": 401, "message": "Unauthorized request"}, status=401
            )
        resource = query.get("resource", "")
        token = self._access_token(resource, query.get("client_id", ""))
        return web.json_response(
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + self.token_lifetime),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": query.get("client_id", ""),
            }
        )

    def _access_token(self, audience: str, client_id: str) -> str:
        """An access token for the bot, as Azure AD issues it (kept in ``issued_tokens``)."""
        now = int(time.time())
        payload = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{BOTFRAMEWORK_TENANT}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "appid": client_id,
            "tid": BOTFRAMEWORK_TENANT,
            "ver": "1.0",
            "jti": secrets.token_hex(8),  # every token distinct
        }
        token = jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self.kid})
        self.issued_tokens.append(token)
        return token

    async def _token(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.token_requests.append(form)
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", "AADSTS70003: grant type")
        client_id = form.get("client_id", "")
        if self.app_credentials is not None and (
            self.app_credentials.get(client_id) != form.get("client_secret")
        ):
            return _aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret.")
        scope = form.get("scope", "").split(" ")[0]
        token = self._access_token(scope.removesuffix("/.default"), client_id)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            }
        )


def _aad_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description, "error_codes": []}, status=status
    )
