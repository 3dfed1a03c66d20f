"""Chat platform adapters: one package per platform. They import the core; never the reverse."""
