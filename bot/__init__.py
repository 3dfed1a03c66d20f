"""Platform-neutral core of the employee-advocacy bot.

Nothing in this package imports a chat platform SDK or an adapter: adapters import the core.
"""

__version__ = "0.1.0"
