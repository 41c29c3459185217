"""The codes a young person types: the consent code in the invitation letter and the
withdrawal code on the consent receipt.

A code is 24 symbols of Crockford's base32, shown in six groups of four. The first eight are a
random locator (``lookup``, 40 bits) that finds the row; the other sixteen are the secret (80
bits). Only the argon2id hash of the whole code is stored. Typing is forgiving: case, spaces and
hyphens do not matter, and O, I and L read as 0, 1 and 1.

The hash's cost is lighter than for the enrolment and subject access codes (one pass over
8 MiB, about 4 ms, against about 180 ms): a retention run makes an invitation for every young
person turning 17 and a half, some 1,800 a day at 12 million children and a third of a million
on a first run over an existing database. What protects a code is its 80 random bits: someone
holding a copy of the database would need about 2^79 argon2id evaluations to find one code,
whatever the cost of each. Online guessing is stopped by the five-try lock.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher

from app.identity.service import code_matches
from app.records.ids import ALPHABET

LOOKUP_SYMBOLS = 8
SECRET_SYMBOLS = 16  # 80 bits
CODE_SYMBOLS = LOOKUP_SYMBOLS + SECRET_SYMBOLS
MAX_WRONG_TRIES = 5
CODE_GRACE_DAYS = 30  # a consent code works until 30 days after the 18th birthday
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)  # argon2id, 8 MiB

__all__ = ["CodeKind", "IssuedCode", "code_matches", "format_code", "hash_code", "new_code", "parse_code"]


class CodeKind(StrEnum):
    """Which code: the letter's (to decide) or the receipt's (to withdraw or shorten)."""

    consent = "i"
    withdrawal = "w"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str  # as printed, in groups of four
    lookup: str


def format_code(symbols: str) -> str:
    return "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


def new_code() -> IssuedCode:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))
    return IssuedCode(code=format_code(symbols), lookup=symbols[:LOOKUP_SYMBOLS])


def parse_code(text: str) -> str | None:
    """The 24 symbols of a typed code, or None if it cannot be one."""
    symbols = "".join(ch for ch in text.upper() if ch not in " -\t").translate(_CONFUSABLE)
    if len(symbols) != CODE_SYMBOLS or any(ch not in ALPHABET for ch in symbols):
        return None
    return symbols


async def hash_code(code: str) -> str:
    """The argon2id hash of a code (its 24 symbols), computed off the event loop."""
    symbols = parse_code(code)
    if symbols is None:
        raise ValueError("not a code")
    return await asyncio.to_thread(HASHER.hash, symbols)


def try_key(kind: CodeKind, lookup: str) -> str:
    """The key wrong tries at one lookup are counted under, whether or not a code has it."""
    return f"{kind.value}:{lookup}"
