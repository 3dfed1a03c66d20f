"""Commands content/ adds to ``advocacy`` (through the ``advocacy.cli`` entry point)."""

from __future__ import annotations

import click

from content.demo.command import demo_command


def register(root: click.Group) -> None:
    root.add_command(demo_command)
