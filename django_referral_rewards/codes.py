"""Referral code formats: generation, check characters and normalisation.

Generated codes are 8 random characters from Crockford's base32 alphabet (no ``I``,
``L``, ``O`` or ``U``, so nothing is confusable) — 40 bits, about 1.1 trillion codes —
plus one check character computed with the Luhn mod 32 algorithm, which catches every
single mistyped character and every swap of two adjacent characters. A mistyped code is
therefore refused before any database lookup.

Lookup ignores case, spaces and dashes: ``"ab12-cd34 e"`` finds ``AB12CD34E``.

The generator is pluggable (``REFERRAL_REWARDS_CODE_GENERATOR``): subclass
:class:`CodeGenerator` to produce vanity codes such as ``JUAN2025``.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Account

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Letters people type for digits in Crockford codes.
CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_LENGTH = 8
#: What may be stored as a code (vanity codes included), after normalisation.
CODE_RE = re.compile(r"^[A-Z0-9]{3,32}$")
_STRIP = re.compile(r"[\s\-]+")


def normalize(code: Any) -> str:
    """Upper-case ``code`` and drop spaces and dashes. Non-strings give ``""``."""
    if not isinstance(code, str):
        return ""
    return _STRIP.sub("", code).upper()


def check_character(data: str) -> str:
    """The Luhn mod 32 check character of ``data`` (characters of :data:`ALPHABET`)."""
    factor, total, n = 2, 0, len(ALPHABET)
    for char in reversed(data):
        addend = factor * ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def looks_generated(code: str) -> bool:
    """Whether a normalised code has the shape of a generated one (9 alphabet characters
    once confusable letters are read as digits)."""
    mapped = code.translate(CONFUSABLE)
    return len(mapped) == RANDOM_LENGTH + 1 and all(c in ALPHABET for c in mapped)


def is_valid_generated(code: str) -> bool:
    """Whether a code of the generated shape has a correct check character."""
    mapped = code.translate(CONFUSABLE)
    return looks_generated(code) and check_character(mapped[:-1]) == mapped[-1]


def lookup_candidates(code: str) -> list[str]:
    """The stored forms a typed (normalised) code may have: as typed, and for generated
    codes with ``O``/``I``/``L`` read as ``0``/``1``."""
    candidates = [code]
    mapped = code.translate(CONFUSABLE)
    if mapped != code and looks_generated(code):
        candidates.append(mapped)
    return candidates


def random_code(length: int = RANDOM_LENGTH) -> str:
    """``length`` random characters from the alphabet (``secrets``) plus a check character."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return data + check_character(data)


class CodeGenerator:
    """Makes new codes. The default makes random ones; a subclass may propose vanity
    codes first (the service retries with :meth:`fallback` when a proposal is taken)."""

    def generate(self, *, account: Account | None = None, attempt: int = 0) -> str:
        """A new code candidate. ``attempt`` counts earlier candidates that were taken."""
        return random_code()

    def fallback(self, *, account: Account | None = None, attempt: int = 0) -> str:
        """A candidate used after ``generate`` proposals collided too often."""
        return random_code()


class VanityCodeGenerator(CodeGenerator):
    """``JUAN2025``-style codes: the first name of the member (letters only) and the
    year, then a random suffix when that is taken, then a random code."""

    def generate(self, *, account: Account | None = None, attempt: int = 0) -> str:
        from django.utils import timezone

        name = ""
        if account is not None:
            name = re.sub(r"[^A-Z]", "", (str(account.member).split() or [""])[0].upper())[:12]
        if len(name) < 2:
            return random_code()
        base = f"{name}{timezone.now().year}"
        if attempt == 0:
            return base
        return f"{base}{''.join(secrets.choice(ALPHABET) for _ in range(3))}"
