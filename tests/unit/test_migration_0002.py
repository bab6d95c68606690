"""Migration 0002 (jobs.search_key + the history search index) on a history made at 0001."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from reelforge.storage.engine import (
    alembic_config,
    head_revision,
    make_engine,
    migrate,
    open_database,
    schema_version,
)
from reelforge.storage.models import HISTORY_SEARCH_INDEX, search_key
from reelforge.storage.repository import Repository

STAMP = "2024-05-01 12:00:00.000000"
# More than one of the migration's fill batches (5,000 rows), and not a multiple of it.
N_JOBS = 12_345
# Names whose fold differs from SQLite's ASCII-only lower(): ß, Ü, a decomposed é (as macOS
# writes names), the Kelvin sign, and plain ASCII.
NAMES = ("Straße/ÜBUNG.mp4", "Cafe\u0301 Noir.MOV", "\u212aelvin.mkv", "Holiday CLIP.mp4")
TABLES = ("sources", "batches", "jobs", "outputs", "transitions")


def source_of(i: int) -> str:
    return f"/videos/{i:05d}/{NAMES[i % len(NAMES)]}"


def created_at(i: int) -> str:
    return f"{datetime(2024, 5, 1) + timedelta(seconds=i):%Y-%m-%d %H:%M:%S.%f}"


def with_name(n: int) -> list[int]:
    """Indexes of the jobs named NAMES[n], oldest first."""
    return list(range(n, N_JOBS, len(NAMES)))


def at_0001(path: Path) -> Engine:
    """A database created by revision 0001 exactly, filled with the SQL 0001 knew."""
    engine = make_engine(path)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    assert schema_version(engine) == "0001"
    spec = '{"id":"x","kind":"encode","outputs":[],"params":{},"preset":"web","v":1}'
    with engine.begin() as conn:
        run = conn.exec_driver_sql
        run(
            "INSERT INTO sources (id, path, size, mtime, created_at) "
            f"VALUES (1, '{source_of(0)}', 10, 1.5, '{STAMP}')"
        )
        run(
            "INSERT INTO batches (id, created_at, presets, out_dir, origin) "
            f"VALUES (1, '{STAMP}', 'web', '/out', 'cli')"
        )
        run(
            "INSERT INTO jobs (id, batch_id, source_id, source_path, kind, lane, preset, label, "
            "status, spec_json, spec_version, attempt, app_version, created_at, queued_at) "
            "VALUES (?, 1, ?, ?, 'encode', 'heavy', ?, 'web: 720p', ?, ?, 1, 1, '0.1.0', ?, ?)",
            [
                (
                    f"j{i:05d}",
                    1 if i == 0 else None,
                    source_of(i),
                    ("web", "archive")[i % 2],
                    ("succeeded", "failed", "queued")[i % 3],
                    spec,
                    created_at(i),
                    STAMP,
                )
                for i in range(N_JOBS)
            ],
        )
        run(
            "INSERT INTO outputs (job_id, role, path, size) VALUES (?, '720p', ?, 500)",
            [(f"j{i:05d}", f"/out/{i}.mp4") for i in range(0, N_JOBS, 7)],
        )
        run(
            "INSERT INTO transitions (job_id, from_status, to_status, at) "
            "VALUES (?, NULL, 'queued', ?)",
            [(f"j{i:05d}", STAMP) for i in range(N_JOBS)],
        )
    return engine


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (jobs without search_key), in rowid order."""
    with engine.connect() as conn:
        out = {}
        for table in TABLES:
            cols = [r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
            listed = ", ".join(c for c in cols if c != "search_key")
            rows = conn.exec_driver_sql(f"SELECT {listed} FROM {table} ORDER BY rowid")
            out[table] = [tuple(r) for r in rows]
        return out


def schema(engine: Engine) -> dict[str, Any]:
    """Per table: columns in order, foreign keys with their actions, indexes with columns;
    and the triggers' SQL."""
    with engine.connect() as conn:
        run = conn.exec_driver_sql
        out: dict[str, Any] = {
            "triggers": {
                name: sql
                for name, sql in run("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            }
        }
        for table in TABLES:
            indexes = {
                name: (unique, [r[2] for r in run(f"PRAGMA index_info('{name}')")])
                for _seq, name, unique, *_rest in run(f"PRAGMA index_list('{table}')")
            }
            out[table] = (
                [tuple(r) for r in run(f"PRAGMA table_info('{table}')")],
                sorted(tuple(r)[2:] for r in run(f"PRAGMA foreign_key_list('{table}')")),
                indexes,
            )
        return out


@pytest.fixture
def old(tmp_path: Path) -> Iterator[Engine]:
    engine = at_0001(tmp_path / "history.db")
    yield engine
    engine.dispose()


def test_upgrade_keeps_every_row_and_fills_search_key(old: Engine, tmp_path: Path) -> None:
    before = snapshot(old)
    assert len(before["jobs"]) == N_JOBS

    assert migrate(old, "0002") == "0002"  # later revisions have tests of their own

    assert snapshot(old) == before  # nothing lost, nothing changed, same rowids
    with old.connect() as conn:
        keys = conn.exec_driver_sql("SELECT source_path, search_key FROM jobs").fetchall()
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    assert len(keys) == N_JOBS
    assert all(key == search_key(path) for path, key in keys)
    assert {key for _, key in keys if key.endswith("übung.mp4")} != set()

    # The upgraded schema is exactly what a fresh install gets.
    fresh = make_engine(tmp_path / "fresh.db")
    try:
        migrate(fresh, "0002")
        assert schema(old) == schema(fresh)
    finally:
        fresh.dispose()
    indexes = schema(old)["jobs"][2]
    assert indexes[HISTORY_SEARCH_INDEX] == (0, ["created_at", "search_key", "status", "preset"])
    assert len(schema(old)["triggers"]) == 2


def test_upgraded_history_is_searchable_and_still_cascades(old: Engine) -> None:
    migrate(old)
    repo = Repository(old)
    assert repo.count_history(search="STRASSE/übung") == len(with_name(0))
    assert repo.count_history(search="café") == repo.count_history(search="CAFÉ NOIR")
    assert repo.count_history(search="CAFÉ NOIR") == len(with_name(1))
    assert repo.count_history(search="kelvin") == len(with_name(2))  # the Kelvin sign is a K
    newest = repo.history(search="holiday", limit=2, offset=1)
    assert [j.id for j in newest] == [f"j{i:05d}" for i in with_name(3)[-2:-4:-1]]
    failed = repo.history(search="holiday", status="failed", preset="archive")
    assert failed and all(
        (j.status.value, j.preset) == ("failed", "archive") and "Holiday" in j.source_path
        for j in failed
    )

    # Foreign key actions still work: a job's outputs and transitions go with it.
    with old.begin() as conn:
        conn.exec_driver_sql("DELETE FROM jobs WHERE id = 'j00000'")
        left = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM outputs WHERE job_id = 'j00000') + "
            "(SELECT count(*) FROM transitions WHERE job_id = 'j00000')"
        ).scalar_one()
    assert left == 0


@pytest.mark.parametrize("made", ["upgraded", "fresh"])
def test_a_job_without_search_key_is_refused(old: Engine, tmp_path: Path, made: str) -> None:
    if made == "upgraded":
        migrate(old)
        engine = old
    else:
        engine = open_database(tmp_path / "fresh.db")
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO batches (id, created_at, presets, out_dir, origin) "
                f"VALUES (1, '{STAMP}', 'web', '/out', 'cli')"
            )
    insert = (
        "INSERT INTO jobs (id, batch_id, source_path, {key}kind, lane, preset, label, status, "
        "spec_json, spec_version, attempt, app_version, created_at, queued_at) VALUES "
        "('new', 1, '/v/a.mp4', {value}'encode', 'heavy', 'web', 'x', 'queued', '{{}}', 1, 1, "
        f"'0.1.0', '{STAMP}', '{STAMP}')"
    )
    try:
        for key, value in (("", ""), ("search_key, ", "NULL, ")):
            with pytest.raises(sa.exc.IntegrityError, match="search_key"), engine.begin() as c:
                c.exec_driver_sql(insert.format(key=key, value=value))
        with engine.begin() as conn:
            conn.exec_driver_sql(insert.format(key="search_key, ", value="'/v/a.mp4', "))
        with pytest.raises(sa.exc.IntegrityError, match="search_key"), engine.begin() as conn:
            conn.exec_driver_sql("UPDATE jobs SET search_key = NULL WHERE id = 'new'")
    finally:
        if engine is not old:
            engine.dispose()


