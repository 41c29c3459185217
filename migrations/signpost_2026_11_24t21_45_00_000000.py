"""A named unique index on the Signpost ID (rather than an inline UNIQUE constraint), so that a
bulk load into an empty database can build it once at the end (app/seed/service.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.conf.apps import Finder

ID = "2026-11-24T21:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique index on the Signpost ID"

CREATE = "CREATE UNIQUE INDEX IF NOT EXISTS child_signpost_id ON child (signpost_id)"
DROP = "DROP INDEX IF EXISTS child_signpost_id"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="signpost", description=DESCRIPTION)

    async def create_index() -> None:
        await Finder().get_engine().run_ddl(CREATE)  # type: ignore[no-untyped-call]

    async def drop_index() -> None:
        await Finder().get_engine().run_ddl(DROP)  # type: ignore[no-untyped-call]

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
