"""An anonymous author is visible to no one: not in chat, exports, rollups or logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AUTHOR_TRACES = ("priya", "Priya", "Singh")  # the demo's anonymous author, user id and name


def advocacy(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "privacy-secret",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
        "LOG_LEVEL": "DEBUG",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "-v", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_an_anonymous_idea_leaves_no_trace_of_its_author_in_logs_or_outputs(tmp_path: Path) -> None:
    logs: list[str] = []
    outputs: list[str] = []
    demo = advocacy("demo", "--you", "tester", cwd=tmp_path)
    logs.append(demo.stderr)
    # Priya files an anonymous idea; her own session is the only place her name may appear.
    filed = advocacy(
        "shell",
        "--user",
        "priya",
        cwd=tmp_path,
        stdin="/suggest --anonymous Our release notes hide breaking changes\n",
    )
    assert "filed anonymously" in filed.stdout
    logs.append(filed.stderr)
    # Her manager reads the rollup, the list, and answers; then every export is produced.
    manager = advocacy(
        "shell",
        "--user",
        "sam",
        cwd=tmp_path,
        stdin="/suggestions\n/rollup --by team\n/answer 4 planned Agreed, thanks.\n",
    )
    assert "Answer recorded: #4 is planned. The author will be told." in manager.stdout
    logs.append(manager.stderr)
    outputs.append(manager.stdout)
    for args in (
        ("suggestions", "list"),
        ("suggestions", "list", "--json"),
        *(
            ("rollup", "--since", "all", "--by", "team", "--format", f)
            for f in ("table", "csv", "json")
        ),
    ):
        result = advocacy(*args, cwd=tmp_path)
        outputs.append(result.stdout)
        logs.append(result.stderr)
    # The author is told, in her own session.
    told = advocacy("shell", "--user", "priya", cwd=tmp_path, stdin="")
    assert "Your anonymous suggestion #4 is now planned" in told.stdout
    logs.append(told.stderr)

    everything = "\n".join(logs + outputs)
    assert "DEBUG" in everything  # the logs really were at their most verbose
    assert "Our release notes hide breaking changes" in everything
    for trace in AUTHOR_TRACES:
        assert trace not in everything, f"{trace!r} leaked"
