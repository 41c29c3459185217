"""``signpost audit verify``: the chain from the start, every checkpoint, and how they agree.

The answer is the first bad sequence number and what is wrong with it, or a summary of what
was checked. The database is read a page at a time, so memory does not grow with the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit import checkpoints, service
from app.audit.chain import GENESIS, ChainVerifier, Problem, checkpoint_chain_problems


@dataclass(frozen=True, slots=True)
class Report:
    rows: int
    first_seq: int
    checkpoints: int
    head_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _earliest(*problems: Problem | None) -> Problem | None:
    found = [p for p in problems if p is not None]
    return min(found, key=lambda p: p.seq) if found else None


def _load(
    directory: Path, public_key: Ed25519PublicKey, origin: str
) -> tuple[list[checkpoints.Checkpoint], Problem | None]:
    good, problems = checkpoints.read_all(directory, public_key, origin)
    problems += checkpoint_chain_problems([c.claim() for c in good])
    return good, _earliest(*problems)


async def verify_database(directory: Path, public_key: Ed25519PublicKey, origin: str) -> Report:
    good, checkpoint_problem = _load(directory, public_key, origin)
    verifier = ChainVerifier([c.claim() for c in good])
    async for row in service.rows_from(1):
        if verifier.feed(row) is not None:
            break
    chain_problem = verifier.finish()
    return Report(
        rows=verifier.rows,
        first_seq=1,
        checkpoints=len(good),
        head_hash=verifier.last_hash,
        problem=_earliest(chain_problem, checkpoint_problem),
    )


def verify_export(lines: Iterable[str], directory: Path, public_key: Ed25519PublicKey, origin: str) -> Report:
    """Check a JSON-lines export (whole, or from row N on) against the signed checkpoints it
    reaches. Checkpoints beyond its last row are not expected to match: the copy is older."""
    good, checkpoint_problem = _load(directory, public_key, origin)
    by_size = {c.size: c for c in good}
    verifier: ChainVerifier | None = None
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            at = verifier.expected if verifier else 0
            return Report(
                0, 0, len(good), GENESIS, Problem(at, "changed", f"line {number} is not an audit row")
            )
        if verifier is None:
            given = row.get("seq")
            first = given if isinstance(given, int) else 1
            before = by_size.get(first - 1)
            start = before.head_hash if before else (GENESIS if first == 1 else str(row.get("prev_hash")))
            verifier = ChainVerifier([c.claim() for c in good], first_seq=first, start_hash=start)
        if verifier.feed(row) is not None:
            break
    if verifier is None:
        return Report(0, 0, len(good), GENESIS, None)
    last = verifier.expected - 1
    reached = checkpoint_problem if checkpoint_problem and checkpoint_problem.seq <= last else None
    return Report(
        rows=verifier.rows,
        first_seq=verifier.first_seq,
        checkpoints=len(good),
        head_hash=verifier.last_hash,
        problem=_earliest(verifier.problem, reached),
    )
