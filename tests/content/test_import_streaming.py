"""Imports are read as streams: memory stays flat whatever the file's size, an over-long row is
a rejected row with its line number, and a value the database cannot store (a NUL byte, a lone
surrogate) rejects its row alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import open_application
from bot.cli.main import cli
from bot.config import Settings
from bot.storage.models import Member, MemberIdentity, VoiceImport, VoiceItem

MIB = 1024 * 1024
GOOD = "The export is broken again since Monday"


@pytest.fixture
def engine_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The real CLI pointed at the test's database (SQLite, and PostgreSQL when configured)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ADVOCACY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ADVOCACY_SECRET_KEY", settings.secret_key)
    if settings.database_schema:
        monkeypatch.setenv("DATABASE_SCHEMA", settings.database_schema)
    else:
        monkeypatch.delenv("DATABASE_SCHEMA", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    yield settings


def invoke(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def stored(settings: Settings, statement) -> list:  # type: ignore[no-untyped-def]
    async def query() -> list:
        async with open_application(settings) as app, app.db.transaction() as session:
            return list(await session.execute(statement))

    return asyncio.run(query())


def voice_ids(settings: Settings) -> set[str]:
    return {row[0] for row in stored(settings, select(VoiceItem.external_id))}


# ----- files with one bad row in the middle ------------------------------------------------------


def write_voice(path: Path, kind: str, rows: list[dict[str, str]]) -> None:
    """``rows`` as CSV, JSON Lines or a JSON list, one row per line (after the CSV header)."""
    if kind == "csv":
        lines = ["id,comment"] + [f"{row['id']},{row['comment']}" for row in rows]
    elif kind == "jsonl":
        lines = [json.dumps(row) for row in rows]
    else:
        lines = ['{"items": ['] + [json.dumps(row) + "," for row in rows[:-1]]
        lines += [json.dumps(rows[-1]), "]}"]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("kind", ["csv", "jsonl", "json"])
def test_a_voice_row_with_a_nul_byte_is_rejected_by_line_and_the_others_kept(
    engine_cli: Settings, tmp_path: Path, kind: str
) -> None:
    rows = [{"id": f"V{n}", "comment": f"{GOOD} ({n})"} for n in range(1, 8)]
    rows[3]["comment"] = "Refund me\x00 now"
    if kind != "csv":  # JSON can also carry a lone surrogate, which no database stores
        rows[5]["comment"] = "Broken \ud800 text"
    path = tmp_path / f"voice.{kind}"
    write_voice(path, kind, rows)

    code, report = invoke("voice", "import", str(path), "--source", "helpdesk")

    assert code == 2  # some rows rejected, the rest kept
    unit = "item" if kind == "json" else "line"
    offset = 1 if kind == "csv" else 0  # the CSV header is line 1
    bad = {4 + offset: "NUL byte"} | ({} if kind == "csv" else {6: "lone surrogate"})
    reasons = {problem[unit]: problem["reason"] for problem in report["problems"]}
    assert set(reasons) == set(bad)
    for line, expected in bad.items():
        assert expected in reasons[line]
    kept = {f"V{n}" for n in range(1, 8)} - ({"V4"} if kind == "csv" else {"V4", "V6"})
    assert voice_ids(engine_cli) == kept
    assert report["imported"] == len(kept) and report["rejected"] == len(bad)
    [(rejected, problems)] = stored(engine_cli, select(VoiceImport.rejected, VoiceImport.problems))
    assert rejected == len(bad) and {p["line"] for p in problems} == set(bad)


def test_a_dry_run_with_a_nul_row_reports_it_and_writes_nothing(
    engine_cli: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "voice.jsonl"
    write_voice(path, "jsonl", [{"id": "A", "comment": GOOD}, {"id": "B", "comment": "x\x00"}])
    code, report = invoke("voice", "import", str(path), "--dry-run")
    assert code == 2 and report["imported"] == 1
    assert report["problems"] == [{"line": 2, "reason": "the comment field contains a NUL byte"}]
    assert voice_ids(engine_cli) == set()
    assert stored(engine_cli, select(VoiceImport.id)) == []


def test_an_hr_row_with_a_nul_byte_is_rejected_by_line_across_batches(
    engine_cli: Settings, tmp_path: Path
) -> None:
    """5,000 people in reverse order (each manager named after the people they manage, in a
    later batch), a NUL byte in one name, and a repeated person in another batch."""
    count = 5_000
    lines = ["platform,user_id,name,team,manager,role,timezone"]
    for n in range(count - 1, -1, -1):
        manager = f"U{(n - 1) // 4}" if n else ""
        lines.append(f"slack,U{n},Person {n},Team {n % 9},{manager},employee,UTC")
    nul_line = count + 1 - 1000  # U1000's line holds a NUL byte; U4001-U4004 report to U1000
    lines[nul_line - 1] = "slack,U1000,Bad\x00Name,Team 1,U249,employee,UTC"
    lines.append("slack,U4999,Again,Team 1,,employee,UTC")  # line 5002 repeats line 2
    path = tmp_path / "hr.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, report = invoke("members", "import", str(path))

    assert code == 2
    assert report["created"] == count - 1 and report["rejected_count"] == 2
    assert [(p["line"], p["error"]) for p in report["rejected"]] == [
        (nul_line, "the name contains a NUL byte"),
        (count + 2, "U4999 already appears on line 2"),
    ]
    # The people U1000 would manage are kept without a manager, and said so.
    assert {w["line"] for w in report["warnings"]} == {count + 1 - n for n in range(4001, 4005)}
    rows = stored(
        engine_cli,
        select(MemberIdentity.user_id, Member.id, Member.manager_id, Member.display_name).join(
            Member, Member.id == MemberIdentity.member_id
        ),
    )
    by_user = {user: (member_id, manager_id, name) for user, member_id, manager_id, name in rows}
    assert len(by_user) == count - 1 and "U1000" not in by_user
    for n in (1, 4, 5, 1999, 2000, 2001, 4998, 4999):
        assert by_user[f"U{n}"][1] == by_user[f"U{(n - 1) // 4}"][0], n
    assert by_user["U0"][1] is None and by_user["U4999"][2] == "Person 4999"

    again_code, again = invoke("members", "import", str(path))
    assert again_code == 2
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, count - 1)


def test_a_voice_file_repeating_a_row_of_an_earlier_batch_stores_it_once(
    engine_cli: Settings, tmp_path: Path
) -> None:
    """Rows are stored 2,000 at a time: a repeat two batches later counts as already there."""
    rows = [{"id": f"V{n}", "comment": f"{GOOD} {n}"} for n in range(4_500)]
    rows.append({"id": "V7", "comment": "The same ticket, sent again"})
    path = tmp_path / "voice.jsonl"
    write_voice(path, "jsonl", rows)
    code, report = invoke("voice", "import", str(path))
    assert code == 0
    assert (report["imported"], report["already_there"]) == (4_500, 1)
    assert len(voice_ids(engine_cli)) == 4_500


def test_only_the_first_thousand_problems_are_kept_but_all_are_counted(
    engine_cli: Settings, tmp_path: Path
) -> None:
    rows = [{"id": f"B{n}", "comment": "\x00"} for n in range(1_500)]
    rows.append({"id": "kept", "comment": GOOD})
    path = tmp_path / "voice.jsonl"
    write_voice(path, "jsonl", rows)
    code, report = invoke("voice", "import", str(path))
    assert code == 2 and report["imported"] == 1 and report["rejected"] == 1_500
    assert [p["line"] for p in report["problems"]] == list(range(1, 1_001))
    [(rejected, problems)] = stored(engine_cli, select(VoiceImport.rejected, VoiceImport.problems))
    assert rejected == 1_500 and len(problems) == 1_000


# ----- rows over the limit -----------------------------------------------------------------------


def test_an_over_long_jsonl_line_is_a_rejected_row_and_the_rows_after_it_are_kept(
    engine_cli: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "reviews.jsonl"
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"id": "before", "comment": GOOD}) + "\n")
        out.write('{"id": "huge", "comment": "' + "x" * (3 * MIB) + '"}\n')
        for n in range(3):
            out.write(json.dumps({"id": f"after{n}", "comment": GOOD}) + "\n")
    code, report = invoke("voice", "import", str(path))
    assert code == 2
    assert report["problems"] == [
        {"line": 2, "reason": "the row is over 1 MiB, the limit for one row"}
    ]
    assert voice_ids(engine_cli) == {"before", "after0", "after1", "after2"}


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_an_over_long_csv_row_or_json_item_is_rejected_by_its_position(
    engine_cli: Settings, tmp_path: Path, kind: str
) -> None:
    rows = [{"id": f"R{n}", "comment": f"{GOOD} {n}"} for n in range(4)]
    rows[1]["comment"] = "y" * (2 * MIB)
    path = tmp_path / f"export.{kind}"
    write_voice(path, kind, rows)
    code, report = invoke("voice", "import", str(path))
    assert code == 2
    position = {"line": 3} if kind == "csv" else {"item": 2}
    assert report["problems"] == [
        {**position, "reason": "the row is over 1 MiB, the limit for one row"}
    ]
    assert voice_ids(engine_cli) == {"R0", "R2", "R3"}


def test_an_over_long_hr_line_is_a_rejected_row(engine_cli: Settings, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text(
        f"platform,user_id,name\nslack,U1,Ann\nslack,U2,{'B' * (2 * MIB)}\nslack,U3,Cid\n",
        encoding="utf-8",
    )
    code, report = invoke("members", "import", str(path))
    assert code == 2 and report["created"] == 2
    assert report["rejected"] == [
        {"line": 3, "error": "the row is over 1 MiB, the limit for one row"}
    ]


# ----- memory ------------------------------------------------------------------------------------


# The child writes its own high-water mark as it exits. The kernel's figure for a child
# (wait4's ru_maxrss) starts from the parent's size at fork, this test process's, not the CLI's.
PEAK_SCRIPT = """
import atexit, os, re

