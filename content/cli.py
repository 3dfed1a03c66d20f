"""Commands content/ adds to ``advocacy`` (through the ``advocacy.cli`` entry point)."""

from __future__ import annotations

import click

from content.curated.cli import register_content_commands
from content.demo.command import demo_command
from content.voice.cli import voice_group


def register(root: click.Group) -> None:
    root.add_command(demo_command)
    root.add_command(voice_group)
    register_content_commands(root)
