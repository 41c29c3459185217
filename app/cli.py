"""The ``signpost`` command for operators. Every subcommand has ``--help``.

A problem with the settings, the keys or the database ends the command with one line on
standard error and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from app import database
from app.audit.checkpoints import CheckpointKeyError
from app.audit.service import Actor
from app.crypto.keyring import Keyring, KeyringError, check_key_permissions, key_versions, write_new_key
from app.identity.service import Role
from app.records.tables import LocalAuthority
from app.settings import Settings, SettingsError, load_settings

P = ParamSpec("P")
R = TypeVar("R")

EXIT_PROBLEM = 1
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_PROBLEM) -> None:
    click.echo(f"signpost: {message}", err=True)
    raise SystemExit(code)


def operator_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors an operator can fix into one line each."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SettingsError as exc:
            for problem in exc.problems:
                click.echo(f"signpost: configuration: {problem}", err=True)
            raise SystemExit(EXIT_CONFIG) from None
        except (KeyringError, database.DatabaseError, CheckpointKeyError) as exc:
            fail(str(exc))
            raise  # unreachable: fail() exits

    return wrapper


def run(coroutine: Coroutine[Any, Any, R]) -> R:
    return asyncio.run(coroutine)


def open_keyring(settings: Settings) -> Keyring:
    """The keyring; in development the first key is created on first use."""
    return Keyring(settings.keys_dir, create=not settings.production)


async def _connect(settings: Settings) -> Any:
    engine = database.make_engine(settings.database)
    database.use_engine(engine)
    if not await database.ping(engine):
        raise database.DatabaseError(f"cannot reach the database ({settings.database.describe()})")
    return engine


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Signpost: who else is working with a child, and how to reach them."""


