"""Identifiers: row IDs chosen before the insert, and the public Signpost ID.

Row IDs are time-ordered 63-bit integers: milliseconds since 2025-01-01 in the high bits, then a
12-bit per-process random tag and a 10-bit counter (1,024 IDs per millisecond per process). They
are known before the insert (so they can be bound into a ciphertext's associated data), need no
coordination between workers, and arrive in nearly ascending order, which keeps B-tree inserts
cheap at national scale. Two processes that draw the same tag can collide only within the same
millisecond and counter value; the primary key refuses such a row rather than overwrite anything.

The Signpost ID is random, not derived from anything about the child: 11 random symbols from
Crockford's base-32 alphabet and one Luhn mod-32 check symbol, shown as ``XXXX XXXX XXXX``.
"""

from __future__ import annotations

import secrets
import threading
import time

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
_TAG_BITS = 12
_COUNTER_BITS = 10
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SIGNPOST_ID_LENGTH = 12
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


class RowIds:
    """Generates row IDs for one process. Thread-safe."""

    def __init__(self, tag: int | None = None) -> None:
        self._tag = secrets.randbits(_TAG_BITS) if tag is None else tag
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        with self._lock:
            now = int(time.time() * 1000) - EPOCH_MS
            candidate = (now << (_TAG_BITS + _COUNTER_BITS)) | (self._tag << _COUNTER_BITS)
            # Never go backwards, even when the clock does or the counter fills within a ms: then
            # borrow the next millisecond, keeping this process's tag (carrying the counter into
            # the tag bits would make another process's IDs).
            following = self._last + 1
            if (following >> _COUNTER_BITS) & ((1 << _TAG_BITS) - 1) != self._tag:
                millisecond = (self._last >> (_TAG_BITS + _COUNTER_BITS)) + 1
                following = (millisecond << (_TAG_BITS + _COUNTER_BITS)) | (self._tag << _COUNTER_BITS)
            self._last = max(candidate, following)
            return self._last


row_ids = RowIds()


def _luhn_check(symbols: str) -> str:
    factor, total, n = 2, 0, len(ALPHABET)
    for ch in reversed(symbols):
        addend = factor * ALPHABET.index(ch)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def signpost_id_from_bits(bits: int) -> str:
    """The Signpost ID for 55 random bits (the seeder passes its own deterministic bits)."""
    body = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(SIGNPOST_ID_LENGTH - 1))
    return body + _luhn_check(body)


_SEEDED_BITS = 55
_SEEDED_MASK = (1 << _SEEDED_BITS) - 1
_ODD = 0x5BD1E995B5297A4D & _SEEDED_MASK | 1


def seeded_signpost_bits(seed: int, index: int) -> int:
    """55 random-looking bits for synthetic child ``index`` of ``seed``: a bijection on the index
    (odd multiplier and xor-shifts modulo 2**55), so one seed never gives two children the same
    Signpost ID. Only the seeder uses it; real IDs come from ``new_signpost_id``."""
    x = (index ^ (seed * 0x9E3779B97F4A7C15)) & _SEEDED_MASK
    for _ in range(2):
        x = (x * _ODD) & _SEEDED_MASK
        x ^= x >> 29
    return x


def new_signpost_id() -> str:
    return signpost_id_from_bits(secrets.randbits(5 * (SIGNPOST_ID_LENGTH - 1)))


def parse_signpost_id(text: str) -> str | None:
    """The canonical ID for what a person typed (spaces, hyphens, case, O/0 and I/L/1 forgiven),
    or None when it is not a valid Signpost ID."""
    compact = "".join(ch for ch in text.upper() if ch not in " -").translate(_CONFUSABLE)
    if len(compact) != SIGNPOST_ID_LENGTH or any(ch not in ALPHABET for ch in compact):
        return None
    return compact if _luhn_check(compact[:-1]) == compact[-1] else None


def format_signpost_id(signpost_id: str) -> str:
    return " ".join(signpost_id[i : i + 4] for i in range(0, len(signpost_id), 4))
