"""The SQLite engine, start-up recovery of a damaged file, and Alembic migrations.

Call ``open_database`` once at start-up; it returns a migrated engine. ``make_engine`` and
``migrate`` are the pieces, for tests and tools.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("reelforge.storage")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DEFAULT_BUSY_TIMEOUT_MS = 5000
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Execution option read by the "begin" hook: write transactions take the write lock up front.
BEGIN_OPTION = "reelforge_begin"


class DatabaseLocked(RuntimeError):
    """Another process holds the database lock longer than the busy timeout."""


class DatabaseTooNew(RuntimeError):
    """The database was migrated by a newer Reelforge; this one does not know its schema."""


@dataclass(frozen=True)
class CorruptDatabase:
    """What open_database did with a damaged file, for a one-line message in the app."""

    path: Path  # the database path, now a fresh empty history
    moved_to: Path  # where the damaged file went
    reason: str  # what SQLite said

    @property
    def message(self) -> str:
        return (
            f"The history database was damaged ({self.reason}); it was moved to "
            f"{self.moved_to.name} and a new, empty history was started."
        )


# Recovery info per engine. A side table rather than an attribute keeps open_database's return
# type a plain Engine; weak keys let the entry go with the engine.
_recoveries: weakref.WeakKeyDictionary[Engine, CorruptDatabase] = weakref.WeakKeyDictionary()


def recovery_of(engine: Engine) -> CorruptDatabase | None:
    """The damaged file open_database moved aside before creating this engine, if any."""
    return _recoveries.get(engine)


def is_locked_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "sqlite_busy" in text


def make_engine(db_path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """A SQLite engine with the pragmas Reelforge relies on, set on every new connection."""
    engine = sa.create_engine(
        # URL.create, not an f-string: a '?' or '#' in the folder name would be parsed as URL.
        sa.engine.URL.create("sqlite", database=str(db_path)),
        # The repository is used from the bus thread, tests and start-up code run elsewhere; the
        # pool hands each connection to one thread at a time, so sharing is safe.
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below): sqlite3's legacy mode would start transactions
        # only at the first write, so a read-then-write method would not be atomic, and DDL in
        # migrations would not be transactional.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            # First, so that the journal_mode switch below already waits instead of failing.
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL never corrupts the file when the app crashes or is SIGKILLed; only
            # an OS crash or power loss can lose the last few commits. Recovery then sees those
            # jobs as queued/running, marks them interrupted and reruns them, and outputs are
            # published by atomic rename, so nothing half-written is ever recorded as done.
            # FULL would fsync on every commit for no real gain here.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        # Straight to the driver: through exec_driver_sql the BEGIN was a full SQLAlchemy
        # execution of its own, a third of the cost of a job's small status transaction.
        # Its errors are wrapped as SQLAlchemy would have: callers look for those.
        statement = f"BEGIN {mode}"
        try:
            conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as err:
            raise sa.exc.OperationalError(statement, None, err) from err

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, but transactions begin IMMEDIATE.

    A deferred transaction that reads and then writes cannot wait for the lock in WAL mode (it
    fails at once with SQLITE_BUSY if another process committed meanwhile); taking the write
    lock at BEGIN makes the busy timeout apply.
    """
    return engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})


# Alembic is imported only when a migration has to run: importing it costs ~0.15 s of every
# start, and a database already at head (almost every start) does not need it.
_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:[\"']([^\"']+)[\"']|None)", re.M
)


@functools.cache
def _head_from_files() -> str | None:
    """The head revision read from the migration files' own text; None if unsure.

    One linear history is expected (every revision named once as a down_revision, but the
    head); anything else (branches, compiled-only files) answers None: ask Alembic then.
    """
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text("utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision"):
                downs.add(found["down_revision"])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 and len(downs) == len(revisions) - 1 else None


