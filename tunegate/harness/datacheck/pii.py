"""Personal data in the examples, each with ``path:line``, the turn it is in, and a masked value.

- e-mail addresses: a permissive pattern, then ``email-validator`` (syntax only, offline);
- phone numbers: ``phonenumbers``' matcher (numbers valid for their region: international
  ``+CC`` numbers anywhere, national ones for ``region``);
- card numbers: 13-19 digits (spaces or dashes allowed) with an issuer prefix (2-6) and a valid
  Luhn checksum (``python-stdnum``);
- IBANs: country code, check digits and 11-30 characters with a valid mod-97 checksum and the
  country's length (``python-stdnum``).

Person names are not detected: that needs a named-entity model (Presidio's uses a spaCy
model that cannot be installed offline here), and a list of first names flags ordinary words.
Values are masked in findings, so the report does not copy the data it warns about.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tunegate.harness.datacheck.findings import Finding, error, warning
from tunegate.harness.datacheck.schema import Record

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Not inside a longer number: no digit or dash around it, and not the digits of a decimal
# (0.6394267984578837 passes Luhn by chance one time in ten; it is a number, not a card).
_CARD = re.compile(r"(?<![\d\-])(?<!\d[.,])(?:\d[ \-]?){12,18}\d(?![\d\-])(?![.,]\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}")
KINDS = ("email", "phone", "card", "iban")
LABELS = {"email": "e-mail address", "phone": "phone number", "card": "card number", "iban": "IBAN"}
SEVERITY = {"email": "warning", "phone": "warning", "card": "error", "iban": "error"}
"""Checksummed financial ids are errors (high precision, high harm); e-mails and phones may be a
company's published contact details, so they are warnings to review."""


@dataclass(frozen=True)
class Match:
    kind: str
    start: int
    end: int
    masked: str


def _mask_digits(digits: str, keep: int = 4) -> str:
    return "*" * (len(digits) - keep) + digits[-keep:]


def find_emails(text: str) -> Iterator[Match]:
    from email_validator import EmailNotValidError, validate_email

    for m in _EMAIL.finditer(text):
        try:
            validate_email(m.group(), check_deliverability=False)
        except EmailNotValidError:
            continue
        local, _, domain = m.group().partition("@")
        yield Match("email", m.start(), m.end(), f"{local[:1]}***@{domain}")


def find_cards(text: str) -> Iterator[Match]:
    from stdnum import luhn

    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits):
            yield Match("card", m.start(), m.end(), _mask_digits(digits))


def find_ibans(text: str) -> Iterator[Match]:
    from stdnum import iban

    for m in _IBAN.finditer(text):
        raw = m.group()
        compact = raw.replace(" ", "")
        for n in range(len(compact), 14, -1):  # the pattern may run into a following word
            if iban.is_valid(compact[:n]):
                end = m.start()
                taken = 0
                while taken < n:  # map n compact characters back to the raw span
                    taken += raw[end - m.start()] != " "
                    end += 1
                yield Match("iban", m.start(), end, compact[:2] + _mask_digits(compact[2:n]))
                break


def find_phones(text: str, region: str | None) -> Iterator[Match]:
    import phonenumbers

    for m in phonenumbers.PhoneNumberMatcher(text, region or "ZZ"):
        digits = re.sub(r"\D", "", m.raw_string)
        yield Match("phone", m.start, m.end, _mask_digits(digits, 3))


def find_pii(text: str, region: str | None = "US") -> list[Match]:
    """Every match in ``text``; a phone number inside a card number or IBAN is not repeated."""
    strong = [*find_cards(text), *find_ibans(text)]
    found = [*find_emails(text), *strong]
    for p in find_phones(text, region):
        if not any(s.start <= p.start < s.end or p.start <= s.start < p.end for s in strong):
            found.append(p)
    return sorted(found, key=lambda m: m.start)


def check_pii(records: Sequence[Record], region: str | None = "US") -> list[Finding]:
    out: list[Finding] = []
    for r in records:
        for k, msg in enumerate(r.messages):
            for m in find_pii(msg.content, region):
                make = error if SEVERITY[m.kind] == "error" else warning
                out.append(
                    make(
                        "pii",
                        m.kind,
                        f"{r.location}: {LABELS[m.kind]} {m.masked} in the {msg.role} turn (messages[{k}]); "
                        "anonymise it (a model can repeat what it trained on)",
                        r.location,
                        kind=m.kind,
                        role=msg.role,
                        message=k,
                        masked=m.masked,
                    )
                )
    return out
