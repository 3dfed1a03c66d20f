"""Messy customer-voice files for tests: thousands of good rows with bad ones at known lines."""

from __future__ import annotations

import json
import random
from pathlib import Path

COMPLAINTS = [
    "Waited three hours for a reply, call me at +33 6 12 34 56 78",
    "My invoice doubled without warning, write to jo.smith@example.org",
    "Setup took two weeks, the SSO step is missing from the guide",
    "The export is broken again since Monday",
    "Great support, answered in ten minutes",
    "Pricing page is confusing, card 4111 1111 1111 1111 was charged twice",
    "Dashboard loads slowly in the afternoon",
    "Love the weekly report, it saves me an hour",
]


def messy_csv(path: Path, rows: int = 3000, *, seed: int = 7) -> dict[int, str]:
    """Write a CSV (Latin-1, with an accented name) and return {line: expected reason}."""
    rng = random.Random(seed)
    lines = ["ticket_id,created_at,score,comment,customer,segment"]
    bad: dict[int, str] = {}
    for n in range(1, rows + 1):
        line_number = len(lines) + 1
        text = rng.choice(COMPLAINTS)
        row = f'T-{n},2026-11-{1 + n % 20:02d} 10:00,{1 + n % 5},"{text}",Zoë Müller,smb'
        if n % 500 == 1:
            row, bad[line_number] = f"T-{n},2026-11-01,3,,Zoë,smb", "no text"
        elif n % 500 == 2:
            row, bad[line_number] = f'T-{n},2026-11-01,five,"{text}",Zoë,smb', "is not a number"
        elif n % 500 == 3:
            row, bad[line_number] = f'T-{n},yesterday-ish,3,"{text}",Zoë,smb', "is not a date"
        elif n % 500 == 4:
            row, bad[line_number] = f'T-{n},2026-11-01,3,"{text}",Zoë,smb,extra', "7 fields"
        elif n % 500 == 5:
            row, bad[line_number] = f'T-{n},2026-11-01,3,"{text}"', "4 fields"
        elif n % 500 == 6:
            row, bad[line_number] = (
                f'T-{n},2026-11-01,3,"{"x" * 25_000}",Zoë,smb',
                "the limit is 20,000",
            )
        lines.append(row)
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return bad


def messy_jsonl(path: Path, rows: int = 200) -> dict[int, str]:
    lines, bad = [], {}
    for n in range(1, rows + 1):
        if n % 50 == 0:
            lines.append('{"id": "J-' + str(n) + '", "comment": "broken')
            bad[n] = "not valid JSON"
        else:
            lines.append(
                json.dumps(
                    {
                        "id": f"J-{n}",
                        "date": "2026-11-20T10:00:00Z",
                        "rating": 2,
                        "comment": COMPLAINTS[n % len(COMPLAINTS)],
                    }
                )
            )
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return bad