def _stored_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except sa.exc.OperationalError:  # no such table: a new, empty database
            return None


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic Config built in code: no alembic.ini, so it works from a wheel or a bundle."""
    from alembic.config import Config

    cfg = Config()
    # Config values go through configparser interpolation, so a '%' in the path is doubled.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def schema_version(engine: Engine) -> str | None:
    """The Alembic revision the database is at, None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> str:
    """Upgrade the schema (to head by default) in one transaction; return the new revision."""
    from alembic import command
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    current = schema_version(engine)
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        raise DatabaseTooNew(
            f"the history database has schema {current}, made by a newer Reelforge; "
            "update Reelforge or move the database aside"
        )
    with writer(engine).connect() as conn:
        # Foreign keys are off while migrating: batch mode rebuilds a table by copy + DROP, and
        # with them on, dropping "jobs" would cascade-delete every output and transition row.
        # The pragma is ignored inside a transaction, so it goes to the driver before BEGIN.
        dbapi_conn = conn.connection.driver_connection
        assert dbapi_conn is not None
        dbapi_conn.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                command.upgrade(alembic_config(conn), revision)
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left dangling foreign keys: {broken[:3]}")
        finally:
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
    new = schema_version(engine)
    assert new is not None
    return new


def _problem_with(db_path: Path, busy_timeout_ms: int) -> str | None:
    """Why the file is not a usable SQLite database, or None if it is (or does not exist).

    Raises DatabaseLocked when another process keeps it locked past the busy timeout.
    """
    try:
        with db_path.open("rb") as f:
            header = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return None
    if header and header != _SQLITE_MAGIC:  # an empty file is fine: SQLite treats it as new
        return "file is not a database"
    conn = sqlite3.connect(db_path, timeout=busy_timeout_ms / 1000, isolation_level=None)
    try:
        # quick_check reads every page (so it finds truncation and malformed b-trees) without
        # the index-vs-table cross check of integrity_check, which costs seconds on a big history
        # at every start-up; Repository.integrity_ok runs the full check on demand.
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        if is_locked_error(exc):
            raise DatabaseLocked(_locked_message(db_path)) from exc
        raise
    except sqlite3.DatabaseError as exc:  # "file is not a database", "disk image is malformed"
        return str(exc)
    finally:
        conn.close()
    if [r[0] for r in rows] != ["ok"]:
        return f"integrity check: {rows[0][0]}"
    return None


def _locked_message(db_path: Path) -> str:
    return f"the history database {db_path.name} is locked by another program (another Reelforge?)"


def _move_aside(db_path: Path, reason: str) -> CorruptDatabase:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = db_path.with_name(f"{db_path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = db_path.with_name(f"{db_path.name}.corrupt-{stamp}-{n}")
    db_path.replace(target)
    # The WAL and shared-memory files belong to the damaged file: left in place they would be
    # replayed into the new one. Keep SQLite's naming so the pair can still be opened together.
    for suffix in ("-wal", "-shm", "-journal"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    return CorruptDatabase(path=db_path, moved_to=target, reason=" ".join(reason.split()))


def open_database(db_path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """Open (creating if needed), repair-by-replacing if damaged, and migrate the history.

    A damaged file is moved to ``<name>.corrupt-<UTC timestamp>`` and a fresh database is
    started; ``recovery_of(engine)`` then tells what happened. Raises DatabaseLocked if another
    process holds the lock for longer than the busy timeout, DatabaseTooNew for a schema from a
    newer Reelforge.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    recovery = None
    reason = _problem_with(db_path, busy_timeout_ms)
    if reason is not None:
        recovery = _move_aside(db_path, reason)
        log.warning(
            "history database %s is damaged (%s); moved to %s, starting a new one",
            db_path,
            reason,
            recovery.moved_to.name,
        )
    engine = make_engine(db_path, busy_timeout_ms=busy_timeout_ms)
    try:
        # Take and release the write lock once, so a database held by another process fails
        # here with a clear message (in WAL mode reads would pass and only a later write fail).
        with writer(engine).begin() as conn:
            conn.exec_driver_sql("SELECT 1")
        head = _head_from_files()
        if head is None or _stored_revision(engine) != head:
            migrate(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        if is_locked_error(exc):
            raise DatabaseLocked(_locked_message(db_path)) from exc
        raise
    except BaseException:
        engine.dispose()
        raise
    if recovery is not None:
        _recoveries[engine] = recovery
    return engine
