"""The Piccolo app that owns Signpost's tables and the top-level ``migrations/`` folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from app.api.tables import API_TABLES
from app.audit.tables import AUDIT_TABLES
from app.consent.tables import CONSENT_TABLES
from app.disclosure.tables import DISCLOSURE_TABLES
from app.feeds.tables import FEED_TABLES
from app.identity.tables import IDENTITY_TABLES
from app.involvement.tables import INVOLVEMENT_TABLES
from app.records.tables import TABLES
from app.search.tables import SEARCH_TABLES
from app.subject_access.tables import SUBJECT_ACCESS_TABLES

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

APP_CONFIG = AppConfig(
    app_name="signpost",
    migrations_folder_path=str(MIGRATIONS_DIR),
    table_classes=[
        *TABLES,
        *IDENTITY_TABLES,
        *AUDIT_TABLES,
        *SEARCH_TABLES,
        *INVOLVEMENT_TABLES,
        *SUBJECT_ACCESS_TABLES,
        *DISCLOSURE_TABLES,
        *CONSENT_TABLES,
        *FEED_TABLES,
        *API_TABLES,
    ],
    migration_dependencies=[],
    commands=[],
)
