"""Content sources and the customer-voice pipeline, in two subpackages: ``curated`` (pages,
feeds, the content digest) and ``voice`` (customer voice in, analysed, reported). ``plugin.py``
and ``cli.py`` register both with the core; ``settings.py`` reads the configuration of both;
``demo/`` loads sample data for both.

Imports the core's services and storage, never an adapter.
"""
