"""Content sources and the customer-voice pipeline.

Imports the core's services and storage, never an adapter.
"""
