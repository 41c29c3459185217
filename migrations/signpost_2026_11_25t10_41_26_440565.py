from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-25T10:41:26:440565"
VERSION = "1.38.0"
DESCRIPTION = "The same feed row is not queued for review twice"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="signpost", description=DESCRIPTION)

    manager.add_column(
        table_class_name="FeedReview",
        tablename="feed_review",
        column_name="row_hash",
        db_column_name="row_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 32,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
