"""A reaction is counted by one name however a platform or a person wrote it."""

from __future__ import annotations

import pytest

from bot.emoji_names import reaction_name


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("🎉", "tada"),
        (":tada:", "tada"),
        ("TADA", "tada"),
        ("like", "+1"),  # Teams' reaction type
        ("thumbsup", "+1"),  # Slack's alias
        ("👍🏽", "+1"),  # a skin tone is the same feeling
        ("+1::skin-tone-4", "+1"),
        ("❤️", "heart"),
        ("❤", "heart"),
        ("laugh", "joy"),
        ("custom_party_parrot", "custom_party_parrot"),  # unknown names are kept
    ],
)
def test_each_way_of_writing_a_reaction_has_one_name(written: str, stored: str) -> None:
    assert reaction_name(written) == stored
