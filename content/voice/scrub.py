"""Mask personal data in customer text before any employee sees it.

Raw text is stored as received (it is the customer's record); every quote shown in a digest, an
alert or the console goes through ``scrub`` first.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,}\d(?!\w)")
_IP = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card number]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    # Dates (2026-11-23), amounts and versions are not phone numbers.
    return (
        "[phone]"
        if 8 <= len(digits) <= 15 and not _looks_like_date(match.group())
        else (match.group())
    )


def _looks_like_date(text: str) -> bool:
    return bool(re.fullmatch(r"\s*\d{1,4}[-./]\d{1,2}[-./]\d{1,4}\s*", text))


def scrub(text: str) -> str:
    """The text with e-mail addresses, card numbers, IBANs, social security and phone numbers
    and IP addresses masked."""
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub("[account]", text)
    text = _SSN.sub("[id number]", text)
    text = _CARD.sub(_card, text)
    text = _IP.sub("[address]", text)
    return _PHONE.sub(_phone, text)