def peak():
    status = open("/proc/self/status").read()
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(re.search(r"VmHWM:\\s*(\\d+)", status).group(1))

atexit.register(peak)
from bot.cli.main import cli
cli()
"""


def peak_rss_mib(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Run the real CLI in a child process: its peak resident memory (VmHWM) and its output."""
    peak_file = cwd / "peak.txt"
    result = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, *args, "--json"],
        env={**env, "PEAK_FILE": str(peak_file)},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return int(peak_file.read_text()) / 1024, result.stdout


def write_fat_hr(path: Path, rows: int) -> None:
    """An HR export with a wide column the import does not use (as real exports have)."""
    notes = "n" * 2_000
    with path.open("w", encoding="utf-8") as out:
        out.write("platform,user_id,name,team,manager,notes\n")
        for n in range(rows):
            out.write(f"slack,U{n},Person {n},Team {n % 5},{f'U{n // 10}' if n else ''},{notes}\n")


def write_fat_voice(path: Path, rows: int) -> None:
    """Reviews whose raw payload (kept by the export, unused by the import) is 10 KB each."""
    payload = "p" * 10_000
    with path.open("w", encoding="utf-8") as out:
        for n in range(rows):
            out.write(json.dumps({"id": f"F{n}", "comment": GOOD, "raw": payload}) + "\n")


