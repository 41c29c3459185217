"""``signpost backup DEST`` and ``signpost restore SRC``: a consistent copy of the database, and
putting it back, checked before anyone relies on it.

A backup is a directory holding the copy and ``manifest.json``: the row count of every table and
the head of the audit chain, taken from the same snapshot as the copy.

- **SQLite**: the online backup API copies the live database page by page while the service
  runs; the counts are then read from the copy itself.
- **PostgreSQL**: a repeatable-read transaction exports its snapshot, the counts are read in
  it, and ``pg_dump --snapshot`` dumps exactly that snapshot (custom format).

The keys are **not** in the backup: the root keys and the audit signing key
(``SIGNPOST_KEYS_DIR``) are backed up separately, and so is the checkpoint directory, so that a
stolen backup holds no key. It still holds pseudonymous personal data in the clear (Signpost
IDs, authorities, schools and practices, service types, the audit trail): keep backups
encrypted at rest. Restoring needs the same keys.

Restoring replaces the database (refused over a database that holds records, unless asked),
then verifies it: every table's row count equals the manifest's, every encrypted field of every
row decrypts and authenticates under the keys present, and the audit chain recomputes from row 1
and agrees with every signed checkpoint (so a backup older than the newest checkpoint is
reported as a trail missing its last rows, which is what it is).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg

from app.audit import checkpoints, verify
from app.audit import service as audit_service
from app.crypto.keyring import DecryptionError, Keyring
from app.crypto.rotation import ROTATED_COLUMNS
from app.database import ALL_TABLES
from app.settings import Settings

MANIFEST = "manifest.json"
SQLITE_COPY = "signpost.sqlite3"
POSTGRES_COPY = "signpost.pgdump"
FORMAT = 1
PAGE = 2000


class BackupError(Exception):
    """The backup or restore could not be made; the message says why, for the operator."""


@dataclass(slots=True)
class Manifest:
    format: int
    kind: str  # "sqlite" or "postgres"
    made_at: str
    tables: dict[str, int]
    audit_head_seq: int
    audit_head_hash: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "kind": self.kind,
                "made_at": self.made_at,
                "tables": self.tables,
                "audit_head_seq": self.audit_head_seq,
                "audit_head_hash": self.audit_head_hash,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        try:
            data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
            return cls(
                format=int(data["format"]),
                kind=str(data["kind"]),
                made_at=str(data["made_at"]),
                tables={str(k): int(v) for k, v in data["tables"].items()},
                audit_head_seq=int(data["audit_head_seq"]),
                audit_head_hash=str(data["audit_head_hash"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{directory / MANIFEST} is missing or not a Signpost backup manifest") from exc


@dataclass(slots=True)
class Verification:
    counts_checked: int = 0
    fields_decrypted: int = 0
    audit_rows: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


_TABLE_NAMES = [t._meta.tablename for t in ALL_TABLES]
_HEAD = 'SELECT "seq", "entry_hash" FROM "audit_entry" ORDER BY "seq" DESC LIMIT 1'


def _prepare(destination: Path) -> None:
    if destination.exists() and any(destination.iterdir()):
        raise BackupError(f"{destination} is not empty: back up into a new directory")
    destination.mkdir(parents=True, exist_ok=True)
    destination.chmod(0o700)


def _sqlite_counts(connection: sqlite3.Connection) -> tuple[dict[str, int], int, str]:
    counts = {}
    for name in _TABLE_NAMES:  # names from the schema, never from input
        counts[name] = int(connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])  # noqa: S608
    head = connection.execute(_HEAD).fetchone()
    return counts, int(head[0]) if head else 0, str(head[1]) if head else ""


def backup_sqlite(source: Path, destination: Path) -> Manifest:
    """Copy the live SQLite database with the online backup API, then count the copy."""
    _prepare(destination)
    target = destination / SQLITE_COPY
    live = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step, in one read transaction: a copy in several steps starts again whenever the
        # service commits between them, which on a busy database is for ever. In WAL mode the
        # read does not block the service's writers.
        live.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")  # a single file, readable from read-only media
        counts, seq, head = _sqlite_counts(copy)
    finally:
        copy.close()
        live.close()
    target.chmod(0o600)
    manifest = Manifest(FORMAT, "sqlite", datetime.now(UTC).isoformat(), counts, seq, head)
    (destination / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    (destination / MANIFEST).chmod(0o600)
    return manifest


async def backup_postgres(dsn: str, destination: Path) -> Manifest:
    """Dump the database with pg_dump from one exported snapshot, counted in that snapshot."""
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    _prepare(destination)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            counts = {
                name: int(await connection.fetchval(f'SELECT COUNT(*) FROM "{name}"'))  # noqa: S608  (names from the schema)
                for name in _TABLE_NAMES
            }
            head = await connection.fetchrow(_HEAD)
            target = destination / POSTGRES_COPY
            dumped = await asyncio.to_thread(
                subprocess.run,
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    _database_name(dsn),
                ],
                capture_output=True,
                text=True,
                check=False,
                env=_libpq_environment(dsn),
            )
            if dumped.returncode != 0:
                raise BackupError(f"pg_dump failed: {dumped.stderr.strip()[:300]}")
    finally:
        await connection.close()
    target.chmod(0o600)
    manifest = Manifest(
        FORMAT,
        "postgres",
        datetime.now(UTC).isoformat(),
        counts,
        int(head["seq"]) if head else 0,
        str(head["entry_hash"]) if head else "",
    )
    (destination / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    (destination / MANIFEST).chmod(0o600)
    return manifest


def _holds_records_sqlite(path: Path) -> bool:
    if not path.exists():
        return False
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        for table in ("child", "audit_entry"):
            found = connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name=?", (table,)
            )
            if found.fetchone() and connection.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():  # noqa: S608  (names from the schema)
                return True
        return False
    finally:
        connection.close()


def _check_copy(copy: Path, keyring: Keyring) -> None:
    """Before anything is replaced: the copy is a sound SQLite file whose ciphertexts these keys
    open (a backup of another deployment, or a damaged file, stops here)."""
    connection = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    try:
        checked = connection.execute("PRAGMA quick_check").fetchone()[0]
        if checked != "ok":
            raise BackupError(f"{copy} is damaged ({str(checked)[:100]}); nothing was replaced")
        sample = connection.execute("SELECT id, given_name FROM child LIMIT 1").fetchone()
        if sample is not None:
            keyring.decrypt("child.given_name", int(sample[0]), bytes(sample[1]))
    except sqlite3.Error as exc:
        raise BackupError(f"{copy} is not a Signpost database ({exc}); nothing was replaced") from exc
    except DecryptionError as exc:
        raise BackupError(f"these keys do not open the backup ({exc}); nothing was replaced") from exc
    finally:
        connection.close()


def restore_sqlite(source: Path, target: Path, keyring: Keyring, *, replace: bool) -> None:
    """Put the backup copy in place of the database file (with the backup API, so a reader
    never sees half a file), once the copy has been checked."""
    copy = source / SQLITE_COPY
    if not copy.exists():
        raise BackupError(f"{copy} is missing: not a SQLite backup")
    _check_copy(copy, keyring)
    if _holds_records_sqlite(target) and not replace:
        raise BackupError(f"{target} holds records: restore over it only with --replace")
    target.parent.mkdir(parents=True, exist_ok=True)
    backup = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    live = sqlite3.connect(target, timeout=30)
    try:
        backup.backup(live)
    finally:
        live.close()
        backup.close()
    target.chmod(0o600)


async def _holds_records_postgres(dsn: str) -> bool:
    connection = await asyncpg.connect(dsn)
    try:
        for table in ("child", "audit_entry"):
            exists = await connection.fetchval("SELECT to_regclass($1)", f"public.{table}")
            if exists and await connection.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):  # noqa: S608  (names from the schema)
                return True
        return False
    finally:
        await connection.close()


async def _foreign_tables(dsn: str) -> list[str]:
    """Tables in the public schema that are not Signpost's: a database of something else."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    ours = {*_TABLE_NAMES, "migration"}
    return sorted(r["tablename"] for r in rows if r["tablename"] not in ours)


