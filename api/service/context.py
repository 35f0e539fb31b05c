"""What every request and worker shares: the settings, the database and the page store."""

from __future__ import annotations

from dataclasses import dataclass

from api.service.db import Database, migrate, open_database
from api.service.settings import Settings
from api.service.storage import BlobStore

__all__ = ["Service", "open_service"]


@dataclass
class Service:
    settings: Settings
    db: Database
    blobs: BlobStore

    def close(self) -> None:
        """Finish the background marking jobs in hand (a late score's regrade, crops being cut), then let the
        database go: a job left running would meet a closed (or, in tests, dropped) database."""
        from api.service.marking_jobs import finish_jobs

        finish_jobs(self)
        self.db.dispose()


def open_service(settings: Settings, *, migrate_schema: bool = True) -> Service:
    """Connect, create the data folders and (by default) migrate the schema to the newest revision."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.blob_dir.mkdir(parents=True, exist_ok=True)
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.sqlalchemy_url)
    if migrate_schema:
        migrate(db)
    return Service(settings, db, BlobStore(settings.blob_dir))
