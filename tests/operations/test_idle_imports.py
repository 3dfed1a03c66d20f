"""An idle `advocacy serve` does not import what only some work needs: language detection (and
numpy under it), the sentiment analyser, the feed parser, the ciphers and (without a Teams app)
botbuilder are imported on first use, so a server that never reads a customer's words, polls a
feed, seals anything or hears from a Teams emulator does not hold them in memory (issue 18: idle
memory). Checked in the real server, in a child process, when it says it is listening; first
use of each is covered by the voice, feed, sealing and Teams tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# The modules made lazy, by their top-level name.
LAZY = ("numpy", "py3langid", "vaderSentiment", "feedparser")
# Without a Teams app (MICROSOFT_APP_ID), Teams serves local emulators only and is built on its
# first request; ``bot.sealing`` makes its ciphers on first use. A configured Teams imports all of
# these at start (its JWT checks need cryptography).
WITHOUT_TEAMS_APP = ("botbuilder", "botframework", "msrest", "msal", "jwt", "cryptography")
WITHOUT_SLACK = ("slack_sdk", "slack_bolt")
SLACK = {
    # Nothing is called at start: the token is only checked on first use.
    "SLACK_BOT_TOKEN": "xoxb-idle-imports-test",
    "SLACK_SIGNING_SECRET": "idle-imports-signing-secret",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
}

# Runs `advocacy serve --port 0` in this process; when the server logs that it listens, prints
# which LAZY modules are loaded and stops the server as a service manager would (SIGTERM). The
# filter sits on the serve logger, which survives logging's reconfiguration at start.
SERVE_AND_REPORT = """
import json, logging, os, signal, sys
lazy = json.loads(sys.argv[1])

class ReportWhenListening(logging.Filter):
    def filter(self, record):
        if "listening on" in record.getMessage():
            loaded = sorted(name for name in lazy if name in sys.modules)
            print(json.dumps(loaded), flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
        return True

logging.getLogger("advocacy.serve").addFilter(ReportWhenListening())
sys.argv = ["advocacy", "serve", "--port", "0"]
from bot.cli.main import main
main()
"""


def serve_and_report(
    tmp_path: Path, extra: dict[str, str], modules: tuple[str, ...] = LAZY
) -> list[str]:
    """Which of ``modules`` the real server has imported when it says it listens."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MICROSOFT_APP_", "DATABASE_", "GOOGLE_CHAT_"))
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
            "ADVOCACY_DATA_DIR": str(tmp_path / "data"),
            "ADVOCACY_SECRET_KEY": "idle-imports-test-key-4e81c07b95d2a36f",
            "LOG_LEVEL": "INFO",
            **extra,
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT, json.dumps(modules)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert lines, f"the server never said it listens:\n{done.stderr[-3000:]}"
    return json.loads(lines[-1])


def test_an_idle_server_has_not_imported_what_only_some_work_needs(tmp_path: Path) -> None:
    """Nor, without Slack configured, Slack's SDK (every command registers Slack's commands)."""
    assert serve_and_report(tmp_path, {}, (*LAZY, *WITHOUT_TEAMS_APP, *WITHOUT_SLACK)) == []


def test_with_slack_and_no_teams_app_botbuilder_is_not_imported(tmp_path: Path) -> None:
    assert serve_and_report(tmp_path, SLACK, (*LAZY, *WITHOUT_TEAMS_APP)) == []


def test_the_same_with_slack_and_teams_configured(tmp_path: Path) -> None:
    loaded = serve_and_report(
        tmp_path,
        {
            **SLACK,
            "MICROSOFT_APP_ID": "00000000-0000-4000-8000-00000000b0e1",
            "MICROSOFT_APP_TENANT_ID": "00000000-0000-4000-8000-0000000071d1",
            "MICROSOFT_APP_PASSWORD": "idle-imports-client-secret",
            "PUBLIC_URL": "https://advocacy.example.com",
        },
    )
    assert loaded == []


def test_the_check_sees_a_module_that_is_imported_at_start(tmp_path: Path) -> None:
    """The report is not empty by construction: a module the server does import shows."""
    assert serve_and_report(tmp_path, {}, ("sqlalchemy", *LAZY)) == ["sqlalchemy"]