@main.command()
@operator_errors
def migrate() -> None:
    """Apply pending database migrations (refuses a database from a newer Signpost)."""
    settings = load_settings()

    async def go() -> list[str]:
        engine = await _connect(settings)
        try:
            return await database.migrate()
        finally:
            await database.close(engine)

    if settings.database.kind == "sqlite" and settings.database.sqlite_path is not None:
        settings.database.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        database.prepare_sqlite_file(settings.database.sqlite_path)
    applied = run(go())
    if applied:
        click.echo(f"Applied {len(applied)} migration(s) to {settings.database.describe()}.")
    else:
        click.echo(f"{settings.database.describe()} is up to date.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@operator_errors
def serve(host: str, port: int, workers: int) -> None:
    """Serve Signpost over HTTP (put TLS in front of it in production)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    settings = load_settings()
    open_keyring(settings)
    if settings.production:
        for problem in check_key_permissions(settings.keys_dir):
            fail(problem)

    async def preflight() -> database.MigrationState:
        engine = await _connect(settings)
        try:
            state = await database.migration_state()
            if state.current:
                await database.ensure_indexes()
            return state
        finally:
            await database.close(engine)

    state = run(preflight())
    if state.unknown:
        fail("the database was migrated by a newer Signpost; upgrade Signpost first")
    if state.pending:
        fail(f"{len(state.pending)} migration(s) pending: run 'signpost migrate' first")
    click.echo(f"Signpost serving {settings.origin} on http://{host}:{port} ({settings.database.describe()})")
    config = uvicorn.Config(
        "app.main:asgi_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        log_level=settings.log_level.lower(),
        # The client address (for throttling) comes from X-Forwarded-For only when it is set by
        # one of SIGNPOST_TRUSTED_PROXIES; otherwise it is the TCP peer.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            fail("the server did not start (see the message above)")
        return
    Multiprocess(config, sockets=[listening_socket(config)]).run()


def listening_socket(config: Any) -> socket.socket:
    """The socket several workers share. uvicorn opens it without naming TCP, so asyncio leaves
    Nagle's algorithm on for every connection: a response's body then waits for the client to
    acknowledge its headers (40 ms of delayed ACK on Linux). Accepted connections inherit
    TCP_NODELAY from the listening socket."""
    sock: socket.socket = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@main.command()
@click.option("--children", default=3000, show_default=True, type=click.IntRange(0, 50_000_000))
@click.option("--seed", "seed_value", default=1, show_default=True, type=click.IntRange(0, 2**31))
@click.option("--authorities", default=1, show_default=True, type=click.IntRange(1, 500))
@click.option("--as-of", "as_of", default=None, help="Date the ages are counted from (YYYY-MM-DD).")
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--workers", default=os.cpu_count() or 1, show_default="CPU count", type=click.IntRange(1, 64))
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds children.")
@operator_errors
def seed(
    children: int,
    seed_value: int,
    authorities: int,
    as_of: str | None,
    batch_size: int,
    workers: int,
    progress: bool | None,
    if_empty: bool,
) -> None:
    """Load synthetic demo data: the same children for the same --seed and --as-of."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from app.records.tables import Child
    from app.seed.service import SeedError, ensure_authorities, make_plan, seed_children

    settings = load_settings()
    if settings.production:
        fail("seed loads synthetic data and is refused in production")
    try:
        reference = date.fromisoformat(as_of) if as_of else datetime.now(UTC).date()
    except ValueError:
        fail("--as-of must be a date like 2026-01-31")
        return
    open_keyring(settings)

    async def prepare() -> list[Any] | None:
        engine = await _connect(settings)
        try:
            state = await database.migration_state()
            if not state.current:
                raise database.DatabaseError("the database is not migrated: run 'signpost migrate' first")
            if if_empty and await Child.exists().run():
                return None
            return await ensure_authorities(seed_value, authorities, children)
        finally:
            await database.close(engine)

    contexts = run(prepare())
    if contexts is None:
        click.echo("The database already holds children; nothing seeded.")
        return
    plan = make_plan(settings.keys_dir, contexts, reference, source="synthetic")
    show = sys.stderr.isatty() if progress is None else progress
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not show,
    ) as bar:
        task = bar.add_task("Seeding children", total=children)
        try:
            result = seed_children(
                settings.database,
                plan,
                seed=seed_value,
                children=children,
                batch_size=batch_size,
                workers=workers,
                on_progress=lambda n: bar.advance(task, n),
            )
        except SeedError as exc:
            fail(str(exc))
            return
    click.echo(
        f"Seeded {result.children} children in {authorities} authorit{'y' if authorities == 1 else 'ies'} "
        f"in {result.seconds:.1f} s ({result.rate:,.0f} children/s)."
    )


@main.command()
@operator_errors
def check() -> None:
    """Validate the configuration, keys and database, and print what is wrong."""
    problems: list[str] = []
    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            click.echo(f"configuration: {problem}")
        raise SystemExit(EXIT_CONFIG) from None
    click.echo(f"environment: {settings.env}")
    click.echo(f"origin: {settings.origin} (WebAuthn RP ID {settings.rp_id})")
    click.echo(f"database: {settings.database.describe()}")
    versions = key_versions(settings.keys_dir)
    if not versions:
        problems.append(f"keys: no root key in {settings.keys_dir}")
    else:
        try:
            Keyring(settings.keys_dir)
            click.echo(f"keys: {len(versions)} root key version(s) in {settings.keys_dir}")
        except KeyringError as exc:
            problems.append(f"keys: {exc}")
        problems += [f"keys: {p}" for p in check_key_permissions(settings.keys_dir)]
    from app.audit import checkpoints

    try:
        checkpoints.load_signing_key(settings.keys_dir)
        click.echo(f"audit: signing key in {settings.keys_dir}; checkpoints in {settings.checkpoint_dir}")
    except CheckpointKeyError as exc:
        if settings.production or (settings.keys_dir / checkpoints.SIGNING_KEY_FILE).exists():
            problems.append(f"audit: {exc}")
        else:
            click.echo("audit: no signing key yet; the service creates one when it first starts")

    async def probe() -> None:
        engine = database.make_engine(settings.database)
        database.use_engine(engine)
        try:
            if not await database.ping(engine):
                problems.append(f"database: cannot reach {settings.database.describe()}")
                return
            state = await database.migration_state()
            if state.unknown:
                problems.append("database: migrated by a newer Signpost")
            elif state.pending:
                problems.append(f"database: {len(state.pending)} migration(s) pending")
            else:
                click.echo(f"database: reachable, {len(state.applied)} migration(s) applied")
        finally:
            await database.close(engine)

    run(probe())
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(EXIT_PROBLEM)
    click.echo("All checks passed.")