@pytest.mark.parametrize(
    ("command", "writer", "big_rows"),
    [
        (["members", "import"], write_fat_hr, 40_000),  # 80 MB
        (["voice", "import"], write_fat_voice, 8_000),  # 80 MB
    ],
    ids=["hr", "voice"],
)
def test_memory_stays_flat_whatever_the_file_size(
    tmp_path: Path, command: list[str], writer, big_rows: int
) -> None:
    """The same import of a 100-row file and an 80 MB file peak within 40 MiB of each other
    (reading the whole file, as before, costs at least its size again)."""
    peaks = []
    for rows in (100, big_rows):
        folder = tmp_path / str(rows)
        folder.mkdir()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'advocacy.db'}",
            "ADVOCACY_DATA_DIR": str(folder / "data"),
            "ADVOCACY_SECRET_KEY": "import-streaming-key-bef43323b9e4b0860fd90aab",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_SCHEMA", None)
        path = folder / ("hr.csv" if command[0] == "members" else "reviews.jsonl")
        writer(path, rows)
        peak, output = peak_rss_mib([*command, str(path)], env, folder)
        report = json.loads(output)
        assert report.get("created", report.get("imported")) == rows
        peaks.append(peak)
    small, big = peaks
    assert big - small < 40, f"peak RSS {small:.0f} MiB for 100 rows, {big:.0f} MiB for 80 MB"


