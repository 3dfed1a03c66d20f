"""A local stand-in for what Google Chat runs outside this machine, following its published
contract: the Chat API's REST surface (``spaces.messages.create`` / ``patch``,
``spaces.findDirectMessage``, ``spaces.setup``) with its limits and 429s, and a token issuer
that plays Google: it signs Chat's request tokens with its own RSA key, publishes that key's
certificate (as https://www.googleapis.com/oauth2/v1/certs does, with Cache-Control), and
serves the OAuth token endpoint a service account's key file names (JWT-bearer grant).

Like the real API, it refuses what Google refuses: a missing or unknown access token (401),
a card over 100 widgets or 32 KB, an unknown widget, text over 4,096 characters (400), a space
or message that does not exist (404), more than 60 writes a minute in one space (429 with
Retry-After)."""

from __future__ import annotations

import datetime
import itertools
import json
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from tests.fake_server import LoopbackServer

CHAT_ISSUER = "chat@system.gserviceaccount.com"
WIDGETS = {
    "textParagraph",
    "decoratedText",
    "image",
    "buttonList",
    "textInput",
    "selectionInput",
    "divider",
    "dateTimePicker",
    "grid",
    "columns",
}
SPACE_WRITES_PER_MINUTE = 60


def _key_pair(name: str) -> tuple[rsa.RSAPrivateKey, str, str]:
    """An RSA key, its private PEM and a self-signed certificate's PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key, private, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Call:
    method: str
    path: str
    body: dict[str, Any] | None
    status: int
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Posted:
    """A message as the fake holds it (the latest version after updates)."""

    name: str
    space: str
    body: dict[str, Any]
    viewer: str | None = None
    updates: int = 0


class FakeGoogleChat(LoopbackServer):
    """The Chat API and Google's token issuer on one loopback server."""

    def __init__(self) -> None:
        super().__init__()
        self._kid = secrets.token_hex(8)
        _, self._signing_pem, self._cert_pem = _key_pair("fake-google")
        self._signer = crypt.RSASigner.from_string(self._signing_pem, key_id=self._kid)
        _, self._account_pem, self._account_cert = _key_pair("fake-service-account")
        self.account_email = "advocacy-bot@fake-project.iam.gserviceaccount.com"
        self.access_tokens: set[str] = set()
        self.token_requests = 0
        self.certs_requests = 0
        self.calls: list[Call] = []
        self.messages: dict[str, Posted] = {}
        self.requests: dict[tuple[str, str], str] = {}  # (space, requestId) -> message name
        # What people were shown, in order: ("create"|"patch", name, body) from the API, and
        # ("answer", user, answer, event) for a response Chat showed (appended by the client).
        self.timeline: list[tuple[Any, ...]] = []
        self.spaces: dict[str, dict[str, Any]] = {}
        self.direct: dict[str, str] = {}  # user -> DM space
        self._ids = itertools.count(1)
        self._failures: deque[tuple[int, float | None]] = deque()
        self._writes: dict[str, deque[float]] = defaultdict(deque)

    # ----- life ---------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/oauth2/v1/certs", self._certs)
        app.router.add_post("/token", self._token)
        app.router.add_get("/v1/spaces:findDirectMessage", self._find_direct)
        app.router.add_post("/v1/spaces:setup", self._setup)
        app.router.add_post("/v1/spaces/{space}/messages", self._create)
        app.router.add_patch("/v1/spaces/{space}/messages/{message}", self._patch)
        return app

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def api_url(self) -> str:
        return self.base_url

    @property
    def certs_url(self) -> str:
        return f"{self.base_url}/oauth2/v1/certs"

    def service_account_file(self, directory: Path) -> Path:
        """A key file as Google issues it, whose token_uri is this issuer."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "google-chat-service-account.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "fake-project",
                    "private_key_id": "k1",
                    "private_key": self._account_pem,
                    "client_email": self.account_email,
                    "client_id": "1234567890",
                    "token_uri": f"{self.base_url}/token",
                }
            )
        )
        return path

    # ----- people and spaces --------------------------------------------------------------

    def add_user(self, user: str, *, with_app: bool = True) -> str:
        """A person; with the app added, their DM space with it exists."""
        space = f"spaces/dm-{user.removeprefix('users/')}"
        if with_app:
            self.direct[user] = space
            self.spaces[space] = {"name": space, "spaceType": "DIRECT_MESSAGE", "user": user}
        return space

    def add_space(self, name: str, display_name: str = "Ideas") -> dict[str, Any]:
        self.spaces[name] = {"name": name, "spaceType": "SPACE", "displayName": display_name}
        return self.spaces[name]

    def user_of_space(self, space: str) -> str | None:
        return self.spaces.get(space, {}).get("user")

    def in_space(self, space: str) -> list[Posted]:
        return [m for m in self.messages.values() if m.space == space]

    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        self._failures.append((status, retry_after))

    # ----- Google's request tokens --------------------------------------------------------

    def request_token(
        self,
        audience: str,
        *,
        project_number: bool = False,
        lifetime: int = 3600,
        issued: float | None = None,
        signer: crypt.Signer | None = None,
        issuer: str | None = None,
        email: str = CHAT_ISSUER,
    ) -> str:
        """A bearer token as Google Chat sends it: an OIDC ID token for an endpoint-URL audience,
        or Chat's own JWT for a project-number audience."""
        now = int(issued if issued is not None else time.time())
        payload: dict[str, Any] = {"aud": audience, "iat": now, "exp": now + lifetime}
        if project_number:
            payload["iss"] = issuer or CHAT_ISSUER
        else:
            payload.update(
                iss=issuer or "https://accounts.google.com",
                email=email,
                email_verified=True,
                sub="113344556677889900",
            )
        return jwt.encode(signer or self._signer, payload, header={"kid": self._kid}).decode()

    def push_token(self, audience: str, account: str) -> str:
        """The OIDC token a Pub/Sub push subscription sends, for its service account."""
        return self.request_token(audience, email=account)

    def forged_token(self, audience: str) -> str:
        """Signed with a key Google never published, under Google's key id."""
        _, pem, _ = _key_pair("forger")
        return self.request_token(audience, signer=crypt.RSASigner.from_string(pem, self._kid))

    async def _certs(self, request: web.Request) -> web.Response:
        self.certs_requests += 1
        return web.json_response(
            {self._kid: self._cert_pem},
            headers={"Cache-Control": "public, max-age=19809, must-revalidate, no-transform"},
        )

    async def _token(self, request: web.Request) -> web.Response:
        """The OAuth 2.0 token endpoint: a JWT-bearer grant signed by the service account."""
        self.token_requests += 1
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = jwt.decode(
                str(form.get("assertion", "")),
                certs={"k1": self._account_cert},
                # google-auth names Google's own token URL as the audience, whatever the key
                # file's token_uri; Google accepts it (and its own URL) there.
                audience=[f"{self.base_url}/token", "https://oauth2.googleapis.com/token"],
            )
        except ValueError as error:
            return web.json_response(
                {"error": "invalid_grant", "error_description": str(error)}, status=400
            )
        if claims.get("iss") != self.account_email or "chat.bot" not in claims.get("scope", ""):
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = f"ya29.fake-{secrets.token_hex(12)}"
        self.access_tokens.add(token)
        return web.json_response(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    # ----- the Chat API -------------------------------------------------------------------

    def _refusal(self, request: web.Request, body: dict[str, Any] | None) -> web.Response | None:
        status: int | None = None
        headers: dict[str, str] = {}
        message = ""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.access_tokens:
            status, message = 401, "Request had invalid authentication credentials."
        elif self._failures:
            status, retry_after = self._failures.popleft()
            message = "injected failure"
            if retry_after is not None:
                headers["Retry-After"] = f"{retry_after:g}"
        if status is None:
            return None
        self.calls.append(Call(request.method, request.path, body, status, dict(request.query)))
        return _error(status, message, headers)

    def _write_allowed(self, space: str) -> float | None:
        """None when this write fits the space's 60 a minute; else the seconds to wait."""
        now = time.monotonic()
        writes = self._writes[space]
        while writes and writes[0] <= now - 60:
            writes.popleft()
        if len(writes) >= SPACE_WRITES_PER_MINUTE:
            return 60 - (now - writes[0])
        writes.append(now)
        return None

    async def _find_direct(self, request: web.Request) -> web.Response:
        if refused := self._refusal(request, None):
            return refused
        user = request.query.get("name", "")
        space = self.direct.get(user)
        status = 200 if space else 404
        self.calls.append(Call("GET", request.path, None, status, dict(request.query)))
        if space is None:
            return _error(404, "Direct message space not found.")
        return web.json_response(self._space_resource(space))

    async def _setup(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := self._refusal(request, body):
            return refused
        # A Chat app with app authentication (the chat.bot scope) may not set up spaces.
        self.calls.append(Call("POST", request.path, body, 403))
        return _error(403, "This method doesn't support app authentication with a service account.")

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := self._refusal(request, body):
            return refused
        space = f"spaces/{request.match_info['space']}"
        request_id = request.query.get("requestId")
        if request_id and (space, request_id) in self.requests:
            # The published contract: an existing request id returns the message it created.
            known = self.messages[self.requests[space, request_id]]
            self.calls.append(Call("POST", request.path, body, 200))
            return web.json_response({**known.body, "name": known.name})
        problem = self._check(space, body)
        if problem:
            self.calls.append(Call("POST", request.path, body, problem[0]))
            return _error(*problem)
        name = f"{space}/messages/{next(self._ids)}.{secrets.token_hex(4)}"
        if request_id:
            self.requests[space, request_id] = name
        viewer = (body.get("privateMessageViewer") or {}).get("name")
        self.messages[name] = Posted(name, space, body, viewer)
        self.timeline.append(("create", name, body))
        self.calls.append(Call("POST", request.path, body, 200))
        return web.json_response({**body, "name": name, "space": self._space_resource(space)})

    async def _patch(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := self._refusal(request, body):
            return refused
        name = f"spaces/{request.match_info['space']}/messages/{request.match_info['message']}"
        mask = [f for f in request.query.get("updateMask", "").split(",") if f]
        posted = self.messages.get(name)
        problem = (
            (404, "Message not found.")
            if posted is None
            else (400, "updateMask is required.")
            if not mask
            else self._check(posted.space, body)
        )
        if problem:
            self.calls.append(Call("PATCH", request.path, body, problem[0], dict(request.query)))
            return _error(*problem)
        assert posted is not None
        for key in mask:
            if key in body:
                posted.body[key] = body[key]
        posted.updates += 1
        self.timeline.append(("patch", name, body))
        self.calls.append(Call("PATCH", request.path, body, 200, dict(request.query)))
        return web.json_response({**posted.body, "name": name})

    def _space_resource(self, space: str) -> dict[str, Any]:
        found = self.spaces.get(space, {"name": space})
        return {k: v for k, v in found.items() if k != "user"}

    def _check(self, space: str, body: dict[str, Any]) -> tuple[int, str] | None:
        if space not in self.spaces:
            return 404, "Space not found."
        problems = card_problems(body)
        if problems:
            return 400, "; ".join(problems)
        wait = self._write_allowed(space)
        if wait is not None:
            return 429, f"Quota exceeded; retry in {wait:.0f}s"
        return None


def card_problems(body: dict[str, Any]) -> list[str]:
    """What the Chat API refuses in a message body (a subset of its checks)."""
    problems = []
    for key in ("text", "fallbackText"):
        if len(body.get(key) or "") > 4096:
            problems.append(f"{key} over 4096 characters")
    cards = body.get("cardsV2") or []
    if not cards and not body.get("text"):
        problems.append("a message needs text or cards")
    if len(cards) > 1 and len({c.get("cardId") for c in cards}) != len(cards):
        problems.append("cards of one message need unique cardIds")
    for entry in cards:
        card = entry.get("card") or {}
        if len(json.dumps(card).encode()) > 32_000:
            problems.append("card over 32 KB")
        widgets = [w for s in card.get("sections") or [] for w in s.get("widgets") or []]
        if len(widgets) > 100:
            problems.append("card over 100 widgets")
        for widget in widgets:
            kinds = set(widget) - {"horizontalAlignment"}
            if len(kinds) != 1 or not kinds <= WIDGETS:
                problems.append(f"unknown widget {sorted(kinds)}")
            for button in (widget.get("buttonList") or {}).get("buttons") or []:
                click = button.get("onClick") or {}
                if not button.get("text") or not ({"action", "openLink"} & set(click)):
                    problems.append("a button needs text and an onClick action or link")
    return problems


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    codes = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
    }
    return web.json_response(
        {"error": {"code": status, "message": message, "status": codes.get(status, "INTERNAL")}},
        status=status,
        headers=headers,
    )