@main.group()
def keys() -> None:
    """Manage the root keys that encrypt personal fields."""


@keys.command("init")
@operator_errors
def keys_init() -> None:
    """Create the first root key and the audit signing key, whichever is missing (production
    deployments; development creates them itself)."""
    from app.audit import checkpoints

    settings = load_settings()
    has_root = bool(key_versions(settings.keys_dir))
    has_signing = (settings.keys_dir / checkpoints.SIGNING_KEY_FILE).exists()
    if has_root and has_signing:
        fail(f"{settings.keys_dir} already holds both keys; use 'signpost keys rotate' for a new root key")
    if not has_root:
        path = write_new_key(settings.keys_dir, 1)
        click.echo(f"Created root key {path}. Back it up apart from the database.")
    if not has_signing:
        signing = checkpoints.create_signing_key(settings.keys_dir)
        click.echo(
            f"Created audit signing key {signing}; give {settings.keys_dir / checkpoints.PUBLIC_KEY_FILE} "
            "to whoever checks the shipped checkpoints."
        )


@keys.command("rotate")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@operator_errors
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt and re-index every row under a new root key, then delete the old key.

    Resumable: if interrupted, run it again and it carries on where it stopped.
    """
    from app.crypto.rotation import RotationError, rotate

    settings = load_settings()
    keyring = open_keyring(settings)

    async def go() -> Any:
        engine = await _connect(settings)
        try:
            state = await database.migration_state()
            if not state.current:
                raise database.DatabaseError("the database is not migrated: run 'signpost migrate' first")
            return await rotate(keyring, batch_size=batch_size, on_batch=lambda t, n: None)
        finally:
            await database.close(engine)

    try:
        result = run(go())
    except RotationError as exc:
        fail(str(exc))
        return
    click.echo(
        f"Rotated to root key version {result.version}: {result.rows} row(s) re-encrypted; "
        f"retired version(s) {', '.join(map(str, result.retired)) or 'none'}."
    )


@main.group()
def users() -> None:
    """Manage practitioners' accounts."""


