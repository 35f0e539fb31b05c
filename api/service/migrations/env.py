"""Alembic environment: run with the connection :func:`api.service.db.migrate` hands over."""

from alembic import context

from api.service.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` command line: build an engine from the settings
    from api.service.db import open_database
    from api.service.settings import Settings

    database = open_database(Settings().sqlalchemy_url)
    with database.write_engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
