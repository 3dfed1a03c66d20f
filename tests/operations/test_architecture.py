"""The core stays platform-neutral: bot/ and content/ never import an adapter or a chat SDK."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
                offenders.append(f"{path.name} imports {name}")
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


# The core modules an adapter may import: the contract package and the neutral shapes.
ADAPTER_MAY_IMPORT = ("bot.platform", "bot.messages", "bot.events", "bot.i18n")
ADAPTERS = sorted(p.name for p in (ROOT / "adapters").iterdir() if (p / "__init__.py").exists())


def core_imports_outside_the_contract(package: Path) -> list[str]:
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] != "bot" and name != "bot":
                continue
            if not any(
                name == allowed or name.startswith(allowed + ".") for allowed in ADAPTER_MAY_IMPORT
            ):
                offenders.append(f"{path.name} imports {name}")
    return offenders


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_adapter_imports_the_core_only_through_the_platform_contract(adapter: str) -> None:
    assert core_imports_outside_the_contract(ROOT / "adapters" / adapter) == []


def test_the_contract_check_catches_a_reach_into_the_core(tmp_path: Path) -> None:
    package = tmp_path / "adapters" / "leaky"
    package.mkdir(parents=True)
    (package / "a.py").write_text(
        "from bot.platform import AdapterContext\nfrom bot.messages import Message\n"
        "from bot.services.members import resolve_actor\nimport bot.storage.database\n"
    )
    offenders = core_imports_outside_the_contract(package)
    assert len(offenders) == 2
    assert any("bot.services.members" in o for o in offenders)
    assert {"google_chat", "shell", "slack", "teams"} <= set(ADAPTERS)
