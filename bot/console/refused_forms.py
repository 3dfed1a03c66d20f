"""A form the server refused comes back as it was sent: what was typed, and why it was refused,
beside the field it is about (or at the top of the form), instead of a redirect that empties it.

Every console form is written with the macros in ``templates/forms.html``, which ask the page's
``RefusedForm`` for each field's value and error. A form names itself with a hidden ``form``
input; a page's one GET form (a period, a preview address) is matched by its method.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import DomainError

# Never typed by the person, never shown back.
NOT_KEPT = frozenset({"csrf", "form"})


@dataclass
class RefusedForm:
    form: str | None  # the refused form's id; None for a page's GET form
    values: dict[str, list[str]]
    message: str
    field: str | None = None
    shown: bool = False  # set as the page renders the message

    @classmethod
    def of(cls, form_id: str | None, sent: Mapping[str, object], error: DomainError) -> RefusedForm:
        """The refusal of the form ``form_id`` that sent ``sent`` (a multidict of its values)."""
        values: dict[str, list[str]] = {}
        for name, value in sent.items():  # a multidict's items() repeats a repeated name
            if name not in NOT_KEPT and isinstance(value, str):
                values.setdefault(name, []).append(value)
        return cls(form_id, values, error.message, error.field)

    def is_for(self, form_id: str, method: str = "post") -> bool:
        return self.form == form_id if self.form is not None else method == "get"

    def value(self, form_id: str, name: str, default: str = "", method: str = "post") -> str:
        """What was typed into ``name`` when this form was refused, else ``default``."""
        if not self.is_for(form_id, method):
            return default
        return self.values.get(name, [""])[0]

    def chosen(self, form_id: str, name: str, value: str, method: str = "post") -> bool | None:
        """Whether ``value`` was chosen for ``name`` (a box, an option) in the refused form;
        None when this form was not the one refused (the page's own choice stands)."""
        if not self.is_for(form_id, method):
            return None
        return value in self.values.get(name, [])

    def error_for(self, form_id: str, name: str, method: str = "post") -> str | None:
        """The reason, if it is about the field ``name`` of this form (it is then shown there)."""
        if self.field != name or not self.is_for(form_id, method):
            return None
        self.shown = True
        return self.message

    def unplaced(self, form_id: str, method: str = "post") -> str | None:
        """The reason, if this form was refused and none of its fields has shown it."""
        if self.shown or not self.is_for(form_id, method):
            return None
        self.shown = True
        return self.message
