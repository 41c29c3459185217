"""Importing a feed: check every row, then apply the whole file in one transaction.

The file is read twice, streaming, so memory stays the same whatever its size. The first pass
only validates: one bad row (an unknown or free-text column, an over-long value, a value outside
the data dictionary) rejects the file with a report naming each line and column, and nothing is
written but the audit row saying so. The second pass matches each row (app/feeds/matching.py)
and updates, creates, moves or queues it for review, all in one write unit with the audit rows:
a failure anywhere rolls the whole file back.

That unit holds, for as long as the file takes, SQLite's single write lock or, on PostgreSQL, the
lock that keeps the audit chain in order (taken with the first batch of audit rows): everything
else the service audits waits meanwhile, so large feeds belong to quiet hours (docs/feeds.md;
benchmarks/README.md gives the rate).
"""

from __future__ import annotations

import asyncio
import hmac
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from hashlib import sha256
from typing import Any

import msgspec
from msgspec.structs import replace as evolve

from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.consent.dates import eighteenth_birthday, uk_date
from app.crypto.keyring import Keyring
from app.database import Tx
from app.feeds.format import MAX_PROBLEMS, FeedError, FeedRow, Place, Problem, read_feed
from app.feeds.matching import Candidate, Decision, Incoming, decide, decide_by_signpost_id, held_elsewhere
from app.feeds.tables import FeedImport, FeedReview
from app.records.codes import Gender, RetentionState
from app.records.ids import new_signpost_id, row_ids
from app.records.normalise import given_dob_key, name_dob_key, normalise_name, normalise_postcode
from app.records.schemas import ChildDetails, PersonName
from app.records.service import (
    GIVEN_DOB,
    NAME_DOB,
    carer_row,
    child_row,
    decode_address,
    former_name_row,
    load_child,
)
from app.records.tables import Carer, Child, EducationSetting, FormerName, GpPractice, LocalAuthority

AUDIT_BATCH = 500
MAX_CANDIDATES = 20  # row IDs of up to 19 digits and commas: inside feed_review.candidates (400)
Opener = Callable[[], Iterable[str]]