async def restore_postgres(source: Path, dsn: str, *, replace: bool) -> None:
    """Restore the dump in one transaction: every Signpost table is dropped and recreated from
    it, or, if anything fails, the database is left as it was."""
    dump = source / POSTGRES_COPY
    if not dump.exists():
        raise BackupError(f"{dump} is missing: not a PostgreSQL backup")
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore is not installed (Debian: apt-get install postgresql-client)")
    listed = await asyncio.to_thread(
        subprocess.run, ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        raise BackupError(f"{dump} cannot be read ({listed.stderr.strip()[:200]}); nothing was replaced")
    foreign = await _foreign_tables(dsn)
    if foreign:
        named = ", ".join(foreign[:5])
        raise BackupError(
            f"the database holds tables that are not Signpost's ({named}); nothing was replaced"
        )
    if await _holds_records_postgres(dsn) and not replace:
        raise BackupError("the database holds records: restore over it only with --replace")
    restored = await asyncio.to_thread(
        subprocess.run,
        [
            "pg_restore", "--no-owner", "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
            f"--dbname={_database_name(dsn)}", str(dump),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=_libpq_environment(dsn),
    )  # fmt: skip
    if restored.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing was replaced: {restored.stderr.strip()[:300]}")


def _database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def _libpq_environment(dsn: str) -> dict[str, str]:
    """Where and who to connect as, for pg_dump and pg_restore, through libpq's environment: a
    password on their command line would be readable by every local user."""
    parts = urlsplit(dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for name, value in (
        ("PGHOST", parts.hostname),
        ("PGPORT", str(parts.port) if parts.port else None),
        ("PGUSER", unquote(parts.username) if parts.username else None),
        ("PGPASSWORD", unquote(parts.password) if parts.password else None),
    ):
        if value:
            env[name] = value
    for option in parse_qsl(parts.query):
        if option[0] == "sslmode":
            env["PGSSLMODE"] = option[1]
    return env


def supersede_checkpoints(checkpoint_dir: Path, restored_rows: int, now: datetime) -> tuple[Path | None, int]:
    """Move the checkpoints that sign more rows than the restored trail holds into
    ``superseded-<UTC time>/`` beside them (kept: they prove what the restore lost), so that new
    rows can follow the restored trail. Returns that directory (None if nothing moved) and the
    most rows any moved checkpoint signed."""
    newer = [(size, path) for size, path in checkpoints.files(checkpoint_dir) if size > restored_rows]
    if not newer:
        return None, restored_rows
    aside = checkpoint_dir / f"superseded-{now.strftime('%Y%m%dT%H%M%SZ')}"
    aside.mkdir(mode=0o700)
    for _, path in newer:
        path.rename(aside / path.name)
    return aside, max(size for size, _ in newer)


async def verify_restored(settings: Settings, keyring: Keyring, manifest: Manifest) -> Verification:
    """Check the database now in use against the manifest, the keys and the checkpoints."""
    started = time.monotonic()
    result = Verification()
    for table in ALL_TABLES:
        name = table._meta.tablename
        count = int(await table.count().run())
        expected = manifest.tables.get(name)
        result.counts_checked += 1
        if expected is None:
            result.problems.append(f"table {name} is not in the manifest")
        elif count != expected:
            result.problems.append(f"table {name} has {count:,} rows; the backup had {expected:,}")
    for table, columns in ROTATED_COLUMNS.items():
        name = table._meta.tablename
        last = None
        while True:
            query = table.select(table._meta.primary_key, *(getattr(table, c) for c in columns))
            if last is not None:
                query = query.where(table._meta.primary_key > last)
            rows = await query.order_by(table._meta.primary_key).limit(PAGE).run()
            if not rows:
                break
            for row in rows:
                row_id = row[table._meta.primary_key._meta.name]
                for column in columns:
                    if row[column] is None:
                        continue
                    try:
                        keyring.decrypt(f"{name}.{column}", row_id, bytes(row[column]))
                        result.fields_decrypted += 1
                    except DecryptionError as exc:
                        result.problems.append(f"{exc} (is this the deployment's key directory?)")
                        if len(result.problems) > 20:
                            return result
            last = rows[-1][table._meta.primary_key._meta.name]
    head = await audit_service.head()
    moved_on = head.size and head.entry_hash != manifest.audit_head_hash
    if head.size != manifest.audit_head_seq or moved_on:
        result.problems.append(
            f"the audit trail ends at row {head.size:,}; "
            f"the backup's ended at row {manifest.audit_head_seq:,}"
        )
    public = checkpoints.load_signing_key(settings.keys_dir, create=not settings.production).public_key()
    report = await verify.verify_database(
        settings.checkpoint_dir, public, settings.audit_log_name, unsigned_allowed=settings.checkpoint_rows
    )
    result.audit_rows, result.checkpoints = report.rows, report.checkpoints
    if report.problem is not None:
        result.problems.append(f"audit trail: {report.problem}")
    result.seconds = time.monotonic() - started
    return result


async def backup(settings: Settings, destination: Path) -> Manifest:
    try:
        return await _backup(settings, destination)
    except (sqlite3.Error, asyncpg.PostgresError, OSError) as exc:
        raise BackupError(f"backup failed: {exc}") from exc


async def _backup(settings: Settings, destination: Path) -> Manifest:
    if settings.database.kind == "sqlite":
        if settings.database.sqlite_path is None or not settings.database.sqlite_path.exists():
            raise BackupError(f"there is no database at {settings.database.sqlite_path}")
        assert settings.database.sqlite_path is not None  # noqa: S101  (the settings ensure it)
        return await asyncio.to_thread(backup_sqlite, settings.database.sqlite_path, destination)
    assert settings.database.dsn is not None  # noqa: S101
    return await backup_postgres(settings.database.dsn, destination)


async def restore(settings: Settings, keyring: Keyring, source: Path, *, replace: bool) -> Manifest:
    """Put the backup in place (the engine must not be open yet); returns its manifest."""
    try:
        return await _restore(settings, keyring, source, replace=replace)
    except (sqlite3.Error, asyncpg.PostgresError, OSError) as exc:
        raise BackupError(f"restore failed: {exc}") from exc


async def _restore(settings: Settings, keyring: Keyring, source: Path, *, replace: bool) -> Manifest:
    manifest = Manifest.read(source)
    if manifest.format != FORMAT:
        raise BackupError(f"this backup's format is {manifest.format}; this Signpost reads {FORMAT}")
    if manifest.kind != settings.database.kind:
        raise BackupError(
            f"this is a {manifest.kind} backup; the settings name a {settings.database.kind} database"
        )
    if manifest.kind == "sqlite":
        assert settings.database.sqlite_path is not None  # noqa: S101
        await asyncio.to_thread(
            restore_sqlite, source, settings.database.sqlite_path, keyring, replace=replace
        )
    else:
        assert settings.database.dsn is not None  # noqa: S101
        await restore_postgres(source, settings.database.dsn, replace=replace)
    return manifest
