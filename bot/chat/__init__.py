"""The conversation core: turns platform-neutral events into service calls and replies."""
