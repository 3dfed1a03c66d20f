"""The core stays platform-neutral: bot/ and content/ never import an adapter or a chat SDK."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "adapters")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_and_content_sources_import_no_adapter_or_platform_sdk() -> None:
    offenders = []
    files = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "content").rglob("*.py")]
    assert len(files) > 20
    for path in files:
        for name in imported_modules(path):
            if name.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_importing_every_core_module_loads_no_adapter_or_platform_sdk() -> None:
    script = f"""
import importlib, pkgutil, sys
import bot, content
for package in (bot, content):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        # bot.cli.main discovers plugins through entry points at run time, by design.
        if ".migrations" in info.name or info.name.endswith(("__main__", "bot.cli.main")):
            continue
        importlib.import_module(info.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})
print(",".join(loaded))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_the_forbidden_import_check_catches_an_adapter_import(tmp_path: Path) -> None:
    sample = tmp_path / "leak.py"
    sample.write_text("from adapters.shell import ShellAdapter\nimport slack_bolt\n")
    assert {"adapters.shell", "slack_bolt"} <= imported_modules(sample)
