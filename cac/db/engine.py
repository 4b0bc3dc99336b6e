"""The service database: one engine per process, short explicit units of work.

SQLite (the default) runs in WAL mode with ``synchronous=FULL`` so that every acknowledged
write survives a crash; write transactions start with ``BEGIN IMMEDIATE`` so that concurrent
writers queue on the database lock instead of failing half-way. PostgreSQL (psycopg 3) is the
production store; there, writers lock the rows they change (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from cac.errors import ConfigError

_WRITE = "cac_write"
_SQLITE_BUSY_SECONDS = 30


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs; reject databases cac is not tested on.

    Raises:
        ConfigError: for a malformed URL or an unsupported database.
    """
    try:
        parsed = make_url(url)
    except Exception:  # sqlalchemy raises ArgumentError; the URL may hold a password, never echo it
        raise ConfigError(
            "CAC_DATABASE_URL is not a database URL; use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DB"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise ConfigError(
            f"CAC_DATABASE_URL names a {backend} database; cac supports sqlite and postgresql"
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event, not the sqlite3 module, decide how transactions start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine and its session factory; :meth:`read` and :meth:`write` are units of work."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"hide_parameters": True}  # SQL parameters may hold note text
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {
                "check_same_thread": False,
                "timeout": _SQLITE_BUSY_SECONDS,
            }
        else:
            # up to one connection per worker thread (anyio runs 40) under full load
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=30)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; whatever it started is rolled back on exit."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on normal exit and rolled back on an exception."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={_WRITE: True})
            yield session

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
