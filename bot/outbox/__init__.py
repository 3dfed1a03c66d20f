"""The durable outbox: every message the bot sends is written down first, then sent.

``queue`` writes a message to the outbox in the same transaction as the change that caused it
(and answers questions about single deliveries); ``worker`` drains it through the enabled
adapters, with renewed leases, per-conversation order, backoff and dead letters; ``admin`` is
what admins see of it: deliveries that failed for good, deliveries held for a platform that
does not send here, and re-queueing. The tables stay ``outbound_messages`` and ``deliveries``.

Nothing is re-exported here: the worker imports services that themselves enqueue, so each caller
imports the module it needs.
"""
