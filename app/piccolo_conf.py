"""Piccolo's configuration, used by its migration machinery.

``DB`` is replaced by :func:`app.database.use_engine` with the engine built from Signpost's
settings; Piccolo's own CLI is not needed (``signpost migrate`` applies migrations).
"""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.sqlite import SQLiteEngine

DB = SQLiteEngine(path="var/signpost.sqlite3")

APP_REGISTRY = AppRegistry(apps=["app.piccolo_app"])