@users.command("create")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--email", required=True, help="Their work email address.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="Their role.")
@click.option("--org", "organisation", required=True, help="Their organisation (created if new).")
@click.option("--authority", required=True, help="The local authority's ONS code or name (created if new).")
@click.option(
    "--authority-telephone", default=None, help="The local Signpost team's telephone, for a new authority."
)
@click.option("--authority-email", default=None, help="The local Signpost team's email, for a new authority.")
@click.option("--if-no-admin", is_flag=True, help="Do nothing if a local-authority admin already exists.")
@operator_errors
def users_create(
    name: str,
    email: str,
    role: str,
    organisation: str,
    authority: str,
    authority_telephone: str | None,
    authority_email: str | None,
    if_no_admin: bool,
) -> None:
    """Create a practitioner and print their one-time enrolment code (alone on the last line)."""
    from app.identity import service
    from app.records.validation import is_email, is_name, is_org_text, is_telephone

    settings = load_settings()
    problems = []
    if not is_name(name) or len(name) > 120:
        problems.append("--name must be a name of letters, spaces, hyphens and apostrophes")
    if not is_email(email):
        problems.append("--email must be an email address")
    if not is_org_text(organisation) or len(organisation) > 120:
        problems.append("--org must be an organisation name of letters and numbers")
    if not is_org_text(authority) or len(authority) > 100:
        problems.append("--authority must be an ONS code or an authority name")
    if authority_telephone is not None and not is_telephone(authority_telephone):
        problems.append("--authority-telephone must be a telephone number")
    if authority_email is not None and not is_email(authority_email):
        problems.append("--authority-email must be an email address")
    for problem in problems:
        click.echo(f"signpost: {problem}", err=True)
    if problems:
        raise SystemExit(EXIT_CONFIG)
    keyring = open_keyring(settings)

    async def go() -> str | None:
        engine = await _connect(settings)
        try:
            state = await database.migration_state()
            if not state.current:
                raise database.DatabaseError("the database is not migrated: run 'signpost migrate' first")
            if if_no_admin and await service.any_admin():
                return None
            if await service.find_by_email(keyring, email) is not None:
                raise database.DatabaseError("someone with that email already has an account")
            if settings.production and (authority_telephone is None or authority_email is None):
                exists = (
                    await LocalAuthority.exists()
                    .where((LocalAuthority.code == authority) | (LocalAuthority.name == authority))
                    .run()
                )
                if not exists:
                    raise database.DatabaseError(
                        "a new authority needs --authority-telephone and --authority-email in production"
                    )
            authority_id = await service.ensure_authority(
                authority, authority_telephone or "01632 960 000", authority_email or "signpost@localhost"
            )
            _, code = await service.create_practitioner(
                keyring,
                name=name,
                email=email,
                role=Role(role),
                authority_id=authority_id,
                organisation=organisation,
                now=datetime.now(UTC),
                actor=Actor("operator", authority_id=authority_id),
            )
            return code
        finally:
            await database.close(engine)

    code = run(go())
    if code is None:
        click.echo("A local-authority admin already exists; nobody created.")
        return
    click.echo(
        f"Created {role} account for {email}. Enrol at {settings.origin}/enrol with this one-time code:"
    )
    click.echo(code)


@main.group()
def audit() -> None:
    """Check and export the tamper-evident audit trail."""


def _public_key(settings: Settings, path: str | None) -> Any:
    from app.audit import checkpoints

    if path is not None:
        return checkpoints.load_public_key(Path(path))
    return checkpoints.load_signing_key(settings.keys_dir).public_key()


@audit.command("verify")
@click.option(
    "--file",
    "export_file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Check a JSON-lines export instead of the database.",
)
@click.option(
    "--checkpoints",
    "checkpoint_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Signed checkpoints to check against (default: SIGNPOST_AUDIT_CHECKPOINT_DIR).",
)
@click.option(
    "--public-key",
    default=None,
    type=click.Path(dir_okay=False),
    help="The audit public key (default: from the keys directory).",
)
@click.option(
    "--whole",
    is_flag=True,
    help="With --file: the export must be the whole log, from row 1 to the newest checkpoint.",
)
@operator_errors
def audit_verify(
    export_file: str | None, checkpoint_dir: str | None, public_key: str | None, whole: bool
) -> None:
    """Recompute the hash chain from the start and check every signed checkpoint against it.

    Exits 0 only when everything holds; otherwise names the first bad row and what is wrong.
    """
    from app.audit import verify

    settings = load_settings()
    key = _public_key(settings, public_key)
    directory = Path(checkpoint_dir) if checkpoint_dir else settings.checkpoint_dir

    if export_file is not None:
        with Path(export_file).open("rb") as handle:
            report = verify.verify_export(handle, directory, key, settings.audit_log_name, whole_log=whole)
    else:

        async def go() -> verify.Report:
            engine = await _connect(settings)
            try:
                state = await database.migration_state()
                if not state.current:
                    raise database.DatabaseError("the database is not migrated: run 'signpost migrate' first")
                return await verify.verify_database(
                    directory, key, settings.audit_log_name, unsigned_allowed=settings.checkpoint_rows
                )
            finally:
                await database.close(engine)

        report = run(go())
    if report.problem is not None:
        fail(f"audit trail: {report.problem}")
    last = report.first_seq + report.rows - 1
    click.echo(
        f"Audit trail verified: rows {report.first_seq} to {last} ({report.rows:,}) chain correctly; "
        f"{report.checkpoints} signed checkpoint(s) agree; head {report.head_hash[:16]}."
        if report.rows
        else f"Audit trail verified: no rows; {report.checkpoints} signed checkpoint(s)."
    )


