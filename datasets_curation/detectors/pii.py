"""``pii_secret``: personal data and secrets in responses (a model trained on them learns to leak them).

Kinds: ``email``, ``phone``, ``credit_card`` (13-19 digits passing the Luhn check), ``ssn`` (US, valid area),
``aws_access_key`` (``AKIA``/``ASIA`` + 16), ``private_key`` (PEM block header), ``api_key`` (well-known
prefixes: ``sk-``, ``ghp_``, ``xox?-``, ``AIza``...). Score 1.0 when any kind is found (0.0 otherwise).
Placeholder and public role addresses (``example.com``, ``support@``), toll-free numbers (hotlines,
customer service) and the 555-01xx fictional phone range are ignored.
"""

from __future__ import annotations

import re

__all__ = ["find_pii", "luhn_ok"]

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b")
_PHONE = re.compile(r"(?<![\w.+-])(?:\+?1[\s.-]?)?\(?([2-9]\d{2})\)?[\s.-]([2-9]\d{2})[\s.-](\d{4})(?![\w-])"
                    r"|(?<![\w+])\+(?:[2-9]\d{0,2})[\s.-]?\d{1,4}(?:[\s.-]?\d{2,4}){2,4}(?![\w-])")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)(\d{3})-(?!00)(\d{2})-(?!0000)(\d{4})(?![\d-])")
_AWS = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_API_KEY = re.compile(
    r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|sk_live_[0-9A-Za-z]{20,}|rk_live_[0-9A-Za-z]{20,}"
    r"|glpat-[0-9A-Za-z_-]{20,}|hf_[A-Za-z]{30,})\b")
_PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net", "domain.com", "email.com", "test.com")
_ROLE_ACCOUNTS = {"support", "help", "info", "contact", "customerservice", "customer-service", "customercare",
                  "service", "sales", "press", "media", "hello", "feedback", "enquiries", "inquiries", "webmaster",
                  "privacy", "abuse", "security", "noreply", "no-reply", "user", "name", "you", "someone"}
"""Public role addresses and placeholders: not personal data."""
_TOLL_FREE = {"800", "833", "844", "855", "866", "877", "888"}
"""North-American toll-free area codes: published business and hotline numbers."""


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a digit string."""
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _cards(text: str) -> bool:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
            return True
    return False


def _emails(text: str) -> bool:
    for m in _EMAIL.finditer(text):
        addr = m.group(0).lower()
        if not addr.endswith(_PLACEHOLDER_DOMAINS) and addr.split("@")[0] not in _ROLE_ACCOUNTS:
            return True
    return False


def _phones(text: str) -> bool:
    for m in _PHONE.finditer(text):
        if m.group(1) in _TOLL_FREE or (m.group(2) == "555" and m.group(3) and m.group(3).startswith("01")):
            continue  # toll-free business / hotline numbers, the fictional 555-01xx range
        return True
    return False


_DIGITS = str.maketrans("", "", "0123456789")


def find_pii(text: str) -> list[str]:
    """Sorted kinds of PII / secrets found in ``text``."""
    if not text:
        return []
    kinds = []
    if "@" in text and _emails(text):
        kinds.append("email")
    digits = len(text) - len(text.translate(_DIGITS))
    if digits >= 7 and _phones(text):
        kinds.append("phone")
    if digits >= 13 and _cards(text):
        kinds.append("credit_card")
    if digits >= 9 and _SSN.search(text):
        kinds.append("ssn")
    if _AWS.search(text):
        kinds.append("aws_access_key")
    if "PRIVATE KEY" in text and _PRIVATE_KEY.search(text):
        kinds.append("private_key")
    if _API_KEY.search(text):
        kinds.append("api_key")
    return sorted(kinds)
