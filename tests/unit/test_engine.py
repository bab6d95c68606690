"""The SQLite engine: pragmas, recovery from a damaged file, and a locked database."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reelforge.domain.jobs import JobKind
from reelforge.domain.spec import JobSpec, new_job_id
from reelforge.storage.engine import (
    DatabaseLocked,
    head_revision,
    make_engine,
    open_database,
    recovery_of,
    schema_version,
)
from reelforge.storage.repository import Repository


def _fill(db: Path, jobs: int = 300) -> None:
    engine = open_database(db)
    repo = Repository(engine)
    batch = repo.create_batch(["web"], "/out", "cli")
    specs = [
        JobSpec(id=new_job_id(), kind=JobKind.PROBE, preset="web", source=f"/v/{i}.mp4")
        for i in range(jobs)
    ]
    repo.add_jobs(batch, None, specs, app_version="0.1.0", ffmpeg_version=None)
    engine.dispose()  # the last connection closing checkpoints the WAL into the main file


def _assert_fresh_and_working(db: Path, engine: sa.Engine) -> None:
    assert schema_version(engine) == head_revision()
    repo = Repository(engine)
    assert repo.count_history() == 0
    batch = repo.create_batch(["web"], "/out", "cli")
    assert repo.get_batch(batch) is not None
    assert repo.integrity_ok()


def test_pragmas_on_every_connection(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "history.db")
    try:
        # Two connections at once: the pragmas come from the connect hook, not from luck.
        with engine.connect() as one, engine.connect() as two:
            for conn in (one, two):
                pragma = conn.exec_driver_sql
                assert pragma("PRAGMA journal_mode").scalar() == "wal"
                assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert pragma("PRAGMA foreign_keys").scalar() == 1
                assert pragma("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()
    assert recovery_of(engine) is None


def test_busy_timeout_parameter(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "history.db", busy_timeout_ms=250)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 250
    engine.dispose()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "history.db")
    spec = JobSpec(id=new_job_id(), kind=JobKind.PROBE, preset="web", source="/v/a.mp4")
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
        Repository(engine).add_jobs(404, None, [spec], app_version="0.1.0", ffmpeg_version=None)
    engine.dispose()


def test_creates_parent_folder_and_reopens_existing(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "history.db"
    _fill(db, jobs=3)
    engine = open_database(db)
    assert Repository(engine).count_history() == 3
    assert recovery_of(engine) is None
    engine.dispose()


def test_empty_file_is_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    db.touch()
    engine = open_database(db)
    assert recovery_of(engine) is None
    _assert_fresh_and_working(db, engine)
    engine.dispose()


def test_random_bytes_are_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "history.db"
    junk = os.urandom(8192)
    db.write_bytes(junk)
    wal = tmp_path / "history.db-wal"
    wal.write_bytes(b"stale wal")
    with caplog.at_level(logging.WARNING, logger="reelforge.storage"):
        engine = open_database(db)
    try:
        recovery = recovery_of(engine)
        assert recovery is not None
        assert recovery.path == db
        assert recovery.moved_to.parent == tmp_path
        assert recovery.moved_to.name.startswith("history.db.corrupt-")
        assert recovery.moved_to.read_bytes() == junk
        assert Path(f"{recovery.moved_to}-wal").read_bytes() == b"stale wal"
        assert "not a database" in recovery.reason
        assert "\n" not in recovery.message
        assert recovery.moved_to.name in recovery.message
        assert any(
            r.name == "reelforge.storage" and r.levelno == logging.WARNING for r in caplog.records
        )
        _assert_fresh_and_working(db, engine)
    finally:
        engine.dispose()


def test_truncated_database_is_moved_aside(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    _fill(db)
    data = db.read_bytes()
    assert len(data) > 64 * 1024  # enough pages for the cut to hit real tables
    db.write_bytes(data[: len(data) // 2])
    engine = open_database(db)
    try:
        recovery = recovery_of(engine)
        assert recovery is not None
        assert recovery.moved_to.stat().st_size == len(data) // 2
        _assert_fresh_and_working(db, engine)
    finally:
        engine.dispose()


def test_two_recoveries_in_the_same_second_keep_both_files(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    moved = set()
    for _ in range(2):
        db.write_bytes(b"not sqlite at all" * 10)
        engine = open_database(db)
        recovery = recovery_of(engine)
        assert recovery is not None
        moved.add(recovery.moved_to)
        engine.dispose()
    assert len(moved) == 2
    assert all(p.exists() for p in moved)


_HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS other_app (x)")
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def lock_holder() -> Iterator[Callable[[Path], None]]:
    procs: list[subprocess.Popen[str]] = []

    def hold(db: Path) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(db)], stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("existing", [True, False], ids=["wal-history", "foreign-rollback-db"])
def test_locked_database_raises_instead_of_hanging(
    tmp_path: Path, lock_holder: Callable[[Path], None], existing: bool
) -> None:
    db = tmp_path / "history.db"
    if existing:
        _fill(db, jobs=1)  # already WAL: readers pass, only the write lock is refused
    lock_holder(db)
    started = time.monotonic()
    with pytest.raises(DatabaseLocked, match="locked") as err:
        open_database(db, busy_timeout_ms=300)
    assert time.monotonic() - started < 5
    assert "\n" not in str(err.value)
    assert db.exists()
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_repository_write_on_locked_database_raises(
    tmp_path: Path, lock_holder: Callable[[Path], None]
) -> None:
    db = tmp_path / "history.db"
    engine = open_database(db, busy_timeout_ms=300)
    repo = Repository(engine)
    lock_holder(db)
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseLocked):
            repo.create_batch(["web"], "/out", "cli")
        assert repo.count_history() == 0  # WAL: reading still works meanwhile
    finally:
        engine.dispose()
    assert time.monotonic() - started < 5


def test_head_read_from_the_migration_files_is_alembics_head() -> None:
    from reelforge.storage import engine

    assert engine._head_from_files() == engine.head_revision()


def test_a_database_at_head_opens_without_importing_alembic(tmp_path: Path) -> None:
    # Alembic's import is ~0.15 s of every start; only a schema behind head needs it.
    db = tmp_path / "history.db"
    open_database(db).dispose()
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from reelforge.storage.engine import open_database

        engine = open_database(Path(sys.argv[1]))
        print("alembic" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(db)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_a_database_behind_head_is_still_migrated(tmp_path: Path) -> None:
    from reelforge.storage.engine import migrate

    db = tmp_path / "history.db"
    old = make_engine(db)
    migrate(old, "0001")
    old.dispose()
    assert schema_version(open_database(db)) == head_revision() != "0001"
