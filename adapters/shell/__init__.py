"""A terminal chat adapter: try the whole loop locally, with no Slack or Teams account."""

from adapters.shell.adapter import ShellAdapter, ShellAdapterFactory

__all__ = ["ShellAdapter", "ShellAdapterFactory"]
