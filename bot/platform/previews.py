"""Answering a press before it is written: for a platform that waits for a button's answer
(a Teams invoke carries the updated card), ``EventRouter.preview_vote`` says what a Vote press
will show once the inbox's worker has written it. The press must be durably in the inbox
first; the worker then writes it as any other, and the adapter puts the real outcome in place
of its answer where the two differ (``VotePreview.counted`` against the written reply's
``duplicate`` and ``error``)."""

from bot.chat.vote_preview import VotePreview, is_vote

__all__ = ["VotePreview", "is_vote"]
