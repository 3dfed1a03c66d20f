"""The Teams app package validates against Microsoft's own schemas: the manifest against
MicrosoftTeams.schema.json of its manifestVersion, each language file against
MicrosoftTeams.Localization.schema.json. The schemas come from Microsoft's npm package
``@microsoft/app-manifest`` (pinned beside the playground in tests/playground/package.json and
installed with it by ``npm ci``), so the check follows what Microsoft publishes, not our
reading of it."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import jsonschema
import pytest

from adapters.teams.package import build_package
from tests.playground_client import HERE, install, tools_missing

MISSING = tools_missing()
pytestmark = pytest.mark.skipif(
    MISSING is not None, reason=f"the schemas come from npm: {MISSING} not found"
)
SCHEMAS = HERE / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"


def validator(version: str, name: str) -> jsonschema.Draft4Validator:
    path = SCHEMAS / f"v{version}" / name
    assert path.is_file(), f"{path} not installed"
    return jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8")))


def problems(check: jsonschema.Draft4Validator, document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in check.iter_errors(document)]


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    install()
    archive = zipfile.ZipFile(
        io.BytesIO(
            build_package(
                "00000000-0000-0000-0000-0000000000a1",
                "https://advocacy.example.com",
                name="Advocacy at Example Corp",
            )
        )
    )
    return {name: archive.read(name) for name in archive.namelist()}


def test_the_manifest_follows_microsofts_schema(package: dict[str, Any]) -> None:
    manifest = json.loads(package["manifest.json"])
    check = validator(manifest["manifestVersion"], "MicrosoftTeams.schema.json")
    assert problems(check, manifest) == []
    # What this package must carry, beside being valid: both message actions, the console tab.
    titles = [c["title"] for c in manifest["composeExtensions"][0]["commands"]]
    assert titles == ["Turn into suggestion", "Log as customer voice"]
    assert manifest["staticTabs"][0]["contentUrl"].startswith("https://advocacy.example.com/")


def test_each_language_file_follows_microsofts_schema(package: dict[str, Any]) -> None:
    manifest = json.loads(package["manifest.json"])
    check = validator(manifest["manifestVersion"], "MicrosoftTeams.Localization.schema.json")
    languages = manifest["localizationInfo"]["additionalLanguages"]
    assert {entry["languageTag"] for entry in languages} == {"de", "fr", "es", "pt-br", "ja"}
    for entry in languages:
        strings = json.loads(package[entry["file"]])
        assert problems(check, strings) == [], entry["file"]


def test_a_broken_manifest_is_caught(package: dict[str, Any]) -> None:
    """The check can fail: a command title over Teams' 32 characters is refused."""
    manifest = json.loads(package["manifest.json"])
    manifest["composeExtensions"][0]["commands"][0]["title"] = "T" * 33
    check = validator(manifest["manifestVersion"], "MicrosoftTeams.schema.json")
    assert problems(check, manifest)
