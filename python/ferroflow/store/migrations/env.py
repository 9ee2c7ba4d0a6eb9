"""Alembic's environment for ferroflow's migrations: always run programmatically by
:func:`ferroflow.store.migrations.migrate`, which hands over a connection already in a
transaction (and holding the migration lock); no ``alembic.ini`` is needed."""

from alembic import context

from ferroflow.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
