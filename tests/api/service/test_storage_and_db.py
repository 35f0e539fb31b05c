"""The database (SQLite WAL + foreign keys, PostgreSQL, Alembic), the page store and credentials."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from api.service.context import open_service
from api.service.db import migrate
from api.service.models import AuditEntry, Student
from api.service.security import key_prefix, new_api_key, new_token, secret_hash, verify_password, hash_password
from api.service.settings import Settings
from api.service.storage import BlobStore


def test_sqlite_runs_in_wal_mode_with_foreign_keys(service):
    with service.db.read() as session:
        assert session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
    with service.db.write() as session, pytest.raises(sa.exc.IntegrityError):
        session.add(Student(school_id="9999999999", exam_id="1"))  # no such school
        session.commit()


def _audit_entry(session) -> None:
    session.add(AuditEntry(actor="user:x", action="test", object_type="t", object_id="1", after={"v": 1}))
    session.commit()


def _audit_log_refuses_changes(service) -> None:
    with service.db.write() as session:
        _audit_entry(session)
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with service.db.write() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(sa.text(statement))
            session.commit()
    with service.db.read() as session:
        assert session.execute(sa.text("SELECT actor FROM audit_log")).scalars().all() == ["user:x"]


def test_audit_log_is_append_only_in_sqlite(service):
    _audit_log_refuses_changes(service)


def test_postgres_schema_and_append_only_audit_log(pg_url, tmp_path):
    service = open_service(Settings(data_dir=tmp_path, database_url=pg_url, _env_file=None))
    try:
        assert service.db.dialect == "postgresql"
        _audit_log_refuses_changes(service)
        with service.db.write() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(sa.text("TRUNCATE audit_log"))
            session.commit()
        migrate(service.db)  # a second start finds the schema current and changes nothing
    finally:
        service.close()


def test_migrations_go_down_and_up_again(service):
    from alembic import command
    from alembic.config import Config

    from api.service.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with service.db.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        connection.commit()
        assert sa.inspect(connection).get_table_names() == ["alembic_version"]
    migrate(service.db)
    with service.db.read() as session:
        assert "audit_log" in sa.inspect(session.connection()).get_table_names()
    _audit_log_refuses_changes(service)


def test_blob_store_is_content_addressed_and_write_once(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    data = b"\xff\xd8\xff scan bytes"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path(sha).relative_to(tmp_path / "blobs").parts == (sha[:2], sha[2:4], sha)
    assert store.put(data) == sha and store.read(sha) == data
    assert not list(store.path(sha).parent.glob(".incoming-*"))
    for bad in ("../../etc/passwd", "A" * 64, sha[:-1]):
        with pytest.raises(ValueError):
            store.path(bad)


def test_blob_store_streams_without_holding_the_file(tmp_path):
    import io

    store = BlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * 40_000  # ~10 MB, copied in 64 KiB chunks
    sha, size = store.put_stream(io.BytesIO(data), limit=len(data), chunk=1 << 16)
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data)) and store.read(sha) == data
    assert store.put_stream(io.BytesIO(data), limit=len(data)) == (sha, size)  # stored once
    assert store.put_stream(io.BytesIO(data + b"!"), limit=len(data)) is None  # one byte over: nothing kept
    assert sorted(p.name for p in store.root.rglob("*") if p.is_file()) == [sha]


def test_secrets_are_stored_only_as_hashes():
    key, prefix, key_hash = new_api_key()
    assert key.startswith("yj_") and prefix == key_prefix(key) and key_hash == secret_hash(key)
    assert len(key) > 40 and key not in key_hash
    token, token_hash = new_token()
    assert token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert new_api_key()[0] != key and new_token()[0] != token
    stored = hash_password("a long passphrase")
    assert verify_password(stored, "a long passphrase")
    assert not verify_password(stored, "a long passphrasE") and not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "a long passphrase")


def _schema_drift(service) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from api.service.models import Base

    with service.db.write_engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_migrations_make_exactly_the_models_schema(service, pg_url, tmp_path):
    assert _schema_drift(service) == []
    postgres = open_service(Settings(data_dir=tmp_path / "pg", database_url=pg_url, _env_file=None))
    try:
        assert _schema_drift(postgres) == []
    finally:
        postgres.close()
