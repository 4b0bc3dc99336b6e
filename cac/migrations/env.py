"""Alembic environment: run with the connection that ``cac.db.migrate.upgrade`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cac.db.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # plain `alembic -x url=...` use, for developers
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=sqlite:///var/cac.sqlite3 ...")
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