@audit.command("export")
@click.option(
    "--since",
    default="1",
    show_default=True,
    help="First row: a sequence number, or a date or time (UTC) like 2026-11-24.",
)
@click.option(
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write (- for standard output).",
)
@operator_errors
def audit_export(since: str, output: str) -> None:
    """Write audit rows as JSON lines, for shipping to a separate system.

    Each line holds every column, both hashes included, so the copy can be checked on its own
    with 'signpost audit verify --file'.
    """
    import json

    from app.audit import service
    from app.audit.chain import export_row

    settings = load_settings()
    first: int | None = int(since) if since.isascii() and since.isdecimal() and len(since) <= 18 else None
    moment: datetime | None = None
    if first is None:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            fail("--since must be a sequence number or a date like 2026-11-24")
            return
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    async def go(write: Callable[[str], Any]) -> int:
        engine = await _connect(settings)
        try:
            start = first if first is not None else await service.first_seq_at_or_after(moment)  # type: ignore[arg-type]
            count = 0
            async for row in service.rows_from(max(start, 1)):
                write(json.dumps(export_row(row), separators=(",", ":")) + "\n")
                count += 1
            return count
        finally:
            await database.close(engine)

    if output == "-":
        count = run(go(sys.stdout.write))
    else:
        with Path(output).open("w", encoding="utf-8") as handle:
            count = run(go(handle.write))
        click.echo(f"Exported {count:,} audit row(s) to {output}.")


@audit.command("checkpoint")
@operator_errors
def audit_checkpoint() -> None:
    """Sign a checkpoint of the audit trail now (the service also does so by itself)."""
    from app.audit import background, checkpoints

    settings = load_settings()
    key = checkpoints.load_signing_key(settings.keys_dir, create=not settings.production)

    async def go() -> Any:
        engine = await _connect(settings)
        try:
            return await background.checkpoint(settings, key, datetime.now(UTC), force=True)
        finally:
            await database.close(engine)

    checkpoint = run(go())
    if checkpoint is None:
        click.echo("Nothing new to sign: the newest checkpoint already covers every row.")
    else:
        click.echo(f"Signed a checkpoint of {checkpoint.size:,} row(s) in {settings.checkpoint_dir}.")


@main.group()
def retention() -> None:
    """Delete what may no longer be kept, and invite young people to decide (docs/consent.md)."""


