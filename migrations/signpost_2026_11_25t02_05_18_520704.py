"""The audit trail's child index becomes (child, actor, action, time): opening a record asks
whether a search showed that child to that practitioner in the last day, which the old index
answered only by reading every entry about the child."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.conf.apps import Finder

ID = "2026-11-25T02:05:18:520704"
VERSION = "1.38.0"
DESCRIPTION = "audit index by child, actor, action and time"

CREATE = "CREATE INDEX IF NOT EXISTS audit_entry_child_actor ON audit_entry (child_id, actor_id, action, at)"
DROP = "DROP INDEX IF EXISTS audit_entry_child_actor"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="signpost", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="AuditEntry",
        tablename="audit_entry",
        column_name="child_id",
        db_column_name="child_id",
        params={"index": False},
        old_params={"index": True},
        column_class=BigInt,
        old_column_class=BigInt,
        schema=None,
    )

    async def create_index() -> None:
        await Finder().get_engine().run_ddl(CREATE)  # type: ignore[no-untyped-call]

    async def drop_index() -> None:
        await Finder().get_engine().run_ddl(DROP)  # type: ignore[no-untyped-call]

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
