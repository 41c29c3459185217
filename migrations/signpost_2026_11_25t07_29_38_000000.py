"""The turns-18 blind index, by bucket and then ID: the retention engine reads one bucket at a
time in ID order (app/consent/retention.py), and this index answers each batch directly on
SQLite and PostgreSQL alike."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.conf.apps import Finder

ID = "2026-11-25T07:29:38:000000"
VERSION = "1.38.0"
DESCRIPTION = "turns-18 index by bucket and ID"

CREATE = "CREATE INDEX IF NOT EXISTS child_bidx_turns_18_id ON child (bidx_turns_18, id)"
DROP = "DROP INDEX IF EXISTS child_bidx_turns_18_id"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="signpost", description=DESCRIPTION)

    async def create_index() -> None:
        await Finder().get_engine().run_ddl(CREATE)  # type: ignore[no-untyped-call]

    async def drop_index() -> None:
        await Finder().get_engine().run_ddl(DROP)  # type: ignore[no-untyped-call]

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
