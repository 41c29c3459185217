from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean

ID = "2026-11-25T10:49:27:119265"
VERSION = "1.38.0"
DESCRIPTION = "An index of shielded records, which every feed import reads"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="signpost", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="Child",
        tablename="child",
        column_name="shielded",
        db_column_name="shielded",
        params={"index": True},
        old_params={"index": False},
        column_class=Boolean,
        old_column_class=Boolean,
        schema=None,
    )

    return manager
