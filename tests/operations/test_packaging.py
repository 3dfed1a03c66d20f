"""What ships: the Docker image's health check asks the port the server listens on, and an
installed package carries its data files (the demo, its tour, templates, the Slack manifest)."""

from __future__ import annotations

import fnmatch
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[2]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def healthcheck_command() -> str:
    [arguments] = [a for k, a in instructions(ROOT / "Dockerfile") if k == "HEALTHCHECK"]
    command = re.sub(r"^(--\S+\s+)*CMD\s+", "", arguments)
    assert not command.startswith("["), "exec form: no shell expands $PORT"
    return command


@pytest.fixture
def healthz() -> Iterator[int]:
    """A server answering 200 on /healthz (and 404 elsewhere), on a free port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(port: int | None) -> int:
    """The image's health check, run by a shell as Docker runs it (with this Python)."""
    command = healthcheck_command().replace("python ", f"{sys.executable} ", 1)
    env = {key: value for key, value in os.environ.items() if key != "PORT"}
    if port is not None:
        env["PORT"] = str(port)
    return subprocess.run(["sh", "-c", command], env=env, capture_output=True).returncode


def test_the_image_health_check_asks_the_port_the_server_listens_on(healthz: int) -> None:
    assert run_healthcheck(healthz) == 0
    with_port = dict(instructions(ROOT / "Dockerfile"))
    assert f"${{PORT:-{DEFAULT_PORT}}}" in healthcheck_command()
    assert with_port["EXPOSE"] == str(DEFAULT_PORT)


def test_the_health_check_fails_when_nothing_answers_on_that_port(healthz: int) -> None:
    # Port 1 is never the server; the default (no PORT) is the server's own default.
    assert run_healthcheck(1) != 0
    if healthz != DEFAULT_PORT and not answering(DEFAULT_PORT):
        assert run_healthcheck(None) != 0


def answering(port: int) -> bool:
    """Whether something (another bot on this machine, say) already listens on ``port``."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def package_data_patterns() -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["setuptools"]["package-data"]


def test_every_data_file_in_a_package_is_declared_package_data() -> None:
    """pip install . (and so the Docker image) carries only declared data files."""
    patterns = package_data_patterns()
    missing = []
    for top in ("bot", "adapters", "content"):
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            # A pattern may be given under any package the file is in ("migrations/x.mako").
            declared = any(
                fnmatch.fnmatch(path.relative_to(parent).as_posix(), pattern)
                for parent in path.parents
                if (parent / "__init__.py").exists()
                for pattern in patterns.get(".".join(parent.relative_to(ROOT).parts), [])
            )
            if not declared:
                missing.append(path.relative_to(ROOT).as_posix())
    assert missing == []


def test_a_built_wheel_carries_the_demo_and_its_tour(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    demo = {f"content/demo/{name.name}" for name in (ROOT / "content" / "demo").iterdir()}
    demo = {name for name in demo if not name.endswith((".pyc", "__pycache__"))}
    assert "content/demo/tour.txt" in demo and demo <= names
