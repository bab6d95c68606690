"""Alembic environment for the history database.

The app runs migrations through ``reelforge.storage.engine.migrate``, which passes an open
connection in ``config.attributes["connection"]`` (inside its own transaction). For writing a new
revision by hand, ``sqlalchemy.url`` in the config is used instead, e.g.::

    from alembic import command
    from reelforge.storage.engine import alembic_config
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", "sqlite:///scratch.db")
    command.upgrade(cfg, "head")
    command.revision(cfg, "add something", autogenerate=True, rev_id="0002")
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

from reelforge.storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table by copy instead.
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        # Already inside the caller's transaction: Alembic joins it instead of committing.
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url set")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        _configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
