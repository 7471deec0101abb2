"""Alembic environment: migrations run on the engine newsmon opened (see monitor/store/engine.py)."""
from alembic import context

from monitor.store.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    # render_as_batch: SQLite can only alter tables by copying them; batch mode does that for us.
    # One transaction per migration, each with its revision: a migration that converts rows in batches
    # (0007) commits them as it goes, and a kill between migrations leaves a database at a known revision.
    context.configure(connection=connection, target_metadata=Base.metadata, transaction_per_migration=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
