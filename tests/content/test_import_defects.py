"""Messy real-world files, imported through the real CLI: a stray quote rejects its own line and
the rows after it are kept (never swallowed into one field), Excel's doubled quotes are read
anywhere in a file, JSON Lines are told by their content, exit statuses say what happened, an HR
file may use semicolons, a workbook is refused with what to do, and 1/2/2024 is read the way
the file's own dates are written. UTF-16 and UTF-32 files are read; a PDF or binary data is
refused in one line."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import open_application
from bot.config import Settings
from bot.import_files import CsvRecords, LineReader, open_import_file
from bot.storage.models import Member, MemberIdentity, VoiceItem
from content.voice.file_import import parse_file

NEVER_CLOSED = (
    "an opening quote is never closed; the row is skipped and reading goes on at the next line"
)
CLI = "from bot.cli.main import cli; cli()"


def advocacy(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, pointed at the test's database."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "ADVOCACY_DATA_DIR": str(settings.data_dir),
        "ADVOCACY_SECRET_KEY": settings.secret_key,
    }
    env.pop("DATABASE_SCHEMA", None)
    env.pop("LOG_LEVEL", None)
    if settings.database_schema:
        env["DATABASE_SCHEMA"] = settings.database_schema
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def report_of(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def stored(settings: Settings, statement) -> list:  # type: ignore[no-untyped-def]
    async def query() -> list:
        async with open_application(settings) as app, app.db.transaction() as session:
            return list(await session.execute(statement))

    return asyncio.run(query())


def line_of(path: Path, start: str) -> int:
    """The number of the file's line that starts with ``start``: expected line numbers are
    read from the file itself, not counted by hand."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return next(number for number, line in enumerate(lines, 1) if line.startswith(start))


# ----- 1. a quote never closed ---------------------------------------------------------------


def test_an_unclosed_quote_in_a_voice_file_rejects_its_line_and_the_rows_after_it_are_kept(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        "id,created_at,rating,comment\n"
        "n1,2024-01-01,4,good one\n"
        'n2,2024-01-02,2,"Excel cell\nover two lines, with ""quotes"""\n'
        "n3,2024-01-03,5,fine\n"
        'n4,2024-01-04,1,"unterminated quote here\n'
        "n5,2024-01-05,3,after unterminated\n"
        "n6,2024-01-06,3,last row\n",
        encoding="utf-8",
    )
    result = advocacy(settings, tmp_path, "voice", "import", str(path), "--json")
    report = report_of(result)
    assert result.returncode == 2, result.stderr
    assert report["problems"] == [{"line": line_of(path, "n4,"), "reason": NEVER_CLOSED}]
    assert (report["rows"], report["imported"], report["rejected"]) == (6, 5, 1)
    texts = dict(stored(settings, select(VoiceItem.external_id, VoiceItem.text)))
    assert texts == {
        "n1": "good one",
        "n2": 'Excel cell\nover two lines, with "quotes"',  # a real multi-line cell is kept
        "n3": "fine",
        "n5": "after unterminated",
        "n6": "last row",
    }


def test_a_stray_quote_early_in_a_big_voice_file_loses_none_of_the_rows_after_it(
    settings: Settings, tmp_path: Path
) -> None:
    """Over a MiB follows the stray quote (the reader's limit for one row): the reader reads
    past it to find the quote never closes, then goes back to the line after it."""
    path = tmp_path / "survey.csv"
    words = "the invoice page times out when I export last month's report " * 30  # ~1.9 KB
    with path.open("w", encoding="utf-8") as out:
        out.write("id,created_at,rating,comment\n")
        for n in range(1, 701):
            opening = '"' if n == 101 else ""
            out.write(f"r{n},2024-03-01,3,{opening}row {n}: {words}\n")
    assert path.stat().st_size > 1024 * 1024 + 100 * 2000
    result = advocacy(settings, tmp_path, "voice", "import", str(path), "--json")
    report = report_of(result)
    assert result.returncode == 2, result.stderr
    assert report["problems"] == [{"line": line_of(path, "r101,"), "reason": NEVER_CLOSED}]
    assert (report["rows"], report["imported"], report["rejected"]) == (700, 699, 1)
    texts = dict(stored(settings, select(VoiceItem.external_id, VoiceItem.text)))
    assert set(texts) == {f"r{n}" for n in range(1, 701)} - {"r101"}
    assert texts["r102"] == f"row 102: {words}".strip()
    assert all("\n" not in text for text in texts.values())