# ----- the pieces --------------------------------------------------------------------------------


def test_make_record_refuses_what_the_database_cannot_store() -> None:
    """The webhook builds its records with make_record: a NUL byte or a lone surrogate in any
    field, or in the source, is a ValueError for that item alone."""
    from content.voice.file_import import make_record

    columns = {"id": "id", "text": "comment", "customer": "customer", "segment": "plan"}
    good = {"id": "1", "comment": GOOD, "customer": "Acme", "plan": "pro"}
    assert make_record(good, columns, line=1, source="hook", scale=None).text == GOOD
    for field, value in [
        ("id", "a\x00b"),
        ("comment", "bad\x00"),
        ("customer", "\ud83d"),
        ("plan", "\x00"),
    ]:
        with pytest.raises(ValueError, match=r"NUL byte|lone surrogate"):
            make_record({**good, field: value}, columns, line=1, source="hook", scale=None)
    with pytest.raises(ValueError, match="the source contains a NUL byte"):
        make_record(good, columns, line=1, source="hook\x00", scale=None)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(
        st.characters(blacklist_categories=("Cs",)) | st.sampled_from('"\\[]{},:\n'),
        max_size=20,
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=15,
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    items=st.lists(json_values, max_size=6),
    chunk=st.integers(1, 64),
    wrapped=st.sampled_from(["list", "items", "data-after-meta"]),
    indent=st.sampled_from([None, 2]),
)
def test_json_items_are_cut_out_exactly_whatever_the_chunk_boundaries(
    items: list, chunk: int, wrapped: str, indent: int | None
) -> None:
    from content.voice.json_items import JsonItems

    document: object = items
    if wrapped == "items":
        document = {"items": items}
    elif wrapped == "data-after-meta":
        document = {"meta": {"x": ["]", "}", {"y": '\\"'}]}, "data": items, "after": "]"}
    data = json.dumps(document, indent=indent, ensure_ascii=False).encode()
    found = list(JsonItems(io.BytesIO(data), chunk=chunk))
    assert [number for number, _, _ in found] == list(range(1, len(items) + 1))
    assert [json.loads(raw) for _, _, raw in found] == items


def test_json_items_over_the_limit_are_skipped_without_losing_their_neighbours() -> None:
    from content.voice.json_items import JsonItems

    long_text = "x" * 5_000
    items = [
        {"a": 1},
        {"t": long_text},  # a long string
        {"b": [1, {"c": "]" * 3_000}]},  # brackets inside a long string
        long_text,  # a long string item
        {"d": '\\"' * 2_000},  # escapes
        {"e": 5},
    ]
    data = json.dumps(items, indent=1).encode()
    for chunk in (1, 7, 4096, 1 << 20):
        found = list(JsonItems(io.BytesIO(data), chunk=chunk, limit=1_000))
        assert [(number, line) for number, line, raw in found if raw is None] == [
            (2, 5),
            (3, 8),
            (4, 16),
            (5, 17),
        ]
        assert [json.loads(raw) for _, _, raw in found if raw is not None] == [{"a": 1}, {"e": 5}]