@retention.command("run")
@click.option(
    "--today",
    "today_text",
    default=None,
    metavar="YYYY-MM-DD",
    help="Run as if it were this UK day (for tests and drills; default: today in the UK).",
)
@click.option("--dry-run", is_flag=True, help="Report what would be deleted and invited; change nothing.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 500))
@operator_errors
def retention_run(today_text: str | None, dry_run: bool, batch_size: int) -> None:
    """Delete every record past its retention date and make the invitations now due.

    Idempotent and safe to interrupt: run it from cron hourly; a second run the same day does
    nothing more, a run killed part-way is finished by the next, and a run that starts while
    another is still going (on the same data directory) leaves it to finish.
    """
    import fcntl

    from app.consent import retention as engine_module
    from app.consent.dates import uk_date

    settings = load_settings()
    keyring = open_keyring(settings)
    now = datetime.now(UTC)
    today = uk_date(now)
    if today_text is not None:
        try:
            chosen = date.fromisoformat(today_text)
        except ValueError:
            fail(f"--today must be a date like 2026-11-25, not {today_text[:20]!r}", EXIT_CONFIG)
            return
        if settings.production and chosen > today and not dry_run:
            fail("--today after today deletes records before their time; in production use it with --dry-run")
        today = chosen
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = (settings.data_dir / "retention.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        click.echo("Another retention run is still going; this one does nothing (the next run carries on).")
        return

    async def go() -> engine_module.Summary:
        engine = await _connect(settings)
        try:
            state = await database.migration_state()
            if not state.current:
                raise database.DatabaseError("the database is not migrated: run 'signpost migrate' first")
            return await engine_module.run(
                keyring,
                today=today,
                now=now,
                invite_months=settings.consent_invite_months,
                dry_run=dry_run,
                batch_size=batch_size,
            )
        finally:
            await database.close(engine)

    summary = run(go())
    verb = "Would delete" if dry_run else "Deleted"
    if summary.full_scan:
        scope = "every record (the first run, or the first of a Sunday)"
    elif summary.later_run:
        scope = "consent ended (the day's first run did birthdays and invitations)"
    else:
        scope = "the months due"
    click.echo(f"Retention run for {today.isoformat()}{' (dry run: nothing changed)' if dry_run else ''}")
    click.echo(f"  looked at {summary.scanned} record(s): {scope}")
    click.echo(f"  {verb.lower()} {summary.deleted_total} record(s)")
    for reason in engine_module.Reason:
        click.echo(f"    {summary.deleted[reason]} {engine_module.REASON_LABELS[reason]}")
    click.echo(f"  {'would invite' if dry_run else 'invited'} {summary.invited} young people to decide")
    if summary.expired_reviews:
        verb = "would erase" if dry_run else "erased"
        click.echo(f"  {verb} {summary.expired_reviews} feed row(s) waiting for review about someone now 18")
    if not dry_run and summary.indexed:
        click.echo(f"  indexed the month {summary.indexed} record(s) turn 18")
    click.echo(f"  took {summary.seconds:.1f} s")


def _print_report(report: Any) -> None:
    """The importer's report: counts, or every problem with its line and column."""
    if report.rejected:
        click.echo(
            f"Rejected: nothing was imported. {report.rows} row(s) read; fix these and load the file again:"
        )
        for problem in report.problems:
            where = "the file" if problem.line == 0 else f"line {problem.line}"
            column = f", column {problem.column}" if problem.column else ""
            click.echo(f"  {where}{column}: {problem.message}")
        if report.more_problems:
            click.echo(f"  ... and {report.more_problems} more problem(s)")
        return
    click.echo(f"Imported {report.rows} row(s):")
    click.echo(f"  {report.created} new record(s)")
    click.echo(f"  {report.updated} record(s) updated, {report.unchanged} unchanged")
    click.echo(f"  {report.moved} record(s) moved in from another authority")
    click.echo(f"  {report.queued} row(s) waiting for review (the local-authority admin's review queue)")
    if report.skipped:
        click.echo(f"  {report.skipped} row(s) skipped: 18 or over, with no record kept with consent")


@main.group("api-clients")
def api_clients() -> None:
    """Case-management systems that use the API (the Signpost team's page is /admin/api-clients)."""


@api_clients.command("register")
@click.option("--name", required=True, help="The system's name, e.g. 'Northbrook school MIS'.")
@click.option("--org", "organisation", required=True, help="The organisation that runs it (must exist).")
@click.option("--authority", required=True, help="The organisation's local authority: ONS code or name.")
@operator_errors
def api_clients_register(name: str, organisation: str, authority: str) -> None:
    """Register a client for an existing organisation and print its secret (alone on the last
    line; Signpost cannot show it again)."""
    from app.api import clients
    from app.identity.tables import Organisation
    from app.records.validation import is_org_text

    if not is_org_text(name) or len(name) > clients.NAME_LIMIT:
        fail(f"--name must be letters and numbers, at most {clients.NAME_LIMIT} characters", EXIT_CONFIG)
    settings = load_settings()

    async def go() -> str:
        engine = await _connect(settings)
        try:
            found = (
                await Organisation.select(Organisation.id, Organisation.local_authority)
                .where(
                    (Organisation.name == organisation)
                    & (
                        (Organisation.local_authority.code == authority)
                        | (Organisation.local_authority.name == authority)
                    )
                )
                .run()
            )
            if not found:
                raise database.DatabaseError("no such organisation in that authority")
            actor = Actor("operator", authority_id=found[0]["local_authority"])
            _, secret = await clients.register(
                name, found[0]["id"], found[0]["local_authority"], actor, datetime.now(UTC)
            )
            return secret
        finally:
            await database.close(engine)

    secret = run(go())
    click.echo(f"Registered {name}. Its secret, shown only now:")
    click.echo(secret)


@main.command("import")
@click.option(
    "--source",
    required=True,
    help="The feed's source, recorded on each record it writes (lower case, like school-census).",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@operator_errors
def import_command(source: str, file: Path, progress: bool | None) -> None:
    """Load a source feed (CSV, docs/feed-format.md) in one transaction.

    Every row is checked first; one bad row rejects the file with a report naming each line and
    column, and nothing is imported. Rows that match one record update it, rows that match none
    create one, and rows that could be either go to the review queue.
    """
    import re

    from app.audit.service import OPERATOR, AuditUnavailableError
    from app.feeds.importer import FeedChangedError, import_feed

    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,39}", source):
        fail("--source must be lower-case letters, digits, '.', '_' or '-', up to 40 characters", EXIT_CONFIG)
    settings = load_settings()
    keyring = open_keyring(settings)
    show = sys.stdout.isatty() if progress is None else progress
    bar: Any = None

    def checked(report: Any) -> None:
        nonlocal bar
        if show and not report.rejected:
            bar = click.progressbar(length=report.rows, label="Importing", file=sys.stderr)
            bar.__enter__()

    done = 0

    def advance(seen: int) -> None:
        nonlocal done
        if bar is not None and seen - done >= 1000:
            bar.update(seen - done)
            done = seen

    def lines() -> Iterator[str]:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            yield from stream

    async def go() -> Any:
        engine = await _connect(settings)
        try:
            state = await database.migration_state()
            if not state.current:
                raise database.DatabaseError("the database is not migrated: run 'signpost migrate' first")
            return await import_feed(
                lines,
                keyring,
                source=source,
                actor=OPERATOR,
                now=datetime.now(UTC),
                progress=advance,
                checked=checked,
            )
        finally:
            await database.close(engine)

    try:
        report = run(go())
    except FeedChangedError:
        fail("the file changed while it was being imported; nothing was imported")
    except AuditUnavailableError:
        fail("the database refused the import (see the service log); nothing was imported")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    _print_report(report)
    if report.rejected:
        sys.exit(EXIT_PROBLEM)


@main.command("demo-feed")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--authority", default=None, help="The authority's ONS code or name (default: the first).")
@click.option("--rows", default=40, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", "seed_value", default=1, show_default=True, type=click.IntRange(0, 2**31))
@operator_errors
def demo_feed(file: Path, authority: str | None, rows: int, seed_value: int) -> None:
    """Write a demo feed for one authority from the demo data: address changes, a new surname,
    typos, and new children, so that loading it updates, creates and queues rows for review."""
    from app.feeds.demo import DemoFeedError, write_demo_feed

    settings = load_settings()
    keyring = open_keyring(settings)

    async def go() -> Any:
        engine = await _connect(settings)
        try:
            return await write_demo_feed(keyring, file, authority=authority, rows=rows, seed=seed_value)
        finally:
            await database.close(engine)

    try:
        summary = run(go())
    except DemoFeedError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {file}: {exc.strerror or exc}")
    click.echo(f"Wrote {summary} to {file}")


@main.command("backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@operator_errors
def backup_command(destination: Path) -> None:
    """Copy the database, consistently, into a new directory DESTINATION, with a manifest of
    its row counts and audit head (docs/reliability.md). The keys are not copied: back them up
    separately. Safe while the service runs."""
    from app import backup

    settings = load_settings()
    started = time.monotonic()
    try:
        manifest = run(backup.backup(settings, destination))
    except backup.BackupError as exc:
        fail(str(exc))
        return
    click.echo(
        f"Backed up {sum(manifest.tables.values()):,} rows of {len(manifest.tables)} tables "
        f"({manifest.tables.get('child', 0):,} children, audit trail to row {manifest.audit_head_seq:,}) "
        f"into {destination} in {time.monotonic() - started:.1f} s."
    )
    click.echo(
        "The keys and checkpoints are not in the backup: keep copies of the keys directory and the "
        "checkpoint directory somewhere else, and keep the backup encrypted."
    )


@main.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Restore over a database that holds records.")
@click.option(
    "--supersede-newer-checkpoints",
    is_flag=True,
    help="The backup is older than the newest signed checkpoint (a restore after a loss): move the "
    "checkpoints beyond it aside, report the rows lost, and verify against the rest.",
)
@operator_errors
def restore_command(source: Path, replace: bool, supersede_newer_checkpoints: bool) -> None:
    """Put the backup in SOURCE in place of the database, then verify it: row counts against
    the manifest, every encrypted field against the keys, and the audit chain against the
    signed checkpoints. Exit 0 only if all of it holds. Stop the service first."""
    from app import backup

    settings = load_settings()
    keyring = open_keyring(settings)
    started = time.monotonic()

    async def go() -> Any:
        manifest = await backup.restore(settings, keyring, source, replace=replace)
        click.echo(f"Restored the backup of {manifest.made_at} in {time.monotonic() - started:.1f} s.")
        engine = await _connect(settings)
        try:
            state = await database.migration_state()
            if not state.current:
                raise backup.BackupError(
                    "restored, but the backup is from another Signpost version: run 'signpost migrate', "
                    "then 'signpost check'"
                )
            aside, signed = None, manifest.audit_head_seq
            if supersede_newer_checkpoints:  # only once the restored database is one we can run
                aside, signed = backup.supersede_checkpoints(
                    settings.checkpoint_dir, manifest.audit_head_seq, datetime.now(UTC)
                )
            if aside is not None:  # said at once: nothing after this may keep it quiet
                click.echo(
                    f"The audit trail had reached at least row {signed:,}; the backup ends at row "
                    f"{manifest.audit_head_seq:,}, so at least {signed - manifest.audit_head_seq:,} audited "
                    f"action(s) since the backup are lost. The checkpoints that prove it are kept in {aside}."
                )
            result = await backup.verify_restored(settings, keyring, manifest)
            if aside is not None and result.ok:
                # The trail itself records the loss, so it cannot be hidden by deleting a directory.
                from app.audit import service as audit

                await audit.record(
                    "audit.checkpoints_superseded",
                    audit.OPERATOR,
                    at=datetime.now(UTC),
                    detail={"restored_rows": manifest.audit_head_seq, "signed_rows": signed},
                )
            return result
        finally:
            await database.close(engine)

    try:
        result = run(go())
    except backup.BackupError as exc:
        fail(str(exc))
        return
    click.echo(
        f"Verified in {result.seconds:.1f} s: {result.counts_checked} tables' row counts, "
        f"{result.fields_decrypted:,} encrypted fields, audit trail of {result.audit_rows:,} rows "
        f"against {result.checkpoints} signed checkpoint(s)."
    )
    if not result.ok:
        for problem in result.problems:
            click.echo(f"  problem: {problem}", err=True)
        if not supersede_newer_checkpoints and any("checkpoint" in p for p in result.problems):
            click.echo(
                "  If the backup is older than the newest checkpoint (a restore after a loss), run "
                "again with --replace --supersede-newer-checkpoints.",
                err=True,
            )
        fail("the restored database did not verify")
    click.echo("Everything matches the backup.")