def test_an_unclosed_quote_in_an_hr_file_rejects_its_line_and_the_people_after_it_are_kept(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "hr.csv"
    rows = ["platform,user_id,name,team,manager,role,timezone"]
    rows.append('shell,q1,"Quote Never Closed,Support,,employee,UTC')
    rows += [f"shell,q{n},Person {n},Support,,employee,UTC" for n in range(2, 40)]
    rows.append('shell,q40,"Ann\nLee",Support,,employee,UTC')  # a name Excel wrapped: kept
    rows += [f"shell,q{n},Person {n},Support,,employee,UTC" for n in range(41, 51)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = advocacy(settings, tmp_path, "members", "import", str(path), "--json")
    report = report_of(result)
    assert result.returncode == 2, result.stderr
    assert report["rejected"] == [{"line": line_of(path, "shell,q1,"), "error": NEVER_CLOSED}]
    assert (report["created"], report["rejected_count"]) == (49, 1)
    names = dict(
        stored(
            settings,
            select(MemberIdentity.user_id, Member.display_name).join(
                Member, Member.id == MemberIdentity.member_id
            ),
        )
    )
    assert set(names) == {f"q{n}" for n in range(2, 51)}
    assert names["q2"] == "Person 2" and names["q40"] == "Ann Lee" and names["q41"] == "Person 41"


def records_of(text: str, *, limit: int = 1024 * 1024, chunk: int = 64) -> list:
    records = CsvRecords(LineReader(io.BytesIO(text.encode()), limit=limit, chunk=chunk))
    header = records.header()
    return [header, *((line, v if isinstance(v, list) else str(v)) for line, v in records)]


def test_a_quote_never_closed_on_an_over_long_line_goes_on_at_the_next_line() -> None:
    text = 'id,comment\n1,"' + "x" * 300 + "\n2,kept\n3,kept too\n"
    assert records_of(text, limit=100, chunk=16) == [
        ["id", "comment"],
        (2, NEVER_CLOSED),
        (3, ["2", "kept"]),
        (4, ["3", "kept too"]),
    ]


def test_a_quote_that_closes_leaving_the_wrong_number_of_fields_rejects_its_first_line() -> None:
    text = 'id,comment\n1,"starts\nhere",x,y\n2,ok\n'
    assert records_of(text) == [
        ["id", "comment"],
        (
            2,
            "a quote opened on this line closes on line 3, leaving 4 fields where the header "
            "has 2; the row is skipped and reading goes on at the next line",
        ),
        (3, ['here"', "x", "y"]),
        (4, ["2", "ok"]),
    ]


FIELDS = st.text(alphabet=st.sampled_from('ab ,;"\n\té'), max_size=12)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(FIELDS, min_size=3, max_size=3), min_size=1, max_size=12),
    chunk=st.integers(min_value=1, max_value=40),
    ending=st.sampled_from(["\n", "\r\n"]),
)
def test_well_formed_files_with_multi_line_cells_read_exactly_as_the_csv_module_does(
    rows: list[list[str]], chunk: int, ending: str
) -> None:
    """The quote rule never rejects what Excel writes: cells with line breaks, quotes and
    delimiters, read in chunks cut anywhere, each record with the line it starts on."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=ending)
    writer.writerow(["id", "date", "comment"])
    writer.writerows(rows)
    text = out.getvalue()
    reference = csv.reader(io.StringIO(text, newline="\n"))
    expected, start = [], 1
    for values in reference:
        expected.append((start, values))
        start = reference.line_num + 1
    assert records_of(text, chunk=chunk) == [expected[0][1], *expected[1:]]


PIECES = st.sampled_from(["a", ",", '"', '""', "\n", "\r\n", " ", "x" * 16])


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(PIECES, max_size=80),
    limit=st.integers(min_value=8, max_value=60),
    chunk=st.integers(min_value=1, max_value=20),
)
def test_a_rejected_quote_never_takes_the_lines_after_it(
    pieces: list[str], limit: int, chunk: int
) -> None:
    """Whatever the quotes (stray, doubled, over-long rows), reading ends, every record starts
    after the one before, a record kept over several lines is well-formed CSV with the header's
    number of fields (not a stray quote that swallowed the lines after it), and a row rejected
    for its quote covers its own line only: the next line starts the next record."""
    data = ("id,c,d\n" + "".join(pieces)).encode()
    records = CsvRecords(LineReader(io.BytesIO(data), limit=limit, chunk=chunk))
    assert records.header() == ["id", "c", "d"]
    found = list(records)
    starts = [line for line, _ in found]
    assert starts == sorted(set(starts))
    last_line = data.count(b"\n") + (not data.endswith(b"\n"))
    lines = data.decode().split("\n")
    for index, (line, values) in enumerate(found):
        following = found[index + 1][0] if index + 1 < len(found) else last_line + 1
        if isinstance(values, ValueError) and "reading goes on at the next line" in str(values):
            assert following == line + 1, found
        elif isinstance(values, list) and following > line + 1:
            text = "\n".join(lines[line - 1 : following - 1])
            assert list(csv.reader(io.StringIO(text, newline=""), strict=True)) == [values]
            assert len(values) == 3, found


# ----- 2. doubled quotes after the first 20 KB ---------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_doubled_quotes_are_read_anywhere_in_the_file(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "tickets.csv"
    rows = [delimiter.join(("id", "created_at", "rating", "comment"))]
    rows += [
        delimiter.join((f"q{n}", "2024-01-01", "3", f"plain row number {n} with nothing special"))
        for n in range(1, 501)
    ]
    rows.append(
        delimiter.join(("q501", "2024-01-02", "1", '"He said ""we will cancel"", then hung up"'))
    )
    rows.append(delimiter.join(("q502", "2024-01-02", "1", '"The ""premium"" plan"')))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    parsed = parse_file(path, source="helpdesk")
    assert parsed.problems == [] and len(parsed.records) == 502
    texts = {record.external_id: record.text for record in parsed.records}
    assert texts["q501"] == 'He said "we will cancel", then hung up'
    assert texts["q502"] == 'The "premium" plan'


# ----- 3. JSON Lines told by their content -------------------------------------------------------


def test_json_lines_in_a_file_named_json_are_all_read(tmp_path: Path) -> None:
    path = tmp_path / "reviews.json"
    path.write_text(
        "".join(json.dumps({"id": n, "comment": f"review {n}"}) + "\n" for n in range(1, 1001)),
        encoding="utf-8",
    )
    parsed = parse_file(path, source="appstore")
    assert parsed.problems == [] and parsed.unit == "line"
    assert [r.external_id for r in parsed.records] == [str(n) for n in range(1, 1001)]


def test_a_json_list_in_a_file_named_jsonl_is_read_as_a_list(tmp_path: Path) -> None:
    items = [{"id": n, "comment": f"review {n}"} for n in range(1, 51)]
    flat, pretty = tmp_path / "flat.jsonl", tmp_path / "pretty.jsonl"
    flat.write_text(json.dumps(items), encoding="utf-8")
    pretty.write_text(json.dumps({"items": items}, indent=2), encoding="utf-8")
    for path in (flat, pretty):
        parsed = parse_file(path, source="appstore")
        assert parsed.problems == [] and parsed.unit == "item", path.name
        assert len(parsed.records) == 50


def test_json_lines_with_long_first_lines_are_told_too(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    long = "x" * 50_000  # longer than the first bytes read to tell what a file holds
    path.write_text(
        "".join(json.dumps({"id": n, "raw": long, "comment": f"{n}"}) + "\n" for n in range(3)),
        encoding="utf-8",
    )
    parsed = parse_file(path, source="appstore")
    assert parsed.problems == [] and len(parsed.records) == 3


# ----- 4. exit statuses ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["voice", "members"])
def test_a_missing_file_is_a_one_line_error_and_nothing_imported(
    sqlite_settings: Settings, tmp_path: Path, command: str
) -> None:
    missing = tmp_path / "nowhere.csv"
    result = advocacy(sqlite_settings, tmp_path, command, "import", str(missing))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: Cannot read {missing}: No such file or directory."


def test_an_unknown_preset_imports_nothing_and_exits_1(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text("id,comment\n1,slow\n", encoding="utf-8")
    result = advocacy(sqlite_settings, tmp_path, "voice", "import", str(path), "--preset", "zen")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: Unknown preset 'zen'; presets: tickets, appstore, nps."
    )


@pytest.mark.parametrize(
    ("command", "header"),
    [("voice", "id,created_at,rating,comment"), ("members", "platform,user_id,name")],
)
def test_a_file_with_a_header_and_no_rows_says_so_and_exits_1(
    sqlite_settings: Settings, tmp_path: Path, command: str, header: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(header + "\n\n", encoding="utf-8")
    result = advocacy(sqlite_settings, tmp_path, command, "import", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{path} has a header but no rows: nothing was imported." in result.stderr


# ----- 5. an HR file separated by semicolons or tabs -------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_an_hr_file_separated_by_semicolons_tabs_or_bars_is_read(
    sqlite_settings: Settings, tmp_path: Path, delimiter: str
) -> None:
    path = tmp_path / "hr.csv"
    lines = [
        ("platform", "user_id", "name", "team", "manager", "role", "timezone"),
        ("shell", "fr1", "François, Dupont", "Support", "", "manager", "Europe/Paris"),
        ("shell", "fr2", "Zoé", "Support", "fr1", "employee", "Europe/Paris"),
    ]
    # With a BOM and CRLF, as Excel saves "CSV (semicolon)" in a French locale.
    text = "\ufeff" + "\r\n".join(delimiter.join(line) for line in lines) + "\r\n"
    path.write_text(text, encoding="utf-8", newline="")
    result = advocacy(sqlite_settings, tmp_path, "members", "import", str(path), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report_of(result)["created"] == 2
    people = stored(
        sqlite_settings, select(Member.display_name, Member.manager_id).order_by(Member.id)
    )
    assert [name for name, _ in people] == ["François, Dupont", "Zoé"]
    assert people[1][1] is not None


# ----- 6. a spreadsheet workbook --------------------------------------------------------------


def write_xlsx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as workbook:
        workbook.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        workbook.writestr("xl/workbook.xml", "<workbook/>")


@pytest.mark.parametrize("command", ["voice", "members"])
@pytest.mark.parametrize("kind", ["xlsx", "xls"])
def test_an_excel_workbook_is_refused_with_what_to_do(
    sqlite_settings: Settings, tmp_path: Path, command: str, kind: str
) -> None:
    path = tmp_path / f"export.{kind}"
    if kind == "xlsx":
        write_xlsx(path)
    else:  # the OLE2 compound file Excel 97-2003 writes
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    result = advocacy(sqlite_settings, tmp_path, command, "import", str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: This is an Excel workbook (.{kind}), not a CSV file: save it as CSV "
        "(File > Save As > CSV UTF-8) and import that."
    )


# ----- 7. dates such as 1/2/2024 ----------------------------------------------------------------


def dates_of(tmp_path: Path, name: str, content: str) -> tuple[dict, str, list]:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    parsed = parse_file(path, source="survey")
    received = {r.external_id: r.received_at for r in parsed.records}
    problems = [(p.line, p.reason) for p in parsed.problems]
    return received, parsed.dates, problems


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_us_dates_are_read_month_first_when_the_file_says_so(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "us.csv"
    path.write_text(
        "id,date,rating,comment\n"
        "u1,1/2/2024,4,Jan 2 (before any date that tells the order)\n"
        "u2,12/31/2024 14:05,2,with a time\n"
        "u3,3/4/2024 2:05 PM,3,with an afternoon time\n"
        "u4,2024-02-03,3,ISO is never in doubt\n"
        "u5,13/01/2024,3,day first: not this file's order\n",
        encoding="utf-8",
    )
    result = advocacy(sqlite_settings, tmp_path, "voice", "import", str(path), "--json")
    report = report_of(result)
    assert result.returncode == 2, result.stderr
    assert report["dates"] == "dates read as month/day/year, as in 12/31/2024 14:05 on line 3"
    assert report["problems"] == [
        {
            "line": 6,
            "reason": "'13/01/2024' is not a date in month/day/year order, the order this "
            "file's dates are read in (as in 12/31/2024 14:05 on line 3)",
        }
    ]
    received = dict(stored(sqlite_settings, select(VoiceItem.external_id, VoiceItem.received_at)))
    assert {key: value.replace(tzinfo=None) for key, value in received.items()} == {
        "u1": datetime(2024, 1, 2),
        "u2": datetime(2024, 12, 31, 14, 5),
        "u3": datetime(2024, 3, 4, 14, 5),
        "u4": datetime(2024, 2, 3),
    }
    plain = advocacy(sqlite_settings, tmp_path, "voice", "import", str(path), "--dry-run")
    assert "(dates read as month/day/year, as in 12/31/2024 14:05 on line 3)" in plain.stderr


def test_european_dates_are_read_day_first_when_the_file_says_so(tmp_path: Path) -> None:
    received, dates, problems = dates_of(
        tmp_path,
        "eu.jsonl",
        '{"id": "e1", "date": "1/2/2024", "comment": "a"}\n'
        '{"id": "e2", "date": "13/01/2024 09:30", "comment": "b"}\n',
    )
    assert problems == []
    assert received == {"e1": at(2024, 2, 1), "e2": at(2024, 1, 13, 9, 30)}
    assert dates == "dates read as day/month/year, as in 13/01/2024 09:30 on line 2"


def test_a_file_whose_dates_never_tell_is_read_day_first_and_says_so(tmp_path: Path) -> None:
    received, dates, _ = dates_of(
        tmp_path, "doubt.csv", "id,date,comment\nd1,1/2/2024,a\nd2,5/5/2024,b\n"
    )
    assert received == {"d1": at(2024, 2, 1), "d2": at(2024, 5, 5)}
    assert dates == (
        "dates read as day/month/year: no date in the file tells the order "
        "(1/2/2024 was read as 1 February 2024)"
    )


def test_the_report_is_silent_about_dates_when_none_could_be_read_two_ways(
    tmp_path: Path,
) -> None:
    received, dates, _ = dates_of(
        tmp_path, "iso.csv", "id,date,comment\ni1,2024-01-02,a\ni2,12/31/2024,b\n"
    )
    assert received == {"i1": at(2024, 1, 2), "i2": at(2024, 12, 31)}
    assert dates == ""


# ----- 8. encodings and files that are not text --------------------------------------------------

VOICE_TEXT = "id\tdate\tcomment\nv1\t2026-11-03\tZoë waited three hours\nv2\t2026-11-04\tFast\n"
HR_TEXT = (
    "platform\tuser_id\tname\tteam\tmanager\trole\ttimezone\n"
    "slack\tU1\tZoë Müller\tSupport\t\temployee\tEurope/Paris\n"
)


def encoded(text: str, encoding: str) -> bytes:
    """``text`` as Excel and other tools write it: 'utf-16' and 'utf-32' with their byte-order
    mark (little-endian), 'utf-16-be+bom' big-endian with one, 'utf-16-le' without."""
    if encoding == "utf-16-be+bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


@pytest.mark.parametrize(
    ("command", "encoding", "note"),
    [
        ("voice", "utf-16", "UTF-16-LE"),  # Excel's "Unicode Text"
        ("voice", "utf-16-be+bom", "UTF-16-BE"),
        ("voice", "utf-32", "UTF-32-LE"),
        ("voice", "utf-16-le", "UTF-16-LE"),  # no byte-order mark: told by its zero bytes
        ("members", "utf-16", "UTF-16-LE"),
        ("members", "utf-32", "UTF-32-LE"),
    ],
)
def test_unicode_text_files_are_read_whatever_their_encoding(
    sqlite_settings: Settings, tmp_path: Path, command: str, encoding: str, note: str
) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes(encoded(VOICE_TEXT if command == "voice" else HR_TEXT, encoding))
    result = advocacy(sqlite_settings, tmp_path, command, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert f"(read as {note})" in result.stderr
    if command == "voice":
        texts = stored(sqlite_settings, select(VoiceItem.text).order_by(VoiceItem.external_id))
        assert [text for (text,) in texts] == ["Zoë waited three hours", "Fast"]
    else:
        names = stored(sqlite_settings, select(Member.display_name))
        assert names == [("Zoë Müller",)]


def test_a_quote_never_closed_in_a_utf16_file_goes_on_at_the_next_line(tmp_path: Path) -> None:
    """Reading past a stray quote seeks back in the file: in the transcoded UTF-8 too."""
    path = tmp_path / "export.txt"
    path.write_bytes(encoded('id,comment\n1,"' + "é" * 300 + "\n2,kept\n3,kept too\n", "utf-16"))
    with open_import_file(path) as stream:
        records = CsvRecords(LineReader(stream, limit=100, chunk=16))
        header = records.header()
        found = [(line, v if isinstance(v, list) else str(v)) for line, v in records]
    assert [header, *found] == [
        ["id", "comment"],
        (2, NEVER_CLOSED),
        (3, ["2", "kept"]),
        (4, ["3", "kept too"]),
    ]


NOT_TEXT = {
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "a PDF document"),
    "gz": (b"\x1f\x8b\x08\x00" + bytes(range(256)), "a gzip archive"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
    "bin": (bytes(range(256)) * 8, "binary data"),
}


@pytest.mark.parametrize(
    ("command", "kind"),
    [("voice", kind) for kind in NOT_TEXT] + [("members", "pdf"), ("members", "bin")],
)
def test_a_file_that_is_not_text_is_refused_in_one_line_with_what_to_export(
    sqlite_settings: Settings, tmp_path: Path, command: str, kind: str
) -> None:
    data, what = NOT_TEXT[kind]
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    result = advocacy(sqlite_settings, tmp_path, command, "import", str(path))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: This ") and what in line
    assert "export" in line or "unpack" in line
    assert stored(sqlite_settings, select(VoiceItem.id)) == []
    assert stored(sqlite_settings, select(Member.id)) == []


def test_a_stray_control_byte_in_one_row_is_that_row_s_problem_not_a_binary_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "voice.csv"
    path.write_bytes(b"id,comment\n1,Refund me\x00 now\n2,Fine\n")
    parsed = parse_file(path, source="helpdesk")
    assert [r.external_id for r in parsed.records] == ["2"]
    assert [p.line for p in parsed.problems] == [2]