def test_a_quoted_field_spanning_lines_past_the_limit_rejects_that_record_alone() -> None:
    from bot.import_files import CsvRecords, LineReader

    text = 'id,comment\n1,fine\n2,"starts here\n' + "and goes on\n" * 20 + '"\n3,kept\n'
    records = CsvRecords(LineReader(io.BytesIO(text.encode()), limit=100, chunk=16))
    assert records.header() == ["id", "comment"]
    found = [(line, v if isinstance(v, list) else str(v)) for line, v in records]
    assert found == [  # the field's other lines are read past, not taken for rows
        (2, ["1", "fine"]),
        (3, "the row is over 100 bytes, the limit for one row"),
        (25, ["3", "kept"]),
    ]


def test_lines_end_with_a_carriage_return_alone_in_old_mac_exports() -> None:
    from bot.import_files import LineReader

    data = b"\xef\xbb\xbfid,comment\r1,caf\xe9\r2," + b"x" * 300 + b"\r3,ok"
    reader = LineReader(io.BytesIO(data), limit=100, chunk=8)
    assert list(reader) == [b"id,comment\r", b"1,caf\xe9\r", None, b"3,ok"]
    assert reader.line == 4 and reader.bytes_read == len(data)


# ----- several batches: each row once, line numbers right, an interruption re-run --------------


def write_batches_csv(path: Path, count: int, bad: set[int]) -> dict[int, int]:
    """``count`` rows, every seventh with a quoted line break (so lines and rows part ways),
    the rows in ``bad`` with a rating that is no number; returns each bad row's first line."""
    lines = ["id,score,comment"]
    bad_lines = {}
    line = 2
    for n in range(count):
        comment = f'"{GOOD} {n},\nsecond line"' if n % 7 == 0 else f"{GOOD} {n}"
        if n in bad:
            bad_lines[n] = line
        lines.append(f"V{n},{'abc' if n in bad else 1 + n % 5},{comment}")
        line += 2 if n % 7 == 0 else 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad_lines


def test_a_file_of_several_batches_stores_each_row_once_and_reports_lines_across_them(
    engine_cli: Settings, tmp_path: Path
) -> None:
    """Stored 2,000 rows a transaction: rows either side of a batch's end are all kept once,
    and a bad row is reported with its own line, however many line breaks came before."""
    count, bad = 4_500, {1_999, 2_000, 2_001, 2_002, 4_001, 4_499}
    path = tmp_path / "voice.csv"
    bad_lines = write_batches_csv(path, count, bad)
    code, report = invoke("voice", "import", str(path))
    assert code == 2
    assert (report["rows"], report["imported"], report["rejected"]) == (count, count - 6, 6)
    assert [p["line"] for p in report["problems"]] == [bad_lines[n] for n in sorted(bad)]
    assert all(p["reason"] == "the rating 'abc' is not a number" for p in report["problems"])
    ids = [row[0] for row in stored(engine_cli, select(VoiceItem.external_id))]
    assert sorted(ids) == sorted(f"V{n}" for n in range(count) if n not in bad)


def test_an_interrupted_import_run_again_adds_each_row_once(
    engine_cli: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch was committed when the import broke off; the second run stores the
    rest and counts the first batch as already there."""
    from content.voice.pipeline import VoicePipeline

    count = 4_500
    path = tmp_path / "voice.csv"
    write_batches_csv(path, count, set())
    real_store = VoicePipeline.store
    calls = []

    async def failing_store(self, session, records, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(records))
        if len(calls) == 2:
            raise RuntimeError("the machine went down")
        return await real_store(self, session, records, **kwargs)

    monkeypatch.setattr(VoicePipeline, "store", failing_store)
    broken = CliRunner().invoke(cli, ["voice", "import", str(path), "--json"])
    assert broken.exit_code != 0
    assert len(voice_ids(engine_cli)) == 2_000
    monkeypatch.setattr(VoicePipeline, "store", real_store)

    code, report = invoke("voice", "import", str(path))
    assert code == 0
    assert (report["imported"], report["already_there"]) == (count - 2_000, 2_000)
    ids = [row[0] for row in stored(engine_cli, select(VoiceItem.external_id))]
    assert sorted(ids) == sorted(f"V{n}" for n in range(count))
