"""Action and form ids shared by the composers (which put them on cards) and the chat handlers."""

FEEDBACK_USEFUL = "feedback.useful"
FEEDBACK_NOT_RELEVANT = "feedback.not_relevant"
SUGGEST_OPEN = "suggest.open"
# The customer-voice form, prefilled with ``text`` (a chat message) and its ``source_url``.
VOICE_OPEN = "voice.open"
COMMENT_OPEN = "comment.open"
SUGGESTION_VOTE = "suggestion.vote"
SUGGESTION_ANSWER = "suggestion.answer"
SUGGESTION_FOLD = "suggestion.fold"
SUGGESTIONS_BROWSE = "suggestions.browse"
ROLLUP_SHOW = "rollup.show"
DIGEST_ADD_OPEN = "digest.add_open"
CONTENT_ADD_OPEN = "content.add_open"
CONTENT_APPROVE = "content.approve"
CONTENT_REJECT = "content.reject"
CONTENT_EDIT = "content.edit"
# A decision review's answer: value {"review", "answer": helped|revisit|later, "days", "round"}.
REVIEW_ANSWER = "review.answer"
FORM_CONTENT_EDIT = "content.edit"
# A decision review's answer: value {"review", "answer": helped|revisit|later, "days", "round"}.
REVIEW_ANSWER = "review.answer"
# Opens the form carried by card number ``card`` of the message the button is on.
FORM_OPEN = "form.open"

FORM_SUGGEST = "suggest"
FORM_VOICE = "voice"
FORM_ANSWER = "answer"
FORM_COMMENT = "comment"
FORM_CONTENT_ADD = "content.add"
FORM_DIGEST_ADD = "digest.add"