def test_open_database_migrates_an_old_file_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    at_0001(path).dispose()
    engine = open_database(path)
    try:
        assert schema_version(engine) == head_revision()
        assert Repository(engine).count_history(search="ÜBUNG") == len(with_name(0))
    finally:
        engine.dispose()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT count(*) FROM jobs WHERE search_key IS NULL").fetchone() == (0,)
    finally:
        raw.close()


def test_downgrade_to_0001_keeps_rows_and_upgrading_again_refills(old: Engine) -> None:
    before = snapshot(old)
    migrate(old)
    with old.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    assert schema_version(old) == "0001"
    assert snapshot(old) == before
    with old.connect() as conn:
        cols = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(jobs)")]
    assert "search_key" not in cols
    assert HISTORY_SEARCH_INDEX not in schema(old)["jobs"][2]
    assert schema(old)["triggers"] == {}
    migrate(old)
    assert Repository(old).count_history(search="straße") == len(with_name(0))


def test_the_migration_folds_like_the_repository() -> None:
    # 0002 keeps a frozen copy of search_key; if models.search_key changes, old rows keep the
    # old fold and search misses them, so a change needs a migration that refills the column.
    module = ScriptDirectory.from_config(alembic_config()).get_revision("0002").module
    samples = [*NAMES, "ǰ", "ΣΑΣ", "ﬁle", "İstanbul", "\u1e9b\u0323", "ＡＢＣ", ""]
    samples += [unicodedata.normalize(form, s) for s in NAMES for form in ("NFC", "NFD")]
    assert [module.search_key(s) for s in samples] == [search_key(s) for s in samples]
    assert search_key("Cafe\u0301") == search_key("Café") == "café"
