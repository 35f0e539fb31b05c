"""Engines and sessions: SQLite (WAL, foreign keys on) by default, PostgreSQL through ``YUEJUAN_DATABASE_URL``.

SQLite allows one writer at a time. Sessions that write open their transaction with ``BEGIN IMMEDIATE`` (the
write lock is taken at the start, so two processes never both read and then fail to upgrade to a write);
sessions that only read use a second engine with plain deferred transactions, which in WAL mode never wait
for the writer. On PostgreSQL both are the same engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

__all__ = ["Database", "open_database", "migrate"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin hook below issues BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL a crash may lose the last commit, never the file
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@dataclass
class Database:
    """The service's database: ``write()`` and ``read()`` give sessions (use them as context managers)."""

    url: str
    write_engine: Engine
    read_engine: Engine

    def __post_init__(self) -> None:
        self.write = sessionmaker(self.write_engine, expire_on_commit=False)
        self.read = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def open_database(url: str) -> Database:
    """Connect to ``url`` (no schema change; see :func:`migrate`)."""
    if url.startswith("sqlite"):
        return Database(url, _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False))
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return Database(url, engine, engine)


def migrate(database: Database) -> None:
    """Bring the schema to the newest Alembic revision (what `yuejuan serve` does when it starts)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


