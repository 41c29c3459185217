"""The audit trail is append-only in the database itself.

On PostgreSQL a trigger refuses every UPDATE, DELETE and TRUNCATE of ``audit_entry``, so no code
path can rewrite history by mistake. The table's owner can still disable the trigger (with one
database login, that is the application's login); the hash chain and signed checkpoints show
what changed, and docs/audit.md describes running the service as a role with only SELECT and
INSERT on the table. SQLite gets the same refusal for UPDATE and DELETE (it has no TRUNCATE).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.conf.apps import Finder
from piccolo.engine.postgres import PostgresEngine

ID = "2026-11-24T22:43:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_entry refuses UPDATE, DELETE and TRUNCATE"

POSTGRES_FORWARDS = [
    """
    CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()
    """,
    """
    CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()
    """,
]
POSTGRES_BACKWARDS = [
    "DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry",
    "DROP TRIGGER IF EXISTS audit_entry_no_change ON audit_entry",
    "DROP FUNCTION IF EXISTS audit_entry_append_only()",
]
SQLITE_FORWARDS = [
    """
    CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry
    BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry
    BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: DELETE refused'); END
    """,
]
SQLITE_BACKWARDS = [
    "DROP TRIGGER IF EXISTS audit_entry_no_update",
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="signpost", description=DESCRIPTION)

    async def run(postgres: list[str], sqlite: list[str]) -> None:
        engine = Finder().get_engine()  # type: ignore[no-untyped-call]
        for statement in postgres if isinstance(engine, PostgresEngine) else sqlite:
            await engine.run_ddl(statement)

    async def create_triggers() -> None:
        await run(POSTGRES_FORWARDS, SQLITE_FORWARDS)

    async def drop_triggers() -> None:
        await run(POSTGRES_BACKWARDS, SQLITE_BACKWARDS)

    manager.add_raw(create_triggers)
    manager.add_raw_backwards(drop_triggers)
    return manager
