"""Property tests: any single tampering of an audit log is found, at the right row; an untouched
log never raises a false alarm.

Logs of 1 to 5,000 rows are prefixes of one generated chain (a prefix of a valid chain is a
valid chain), with signed checkpoints every ``interval`` rows. Each tampering is one of: flip a
bit of one byte of one exported line, delete a row, swap two rows, swap two rows' contents but
keep their sequence numbers, insert a row (forged with a correct hash, or not), replace or
delete a checkpoint, truncate the log below its newest checkpoint.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.audit import checkpoints
from app.audit.chain import entry_hash
from app.audit.verify import Report, verify_export, verify_rows
from tests.audit_log import ORIGIN, make_rows, to_lines, write_checkpoints

MAX_ROWS = 5000
BASE = make_rows(MAX_ROWS)
BASE_LINES = to_lines(BASE)
KEY = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()


@dataclass
class Log:
    rows: list[dict[str, Any]]
    sizes: list[int]  # checkpoint sizes, ascending

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep them short
        return f"Log(rows=BASE[:{len(self.rows)}], sizes={self.sizes})"


@st.composite
def logs(draw: st.DrawFn) -> Log:
    count = draw(st.integers(1, MAX_ROWS))
    interval = draw(st.integers(max(1, count // 40), count))  # at most ~40 checkpoint files
    sizes = list(range(interval, count + 1, interval))
    if draw(st.booleans()) and sizes[-1] != count:
        sizes.append(count)  # a final checkpoint, as a clean shutdown writes
    return Log([dict(r) for r in BASE[:count]], sizes)


def check(rows: list[dict[str, Any]], sizes: list[int], tamper_files: Any = None) -> Report:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        write_checkpoints(directory, KEY, BASE, sizes)
        if tamper_files is not None:
            tamper_files(directory)
        return verify_rows(rows, directory, KEY.public_key(), ORIGIN)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(logs())
def test_an_untouched_log_verifies(log: Log) -> None:
    report = check(log.rows, log.sizes)
    assert report.problem is None
    assert report.rows == len(log.rows)
    assert report.head_hash == log.rows[-1]["entry_hash"]


@FAST
@given(logs(), st.data())
def test_a_flipped_bit_is_found_at_its_row(log: Log, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(log.rows)), label="row")
    line = bytearray(BASE_LINES[k - 1].encode())
    position = data.draw(st.integers(0, len(line) - 1), label="byte")
    line[position] ^= 1 << data.draw(st.integers(0, 6), label="bit")  # stays ASCII
    lines = to_lines(log.rows)
    lines[k - 1] = line.decode()
    with tempfile.TemporaryDirectory() as folder:
        write_checkpoints(Path(folder), KEY, BASE, log.sizes)
        report = verify_export(lines, Path(folder), KEY.public_key(), ORIGIN, whole_log=True)
    assert report.problem is not None
    assert report.problem.seq == k, report.problem


@FAST
@given(logs(), st.data())
def test_a_deleted_row_is_found(log: Log, data: st.DataObject) -> None:
    last_covered = log.sizes[-1]  # deleting a row after the newest checkpoint is the known limit
    k = data.draw(st.integers(1, last_covered))
    rows = log.rows[: k - 1] + log.rows[k:]
    report = check(rows, log.sizes)
    assert report.problem is not None
    assert report.problem.seq == k
    assert report.problem.kind in ("missing", "truncated")


@FAST
@given(logs(), st.data())
def test_swapped_rows_are_found_at_the_first(log: Log, data: st.DataObject) -> None:
    if len(log.rows) < 2:
        return
    i = data.draw(st.integers(1, len(log.rows) - 1))
    j = data.draw(st.integers(i + 1, len(log.rows)))
    rows = list(log.rows)
    keep_numbers = data.draw(st.booleans(), label="keep sequence numbers in place")
    rows[i - 1], rows[j - 1] = rows[j - 1], rows[i - 1]
    if keep_numbers:  # as a database would show it: contents moved, numbering unchanged
        rows[i - 1] = {**rows[i - 1], "seq": i}
        rows[j - 1] = {**rows[j - 1], "seq": j}
    report = check(rows, log.sizes)
    assert report.problem is not None
    assert report.problem.seq == i


@FAST
@given(logs(), st.data())
def test_an_inserted_row_is_found_at_its_place(log: Log, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(log.rows)), label="inserted before row")
    forged = {**log.rows[k - 1], "action": "record.view", "reason": "assessment"}
    if data.draw(st.booleans(), label="hash computed by the forger"):
        forged["entry_hash"] = entry_hash(forged["prev_hash"], forged)
    renumber = data.draw(st.booleans(), label="later rows renumbered")
    later = [{**r, "seq": r["seq"] + 1} for r in log.rows[k - 1 :]] if renumber else log.rows[k - 1 :]
    rows = [*log.rows[: k - 1], forged, *later]
    report = check(rows, log.sizes)
    assert report.problem is not None
    assert report.problem.seq == k, report.problem


@FAST
@given(logs(), st.data())
def test_a_replaced_checkpoint_is_found(log: Log, data: st.DataObject) -> None:
    size = data.draw(st.sampled_from(log.sizes))
    how = data.draw(st.sampled_from(["signed by another key", "hash changed", "size changed"]))

    def replace(directory: Path) -> None:
        path = directory / f"checkpoint-{size:012d}.txt"
        text = path.read_text("utf-8")
        if how == "signed by another key":
            forged = checkpoints.Checkpoint(ORIGIN, size, "ab" * 32, datetime.now(UTC), 0)
            path.write_text(checkpoints.sign(forged, STRANGER), "utf-8")
        elif how == "hash changed":
            lines = text.split("\n")
            lines[2] = "q" + lines[2][1:] if lines[2][0] != "q" else "r" + lines[2][1:]
            path.write_text("\n".join(lines), "utf-8")
        else:
            path.write_text(text.replace(f"\n{size}\n", f"\n{size + 1}\n", 1), "utf-8")

    report = check(log.rows, log.sizes, replace)
    assert report.problem is not None
    assert report.problem.seq == size
    assert report.problem.kind == "checkpoint_forged"


@FAST
@given(logs(), st.data())
def test_a_deleted_checkpoint_is_found_unless_it_is_the_newest(log: Log, data: st.DataObject) -> None:
    if len(log.sizes) < 2:
        return
    size = data.draw(st.sampled_from(log.sizes[:-1]))
    report = check(log.rows, log.sizes, lambda d: (d / f"checkpoint-{size:012d}.txt").unlink())
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (size, "checkpoint_missing")


@FAST
@given(logs(), st.data())
def test_truncation_below_the_newest_checkpoint_is_found(log: Log, data: st.DataObject) -> None:
    keep = data.draw(st.integers(0, log.sizes[-1] - 1))
    report = check(log.rows[:keep], log.sizes)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (keep + 1, "truncated")


def test_a_rewritten_chain_is_caught_by_the_next_checkpoint() -> None:
    """An attacker who changes row 40 and recomputes every hash after it makes a chain that is
    consistent in itself: only a signed checkpoint (here at 50) can show it."""
    rows = [dict(r) for r in BASE[:60]]
    rows[39]["action"] = "auth.logout"
    for index in range(39, 60):
        rows[index]["prev_hash"] = rows[index - 1]["entry_hash"]
        rows[index]["entry_hash"] = entry_hash(rows[index]["prev_hash"], rows[index])
    report = check(rows, [25, 50])
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (50, "checkpoint_mismatch")


def test_rows_after_the_newest_checkpoint_can_go_unnoticed() -> None:
    """The documented limit (docs/audit.md): deleting the newest rows, after the newest
    checkpoint, leaves a shorter log that is valid; a shipped copy of the rows shows it."""
    report = check([dict(r) for r in BASE[:45]], [20, 40])
    assert report.problem is None
    assert report.rows == 45
    with tempfile.TemporaryDirectory() as folder:
        write_checkpoints(Path(folder), KEY, BASE, [20, 40])
        shipped = verify_export(BASE_LINES[:48], Path(folder), KEY.public_key(), ORIGIN, whole_log=True)
        assert shipped.problem is None
        assert shipped.rows == 48  # the shipped copy holds rows 46-48, which the database has lost


def test_a_partial_export_checks_from_where_it_starts() -> None:
    lines = to_lines(BASE[100:300])
    with tempfile.TemporaryDirectory() as folder:
        write_checkpoints(Path(folder), KEY, BASE, [100, 200, 400])
        report = verify_export(lines, Path(folder), KEY.public_key(), ORIGIN)
        assert report.problem is None
        assert (report.first_seq, report.rows) == (101, 200)
        tampered = list(lines)
        row = json.loads(tampered[50])
        row["reason"] = "assessment"
        tampered[50] = json.dumps(row)
        bad = verify_export(tampered, Path(folder), KEY.public_key(), ORIGIN)
        assert bad.problem is not None
        assert bad.problem.seq == 151


def test_a_prev_hash_pointing_two_rows_back_is_the_row_that_changed() -> None:
    rows = [dict(r) for r in BASE[:30]]
    rows[19]["prev_hash"] = rows[17]["entry_hash"]  # row 20 now claims to follow row 18
    report = check(rows, [30])
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (20, "changed")


@pytest.mark.parametrize(
    "line",
    ["[" * 100_000, "\udcff", '{"seq": 1e999}', "null", '{"seq": ' + "9" * 5000 + "}"],
    ids=["deeply nested", "lone surrogate", "huge float", "null", "huge number"],
)
def test_a_hostile_export_line_is_a_problem_not_a_crash(line: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        report = verify_export([*BASE_LINES[:3], line], Path(folder), KEY.public_key(), ORIGIN)
    assert report.problem is not None
    assert report.problem.seq == 4
