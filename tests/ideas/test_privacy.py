"""An anonymous author is visible to no one: every output the bot has (chat cards, the CLI in
every format, logs at DEBUG, metrics, exports, reports and their chart, error messages) is
searched for her name and user id and shows neither; in the database read as plain text, nothing
ties her (by name, user id or member id) to the idea."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

AUTHOR_TRACES = ("priya", "Priya", "Singh")  # the demo's anonymous author: user id and name
IDEA = "Our release notes hide breaking changes"
# Tables that are about people on purpose: the member list, and what she did in her own name.
HER_OWN_RECORDS = {"members", "member_identities"}


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "privacy-key-2f78c40e693cac279e23a08f",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
        "LOG_LEVEL": "DEBUG",
    }


def advocacy(
    *args: str, cwd: Path, stdin: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "-v", *args],
        cwd=cwd,
        env=environment(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def metrics_of_a_running_server(cwd: Path) -> tuple[str, str]:
    """GET /metrics from a real `advocacy serve`; returns (metrics, its log)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "-v", "serve", "--port", "0"],
        cwd=cwd,
        env=environment(),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    log = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        log.append(line)
        if match := re.search(r"listening on (http://127\.0\.0\.1:\d+)", line):
            break
    else:
        server.kill()
        raise AssertionError("serve did not start:\n" + "".join(log))
    time.sleep(1.5)  # the worker delivers what is queued (the notices), logging as it goes
    with urllib.request.urlopen(f"{match.group(1)}/metrics", timeout=10) as answer:
        metrics = answer.read().decode()
    server.send_signal(signal.SIGTERM)
    _, rest = server.communicate(timeout=30)
    return metrics, "".join(log) + (rest or "")


def database_as_text(db: Path) -> dict[str, str]:
    """Every table's rows as text, as someone reading the database file would see them."""
    with sqlite3.connect(db) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            table: "\n".join(repr(row) for row in connection.execute(f'SELECT * FROM "{table}"'))
            for table in tables
        }


def test_an_anonymous_idea_leaves_no_trace_of_its_author_anywhere(tmp_path: Path) -> None:
    logs: list[str] = []
    outputs: list[str] = []
    demo = advocacy("demo", "--you", "tester", cwd=tmp_path)
    logs.append(demo.stderr)
    # Priya files an anonymous idea; her own session is the only place her name may appear.
    filed = advocacy(
        "shell", "--user", "priya", cwd=tmp_path, stdin=f"/suggest --anonymous {IDEA}\n"
    )
    logs.append(filed.stderr)
    idea = int(re.search(r"Your suggestion #(\d+) is filed anonymously", filed.stdout).group(1))
    # Colleagues vote; one tries twice, one tries to answer without being a manager.
    for voter in ("hugo", "ines"):
        voted = advocacy(
            "shell",
            "--user",
            voter,
            cwd=tmp_path,
            stdin=f"/vote {idea}\n/vote {idea}\n/answer {idea} done no\n",
            ok=False,  # the refused /answer makes the script exit 1
        )
        assert voted.returncode == 1, voted.stderr
        logs.append(voted.stderr)
        outputs.append(voted.stdout)
    assert "Only managers or admins can answer suggestions" in outputs[-1]
    # Her manager reads the board, the rollups and the report, and answers.
    manager = advocacy(
        "shell",
        "--user",
        "sam",
        cwd=tmp_path,
        stdin=(
            "/suggestions\n/rollup --by team\n/rollup --by objective\n/rollup --by status\n"
            f"/report\n/answer {idea} planned Agreed, thanks.\n/merge {idea} into 999\n"
        ),
        ok=False,  # the refused /merge makes the script exit 1
    )
    assert manager.returncode == 1, manager.stderr
    assert (
        f"Answer recorded: #{idea} is planned. The author and everyone who backed it will be told."
        in manager.stdout
    )
    assert "There is no suggestion #999" in manager.stdout  # an error message, checked too
    logs.append(manager.stderr)
    outputs.append(manager.stdout)
    # Every export and report, in every format.
    exports = [
        ("suggestions", "list"),
        ("suggestions", "list", "--json"),
        *(
            ("rollup", "--since", "all", "--by", by, "--format", fmt)
            for by in ("team", "objective", "status")
            for fmt in ("table", "csv", "json")
        ),
        *(("report", "objectives", "--format", fmt) for fmt in ("table", "csv", "json")),
        ("report", "objectives", "--chart", str(tmp_path / "chart.png")),
        ("deliveries", "status"),
        ("deliveries", "failed", "--json"),
        ("digest", "runs", "--json"),
        ("members", "list", "--json"),
    ]
    for args in exports:
        result = advocacy(*args, cwd=tmp_path)
        logs.append(result.stderr)
        if args[:2] != ("members", "list"):  # the member list names everyone, on purpose
            outputs.append(result.stdout)
    chart = (tmp_path / "chart.png").read_bytes()
    assert chart.startswith(b"\x89PNG")
    metrics, server_log = metrics_of_a_running_server(tmp_path)
    outputs.append(metrics)
    logs.append(server_log)
    # The author and the voters are told, each in their own session.
    told = advocacy("shell", "--user", "priya", cwd=tmp_path, stdin="")
    assert f"Your anonymous suggestion #{idea} is now planned" in told.stdout
    logs.append(told.stderr)
    heard = advocacy("shell", "--user", "hugo", cwd=tmp_path, stdin="")
    assert f"An idea you voted for (#{idea}) is now planned" in heard.stdout
    outputs.append(heard.stdout)
    logs.append(heard.stderr)

    everything = "\n".join(logs + outputs)
    assert "DEBUG" in everything  # the logs really were at their most verbose
    assert IDEA in everything and "advocacy_deliveries_total" in everything
    for trace in AUTHOR_TRACES:
        assert trace not in everything, f"{trace!r} leaked"
        assert trace.encode() not in chart

    # The database read as plain text: only the member list knows her.
    tables = database_as_text(tmp_path / "advocacy.db")
    with sqlite3.connect(tmp_path / "advocacy.db") as connection:
        (her_id,) = connection.execute(
            "SELECT member_id FROM member_identities WHERE user_id = 'priya'"
        ).fetchone()
        row = connection.execute(
            "SELECT author_id, sealed_author, contributor_tag FROM suggestions WHERE id = ?",
            (idea,),
        ).fetchone()
        notices = connection.execute(
            "SELECT recipient, member_id, platform_ref FROM deliveries WHERE sealed_recipient "
            "IS NOT NULL"
        ).fetchall()
    assert row[0] is None and row[1] and row[2]  # no author id; a sealed reference and a tag
    assert str(her_id) not in (row[1], row[2])
    assert notices and all(n == ("", None, None) for n in notices)
    # She appears where she acts in her own name (her digests, her votes); no row that names her
    # is about the idea.
    about_the_idea = (IDEA, f"suggestion:{idea}", f"#{idea}")
    for table, text in tables.items():
        if table in HER_OWN_RECORDS:
            continue
        for line in text.splitlines():
            if any(trace in line for trace in AUTHOR_TRACES):
                assert not any(mark in line for mark in about_the_idea), f"{table}: {line}"
