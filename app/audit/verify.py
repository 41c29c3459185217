"""``signpost audit verify``: the chain from the start, every checkpoint, and how they agree.

The answer is the first bad sequence number and what is wrong with it, or a summary of what
was checked. Rows are read a page at a time (or a line at a time from an export), so memory does
not grow with the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class LogCheck:
    """The signed checkpoints in ``directory``, and the rows fed to it, checked together.

    With ``whole_log`` the rows must start at row 1, from the genesis hash. Otherwise (a partial
    export) the first row fed fixes where the check starts: from the checkpoint just before it if
    there is one, else from its own ``prev_hash``.
    """

    def __init__(
        self, directory: Path, public_key: Ed25519PublicKey, origin: str, *, whole_log: bool
    ) -> None:
        self.whole_log = whole_log
        good, problems = checkpoints.read_all(directory, public_key, origin)
        problems += checkpoint_chain_problems([c.claim() for c in good])
        self.checkpoints = good
        self.checkpoint_problem = _earliest(*problems)
        self.verifier: ChainVerifier | None = None
        self.lines = 0

    def _start(self, row: Mapping[str, Any]) -> ChainVerifier:
        given = row.get("seq")
        first = given if isinstance(given, int) and given > 0 and not self.whole_log else 1
        before = {c.size: c for c in self.checkpoints}.get(first - 1)
        if before is not None:
            start = before.head_hash
        else:
            start = GENESIS if first == 1 else str(row.get("prev_hash"))
        return ChainVerifier([c.claim() for c in self.checkpoints], first_seq=first, start_hash=start)

    def feed(self, row: Mapping[str, Any]) -> bool:
        """Check one more row; False once a problem is found (stop feeding)."""
        if self.verifier is None:
            self.verifier = self._start(row)
        return self.verifier.feed(row) is None

    def feed_line(self, line: str | bytes) -> bool:
        """Check one line of a JSON-lines export."""
        self.lines += 1
        try:
            row = json.loads(line)
            if isinstance(row, dict):
                self.feed(row)  # canonical() re-encodes the row: a hostile one fails here too
                return self.verifier is not None and self.verifier.problem is None
        except (ValueError, RecursionError, UnicodeError, OverflowError):
            pass
        if self.verifier is None:
            self.verifier = ChainVerifier([c.claim() for c in self.checkpoints])
        self.verifier.problem = Problem(
            self.verifier.expected, "changed", f"line {self.lines} of the export is not an audit row"
        )
        return False

    def no_signature(self, unsigned_allowed: int) -> Problem | None:
        """A whole log with more than ``unsigned_allowed`` rows and no checkpoint at all: the
        checkpoints were removed, or are not where they were looked for."""
        verifier = self.verifier
        if self.checkpoints or self.checkpoint_problem or verifier is None:
            return None
        if verifier.rows > unsigned_allowed:
            return Problem(
                1, "checkpoint_missing", f"no signed checkpoint covers the log's {verifier.rows:,} rows"
            )
        return None

    def report(self) -> Report:
        """For a whole log, a checkpoint beyond its end means rows were removed. A partial
        export is a copy up to some moment: checkpoints after it are not expected to match."""
        verifier = self.verifier or ChainVerifier([c.claim() for c in self.checkpoints])
        chain_problem = verifier.finish() if self.whole_log else verifier.problem
        checkpoint_problem = self.checkpoint_problem
        last = verifier.expected - 1
        if not self.whole_log and checkpoint_problem is not None and checkpoint_problem.seq > last:
            checkpoint_problem = None
        return Report(
            rows=verifier.rows,
            first_seq=verifier.first_seq,
            checkpoints=len(self.checkpoints),
            head_hash=verifier.last_hash,
            problem=_earliest(chain_problem, checkpoint_problem),
        )


async def verify_database(
    directory: Path, public_key: Ed25519PublicKey, origin: str, *, unsigned_allowed: int = 1000
) -> Report:
    """Check the whole trail in the database. More than ``unsigned_allowed`` rows with no
    checkpoint at all is itself a problem (a checkpoint is signed every that many rows)."""
    check = LogCheck(directory, public_key, origin, whole_log=True)
    rows = service.rows_from(1)
    while True:
        try:
            row = await anext(rows)
        except StopAsyncIteration:
            break
        except (ValueError, ArithmeticError) as exc:  # a stored value the driver cannot read back
            expected = check.verifier.expected if check.verifier else 1
            return _unreadable(check, expected, exc)
        if not check.feed(row):
            break
    report = check.report()
    missing = check.no_signature(unsigned_allowed)
    if report.problem is None and missing is not None:
        return Report(report.rows, report.first_seq, report.checkpoints, report.head_hash, missing)
    return report


def _unreadable(check: LogCheck, seq: int, exc: Exception) -> Report:
    report = check.report()
    problem = Problem(
        seq, "changed", f"cannot be read back ({type(exc).__name__}): a stored value was changed"
    )
    return Report(
        report.rows,
        report.first_seq,
        report.checkpoints,
        report.head_hash,
        _earliest(problem, report.problem),
    )


def verify_rows(
    rows: Iterable[Mapping[str, Any]], directory: Path, public_key: Ed25519PublicKey, origin: str
) -> Report:
    """Check rows that are the whole log, in the order given."""
    check = LogCheck(directory, public_key, origin, whole_log=True)
    for row in rows:
        if not check.feed(row):
            break
    return check.report()


def verify_export(
    lines: Iterable[str | bytes],
    directory: Path,
    public_key: Ed25519PublicKey,
    origin: str,
    *,
    whole_log: bool = False,
) -> Report:
    """Check a JSON-lines export (from row N on) against the signed checkpoints it reaches; with
    ``whole_log`` it must start at row 1 and reach the newest checkpoint."""
    check = LogCheck(directory, public_key, origin, whole_log=whole_log)
    for line in lines:
        if line.strip() and not check.feed_line(line):
            break
    return check.report()
