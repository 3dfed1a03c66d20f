"""Slack's failures as the contract names them: ``DeliveryError`` with a 429's Retry-After, a
permanent refusal, or a refused token (the whole workspace is down until an operator acts)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.platform import DeliveryError

PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "msg_too_long",
        "no_text",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "team_access_not_granted",
        "token_revoked",
        "user_disabled",
        "user_not_found",
    }
)
# The token itself is refused: every message to that workspace would fail the same way.
TOKEN_ERRORS = frozenset(
    {"account_inactive", "invalid_auth", "not_authed", "token_expired", "token_revoked"}
)
# A trigger_id opens a modal within 3 seconds of its interaction only.
TRIGGER_ERRORS = frozenset({"expired_trigger_id", "invalid_trigger_id"})


def retry_after(headers: object, default: float = 1.0) -> float:
    """A 429's Retry-After in seconds (Slack sends whole seconds)."""
    value = headers.get("Retry-After") if hasattr(headers, "get") else None  # type: ignore[union-attr]
    try:
        return float(value) if value else default
    except (TypeError, ValueError):
        return default


def error_code(error: SlackApiError) -> str:
    data = error.response.data
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def delivery_error(error: SlackApiError) -> DeliveryError:
    status = error.response.status_code
    code = error_code(error)
    if status == 429 or code == "ratelimited":
        wait = retry_after(error.response.headers)
        return DeliveryError(f"Slack rate limit (429), retry after {wait:.0f}s", retry_after=wait)
    if status >= 500:
        return DeliveryError(f"Slack answered HTTP {status}")
    if code in TOKEN_ERRORS:
        return DeliveryError(
            f"Slack refused the bot token ({code}): fix SLACK_BOT_TOKEN or reinstall the app",
            platform_down=True,
        )
    return DeliveryError(
        f"Slack refused the message: {code or status}", permanent=code in PERMANENT_ERRORS
    )


def unreachable(error: BaseException) -> DeliveryError:
    """A connection error or a timeout: worth retrying later."""
    return DeliveryError(f"Slack did not answer: {reason(error)}")


def reason(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        data = error.response.data
        return str(data.get("error") if isinstance(data, dict) else error.response.status_code)
    return str(error) or type(error).__name__