@dataclass(slots=True)
class Report:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    queued: int = 0
    skipped: int = 0  # 18 or over, and no record kept with consent to update
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0  # problems past MAX_PROBLEMS, counted but not listed
    import_id: int | None = None

    @property
    def rejected(self) -> bool:
        return bool(self.problems)

    def add(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            if len(self.problems) < MAX_PROBLEMS:
                self.problems.append(problem)
            else:
                self.more_problems += 1


class FeedChangedError(ValueError):
    """The file read differently the second time (changed while it was being imported); a
    ValueError, so that the audit's write passes it on as it is and the unit rolls back."""


async def authority_codes() -> dict[str, int]:
    rows = await LocalAuthority.select(LocalAuthority.id, LocalAuthority.code).run()
    return {str(r["code"]).upper(): int(r["id"]) for r in rows}


def check_feed(
    open_feed: Opener, *, source: str, authorities: dict[str, int], today: date, only_authority: int | None
) -> Report:
    """The first pass: count the rows and collect every problem."""
    report = Report()
    try:
        for parsed in read_feed(open_feed(), source=source, authorities=authorities, today=today):
            if isinstance(parsed, list):
                report.add(parsed)
                if parsed and parsed[0].line == 1:  # the header: no row can be read
                    break
                report.rows += 1
                continue
            report.rows += 1
            if only_authority is not None and parsed.child.local_authority_id != only_authority:
                report.add(
                    [
                        Problem(
                            parsed.line, "local_authority", "You can only load feeds for your own authority"
                        )
                    ]
                )
    except FeedError as error:
        report.add([Problem(0, "", str(error))])
    if not report.problems and report.rows == 0:
        report.add([Problem(1, "", "The feed has a header but no rows")])
    return report


def _candidate(
    keyring: Keyring, row: dict[str, Any], formers: list[dict[str, Any]], carers: list[dict[str, Any]]
) -> Candidate:
    child_id = int(row["id"])

    def plain(column: str) -> str:
        return keyring.decrypt(f"child.{column}", child_id, bytes(row[column]))

    address = None if row["address"] is None else decode_address(plain("address"))
    former_given = tuple(
        normalise_name(keyring.decrypt("former_name.given_name", f["id"], bytes(f["given_name"])))
        for f in formers
    )
    former_family = tuple(
        normalise_name(keyring.decrypt("former_name.family_name", f["id"], bytes(f["family_name"])))
        for f in formers
    )
    return Candidate(
        child_id=child_id,
        authority_id=int(row["local_authority"]),
        shielded=bool(row["shielded"]),
        given_names=(normalise_name(plain("given_name")), *former_given),
        family_names=(normalise_name(plain("family_name")), *former_family),
        date_of_birth=date.fromisoformat(plain("date_of_birth")),
        gender=Gender(plain("gender")),
        postcode=None if address is None else normalise_postcode(address.postcode),
        carers=tuple(
            normalise_name(keyring.decrypt("carer.name", c["id"], bytes(c["name"]))) for c in carers
        ),
    )


_CANDIDATE_COLUMNS = (
    Child.id,
    Child.local_authority,
    Child.shielded,
    Child.given_name,
    Child.family_name,
    Child.date_of_birth,
    Child.gender,
    Child.address,
)


class Importer:
    """The second pass, inside one write unit."""

    def __init__(
        self,
        tx: Tx,
        keyring: Keyring,
        *,
        source: str,
        actor: Actor,
        now: datetime,
        report: Report,
        progress: Callable[[int], None] | None,
        uploaded: bool = False,
    ) -> None:
        self.tx = tx
        self.uploaded = uploaded  # on the admin's upload page: every move goes to review
        self.keyring = keyring
        self.source = source
        self.actor = actor
        self.now = now
        self.today = uk_date(now)
        self.report = report
        self.progress = progress
        self.import_id = row_ids.next()
        self.entries: list[Entry] = []
        self.places: Places = {}
        self.shielded: dict[date, dict[int, Candidate]] = defaultdict(dict)

    async def load_shielded(self) -> None:
        """Every shielded child, for matching: a few per date of birth even at national scale."""
        rows = await self.tx.run(Child.select(*_CANDIDATE_COLUMNS).where(Child.shielded == True))  # noqa: E712
        ids = [int(r["id"]) for r in rows]
        formers, carers = await self._formers(ids), await self._carers(ids)
        for row in rows:
            child_id = int(row["id"])
            candidate = _candidate(self.keyring, row, formers.get(child_id, []), carers.get(child_id, []))
            self.shielded[candidate.date_of_birth][candidate.child_id] = candidate

    async def _formers(self, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            rows = await self.tx.run(
                FormerName.select().where(FormerName.child.is_in(ids[start : start + 500]))
            )
            for row in rows:
                found[int(row["child"])].append(row)
        return found

    async def _carers(self, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            rows = await self.tx.run(
                Carer.select(Carer.id, Carer.child, Carer.name).where(
                    Carer.child.is_in(ids[start : start + 500])
                )
            )
            for row in rows:
                found[int(row["child"])].append(row)
        return found

    async def candidates(self, incoming: Incoming, child: ChildDetails) -> list[Candidate]:
        born = child.date_of_birth
        names = {child.family_name, *(f.family_name for f in child.former_names)}
        givens = {child.given_name, *(f.given_name for f in child.former_names)}
        name_values = sorted(
            {v for n in names for v in self.keyring.blind_index_candidates(NAME_DOB, name_dob_key(n, born))}
        )
        given_values = sorted(
            {
                v
                for n in givens
                for v in self.keyring.blind_index_candidates(GIVEN_DOB, given_dob_key(n, born))
            }
        )
        rows = await self.tx.run(
            Child.select(*_CANDIDATE_COLUMNS).where(
                Child.bidx_name_dob.is_in(name_values) | Child.bidx_given_dob.is_in(given_values)
            )
        )
        by_id = {int(r["id"]): r for r in rows}
        former_of = await self.tx.run(
            FormerName.select(FormerName.child).where(FormerName.bidx_name_dob.is_in(name_values))
        )
        missing = sorted({int(r["child"]) for r in former_of} - by_id.keys())
        if missing:
            for row in await self.tx.run(Child.select(*_CANDIDATE_COLUMNS).where(Child.id.is_in(missing))):
                by_id[int(row["id"])] = row
        same_day = [
            i
            for i, r in by_id.items()
            if self.keyring.decrypt("child.date_of_birth", i, bytes(r["date_of_birth"])) == born.isoformat()
        ]
        formers = await self._formers(same_day) if same_day else {}
        carers = await self._carers(same_day) if same_day else {}
        found = {
            i: _candidate(self.keyring, by_id[i], formers.get(i, []), carers.get(i, [])) for i in same_day
        }
        for child_id, candidate in self.shielded.get(born, {}).items():
            found.setdefault(child_id, candidate)
        return list(found.values())

    async def by_signpost_id(self, signpost_id: str) -> Candidate | None:
        rows = await self.tx.run(Child.select(*_CANDIDATE_COLUMNS).where(Child.signpost_id == signpost_id))
        if not rows:
            return None
        child_id = int(rows[0]["id"])
        formers, carers = await self._formers([child_id]), await self._carers([child_id])
        return _candidate(self.keyring, rows[0], formers.get(child_id, []), carers.get(child_id, []))

    async def _with_places(self, row: FeedRow, child: ChildDetails) -> ChildDetails:
        return await with_places(self.tx, row, child, self.places)

    def audit(
        self,
        action: str,
        child_id: int | None,
        authority_id: int | None,
        also: tuple[str, ...] = (),
        **detail: int | str | bool,
    ) -> None:
        self.entries.append(
            Entry(
                action,
                self.actor,
                self.now,
                child_id=child_id,
                child_authority_id=authority_id,
                subjects=(f"feed_import:{self.import_id}", *also),
                detail=detail or None,
            )
        )

    async def flush(self) -> None:
        if self.entries:
            await audit.append(self.tx, self.entries)
            self.entries = []

    async def create(self, row: FeedRow) -> int:
        child = await self._with_places(row, row.child)
        child_id = await write_new_child(self.tx, self.keyring, child, self.now)
        self.report.created += 1
        self.audit("feed.record_created", child_id, child.local_authority_id)
        return child_id

    async def update(self, row: FeedRow, child_id: int) -> str:
        outcome = await apply_row(self.tx, self.keyring, child_id, row, self.now, self._with_places)
        if outcome.kind == "unchanged":
            self.report.unchanged += 1
            return outcome.kind
        if outcome.kind == "moved":
            self.report.moved += 1
            self.audit(
                "feed.record_moved",
                child_id,
                row.child.local_authority_id,
                also=(f"from_authority:{outcome.from_authority}",),
            )
        else:
            self.report.updated += 1
            self.audit("feed.record_updated", child_id, row.child.local_authority_id)
        if outcome.shielded:  # keep the roster true to the record
            candidate = await self.by_signpost_id(outcome.signpost_id)
            if candidate is not None:
                for roster in self.shielded.values():
                    roster.pop(child_id, None)
                self.shielded[candidate.date_of_birth][child_id] = candidate
        return outcome.kind

    async def queue(self, row: FeedRow, decision: Decision) -> None:
        """Queue the row for review, unless the same row (from an earlier file) is waiting."""
        version = self.keyring.active_version
        same = row_hash(self.keyring, row)
        waiting = await self.tx.run(
            FeedReview.select(FeedReview.id, FeedReview.candidates).where(
                (FeedReview.row_hash == same)
                & (FeedReview.status == "pending")
                & (FeedReview.local_authority == row.child.local_authority_id)
            )
        )
        self.report.queued += 1
        if waiting:  # the possible records now are added to those it waits beside
            known = [c for c in waiting[0]["candidates"].split(",") if c]
            known += [str(c) for c in decision.candidates if str(c) not in known]
            await self.tx.run(
                FeedReview.update({FeedReview.candidates: ",".join(known[:MAX_CANDIDATES])}).where(
                    FeedReview.id == waiting[0]["id"]
                )
            )
            self._queued(row, decision, int(waiting[0]["id"]), already_waiting=True)
            return
        review_id = row_ids.next()
        payload = msgspec.json.encode(row).decode("utf-8")
        await self.tx.run(
            FeedReview.insert(
                FeedReview(
                    id=review_id,
                    feed_import=self.import_id,
                    local_authority=row.child.local_authority_id,
                    line=row.line,
                    row=self.keyring.encrypt("feed_review.row", review_id, payload, version),
                    candidates=",".join(str(c) for c in decision.candidates[:MAX_CANDIDATES]),
                    why=decision.why,
                    row_hash=same,
                    status="pending",
                    created_at=self.now,
                    key_version=version,
                )
            )
        )
        self._queued(row, decision, review_id, already_waiting=False)

    def _queued(self, row: FeedRow, decision: Decision, review_id: int, *, already_waiting: bool) -> None:
        detail: dict[str, int | str | bool] = {"why": decision.why, "candidates": len(decision.candidates)}
        if already_waiting:
            detail["already_waiting"] = True
        self.entries.append(
            Entry(
                "feed.row_queued",
                self.actor,
                self.now,
                child_authority_id=row.child.local_authority_id,
                subjects=(f"feed_import:{self.import_id}", f"feed_review:{review_id}"),
                detail=detail,
            )
        )

    async def handle(self, row: FeedRow) -> None:
        incoming = Incoming.of(row.child)
        found = await self.candidates(incoming, row.child)
        if row.signpost_id is not None:
            decision = decide_by_signpost_id(incoming, await self.by_signpost_id(row.signpost_id), found)
        else:
            decision = decide(incoming, found)
        decision = held_elsewhere(decision, row.child.local_authority_id, uploaded=self.uploaded)
        adult = eighteenth_birthday(row.child.date_of_birth) <= self.today
        if adult and not (decision.kind == "update" and await _kept_with_consent(self.tx, decision.child_id)):
            self.report.skipped += 1  # Signpost keeps nobody past 18 without their consent
            return
        if decision.kind == "update" and decision.child_id is not None:
            await self.update(row, decision.child_id)
        elif decision.kind == "create":
            await self.create(row)
        else:
            await self.queue(row, decision)

    async def run(self, rows: Iterable[FeedRow | list[Problem]]) -> None:
        await self.load_shielded()
        await self.tx.run(
            FeedImport.insert(
                FeedImport(
                    id=self.import_id,
                    source=self.source,
                    local_authority=None,
                    imported_by=self.actor.id,
                    imported_at=self.now,
                    rows=0,
                    created=0,
                    updated=0,
                    unchanged=0,
                    moved=0,
                    queued=0,
                    skipped=0,
                )
            )
        )
        seen = 0
        for parsed in rows:
            if isinstance(parsed, list):
                raise FeedChangedError()
            await self.handle(parsed)
            seen += 1
            if len(self.entries) >= AUDIT_BATCH:
                await self.flush()
            if self.progress is not None:
                self.progress(seen)
        if seen != self.report.rows:
            raise FeedChangedError()
        r = self.report
        counts = {
            "rows": r.rows,
            "created": r.created,
            "updated": r.updated,
            "unchanged": r.unchanged,
            "moved": r.moved,
            "queued": r.queued,
            "skipped": r.skipped,
        }
        await self.tx.run(
            FeedImport.update({getattr(FeedImport, k): v for k, v in counts.items()}).where(
                FeedImport.id == self.import_id
            )
        )
        self.entries.append(
            Entry(
                "feed.imported",
                self.actor,
                self.now,
                child_authority_id=self.actor.authority_id,
                subjects=(f"feed_import:{self.import_id}",),
                detail={"source": self.source.replace("-", "_").replace(".", "_")[:40], **counts},
            )
        )
        await self.flush()


Places = dict[tuple[str, int, str], tuple[int, str]]


async def place_id(
    tx: Tx, table: type[EducationSetting] | type[GpPractice], authority: int, place: Place, cache: Places
) -> int:
    """The setting or practice of that name in the authority, added if new, its telephone number
    kept up to date."""
    key = (table._meta.tablename, authority, place.name)
    known = cache.get(key)
    if known is not None:
        if known[1] != place.telephone:
            await tx.run(table.update({table.telephone: place.telephone}).where(table.id == known[0]))
            cache[key] = (known[0], place.telephone)
        return known[0]
    rows = await tx.run(
        table.select(table.id, table.name, table.telephone).where(
            (table.local_authority == authority) & (table.name == place.name)
        )
    )
    if rows:
        found = int(rows[0]["id"])
        if rows[0]["telephone"] != place.telephone:
            await tx.run(table.update({table.telephone: place.telephone}).where(table.id == found))
    else:
        new: Any = table(local_authority=authority, name=place.name, telephone=place.telephone)
        made = await tx.run(table.insert(new).returning(table.id))
        found = int(made[0]["id"])
    cache[key] = (found, place.telephone)
    return found


async def with_places(tx: Tx, row: FeedRow, child: ChildDetails, cache: Places) -> ChildDetails:
    """``child`` with the education setting and GP practice the row names, in its authority."""
    authority = row.child.local_authority_id
    if row.education is not None:
        setting = await place_id(tx, EducationSetting, authority, row.education, cache)
        started = row.child.education_start_date
        if started is None and setting == child.education_setting_id:
            started = child.education_start_date  # the same setting, its start date not sent
        child = evolve(child, education_setting_id=setting, education_start_date=started)
    if row.gp is not None:
        child = evolve(child, gp_practice_id=await place_id(tx, GpPractice, authority, row.gp, cache))
    return child


def row_hash(keyring: Keyring, row: FeedRow) -> str:
    """A keyed hash of what a row says (not where in which file it was), to notice the same row
    arriving again while it waits for review."""
    key = keyring.mac_key(keyring.active_version, "feed-review-row")
    said = msgspec.json.encode(msgspec.structs.replace(row, line=0))
    return hmac.new(key, said, sha256).hexdigest()[:32]


async def _kept_with_consent(tx: Tx, child_id: int | None) -> bool:
    rows = await tx.run(Child.select(Child.retention_state).where(Child.id == child_id))
    return bool(rows) and rows[0]["retention_state"] == RetentionState.kept_with_consent.value


async def write_new_child(tx: Tx, keyring: Keyring, child: ChildDetails, now: datetime) -> int:
    """Insert a child with its former names and carers inside ``tx``; its row ID."""
    child_id = row_ids.next()
    await tx.run(Child.insert(Child(**child_row(keyring, child_id, new_signpost_id(), child, now))))
    await _write_people(tx, keyring, child_id, child)
    return child_id


async def _write_people(tx: Tx, keyring: Keyring, child_id: int, child: ChildDetails) -> None:
    if child.former_names:
        await tx.run(
            FormerName.insert(
                *(
                    FormerName(
                        **former_name_row(keyring, row_ids.next(), child_id, child.date_of_birth, name)
                    )
                    for name in child.former_names
                )
            )
        )
    if child.carers:
        await tx.run(
            Carer.insert(*(Carer(**carer_row(keyring, row_ids.next(), child_id, c)) for c in child.carers))
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # "updated", "unchanged" or "moved"
    signpost_id: str
    shielded: bool
    from_authority: int


def merged_names(old: ChildDetails, new: ChildDetails) -> tuple[PersonName, ...]:
    """Every name the child has had that is not their name now: the old record's former names,
    its current name if it changed, and the new details' former names, once each."""
    current = (normalise_name(new.given_name), normalise_name(new.family_name))
    names: list[PersonName] = []
    seen = {current}
    for name in (*old.former_names, PersonName(old.given_name, old.family_name), *new.former_names):
        key = (normalise_name(name.given_name), normalise_name(name.family_name))
        if key not in seen:
            seen.add(key)
            names.append(name)
    return tuple(names)


async def apply_row(
    tx: Tx,
    keyring: Keyring,
    child_id: int,
    row: FeedRow,
    now: datetime,
    with_places: Callable[[FeedRow, ChildDetails], Awaitable[ChildDetails]],
) -> Outcome:
    """Update the record ``child_id`` with what the row says, keeping what the row does not
    carry (involvements, shielding, consent, and carers or places the row leaves empty). A row
    from another authority moves the record there, with its involvements."""
    record = await load_child(keyring, child_id, tx)
    old = evolve(record.details, involvements=())
    moved = old.local_authority_id != row.child.local_authority_id
    incoming = row.child
    new = evolve(
        old,
        given_name=incoming.given_name,
        family_name=incoming.family_name,
        date_of_birth=incoming.date_of_birth,
        gender=incoming.gender,
        address=incoming.address if row.has_address else old.address,
        local_authority_id=incoming.local_authority_id,
        source=incoming.source,
        former_names=merged_names(old, incoming),
        carers=incoming.carers or old.carers,
        education_setting_id=None if moved else old.education_setting_id,
        education_start_date=None if moved else old.education_start_date,
        gp_practice_id=None if moved else old.gp_practice_id,
    )
    new = await with_places(row, new)
    outcome = Outcome(
        "moved" if moved else "updated", record.signpost_id, old.shielded, old.local_authority_id
    )
    if new == old:
        return replace(outcome, kind="unchanged")
    await write_details(tx, keyring, child_id, record.signpost_id, old, new, now, moved=moved)
    return outcome


async def write_details(
    tx: Tx,
    keyring: Keyring,
    child_id: int,
    signpost_id: str,
    old: ChildDetails,
    new: ChildDetails,
    now: datetime,
    *,
    moved: bool = False,
) -> None:
    """Rewrite a child's own columns (re-encrypted, indexes recomputed) and, where they changed,
    its former names and carers. Involvements are untouched."""
    values = child_row(keyring, child_id, signpost_id, new, now)
    for column in ("id", "signpost_id", "created_at", "moved_at"):
        values.pop(column)
    if moved:
        values["moved_at"] = now
    await tx.run(Child.update({getattr(Child, k): v for k, v in values.items()}).where(Child.id == child_id))
    # Former names carry a blind index of the date of birth: a new date rewrites them too.
    names_change = new.former_names != old.former_names or new.date_of_birth != old.date_of_birth
    if names_change:
        await tx.run(FormerName.delete().where(FormerName.child == child_id))
    if new.carers != old.carers:
        await tx.run(Carer.delete().where(Carer.child == child_id))
    await _write_people(
        tx,
        keyring,
        child_id,
        evolve(
            new,
            former_names=new.former_names if names_change else (),
            carers=new.carers if new.carers != old.carers else (),
        ),
    )


async def import_feed(
    open_feed: Opener,
    keyring: Keyring,
    *,
    source: str,
    actor: Actor,
    now: datetime,
    only_authority: int | None = None,
    progress: Callable[[int], None] | None = None,
    checked: Callable[[Report], None] | None = None,
) -> Report:
    """Check then import the feed that ``open_feed`` opens (afresh on each call).

    ``only_authority``: every row must be for this authority (the admin's upload page).
    ``checked`` is told the first pass's report before the second pass starts."""
    today = uk_date(now)
    authorities = await authority_codes()
    report = await asyncio.to_thread(
        check_feed,
        open_feed,
        source=source,
        authorities=authorities,
        today=today,
        only_authority=only_authority,
    )
    if checked is not None:
        checked(report)
    if report.rejected:
        await audit.record(
            "feed.rejected",
            actor,
            at=now,
            child_authority_id=only_authority,
            outcome="refused",
            detail={"rows": report.rows, "problems": len(report.problems) + report.more_problems},
        )
        return report

    async def unit(tx: Tx) -> int:
        importer = Importer(
            tx,
            keyring,
            source=source,
            actor=actor,
            now=now,
            report=report,
            progress=progress,
            uploaded=only_authority is not None,
        )
        await importer.run(read_feed(open_feed(), source=source, authorities=authorities, today=today))
        if only_authority is not None:
            await tx.run(
                FeedImport.update({FeedImport.local_authority: only_authority}).where(
                    FeedImport.id == importer.import_id
                )
            )
        return importer.import_id

    report.import_id = await audit.write(unit)
    return report
