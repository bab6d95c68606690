"""Alembic migrations: a fresh database reaches head, matches the models, and upgrades keep rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import reelforge.storage.models  # noqa: F401  (fills SQLModel.metadata)
from reelforge.domain.jobs import JobStatus
from reelforge.storage.engine import (
    MIGRATIONS_DIR,
    DatabaseTooNew,
    alembic_config,
    head_revision,
    make_engine,
    migrate,
    open_database,
    schema_version,
)
from reelforge.storage.repository import Repository


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(tmp_path / "history.db")
    yield engine
    engine.dispose()


def diffs(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, SQLModel.metadata))


def test_migrations_ship_inside_the_package() -> None:
    # No alembic.ini: the script folder is found next to the code (wheel and frozen app alike).
    assert MIGRATIONS_DIR.parent.name == "storage"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "__init__.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()
    cfg = alembic_config()
    assert cfg.config_file_name is None
    script = ScriptDirectory.from_config(cfg)
    assert script.get_heads() == [head_revision()]  # one line of history, no branches
    assert script.get_revision("0001").down_revision is None


def test_fresh_database_migrates_to_head(engine: Engine) -> None:
    assert schema_version(engine) is None
    assert migrate(engine) == head_revision()
    assert schema_version(engine) == head_revision()
    assert migrate(engine) == head_revision()  # idempotent: start-up runs it every time
    tables = set(sa.inspect(engine).get_table_names())
    assert {"sources", "batches", "jobs", "outputs", "transitions", "alembic_version"} <= tables


def test_migrated_schema_matches_models(engine: Engine) -> None:
    migrate(engine)
    assert diffs(engine) == []


def test_compare_metadata_does_see_a_difference(engine: Engine) -> None:
    # Guards the test above against passing vacuously.
    migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_jobs_status_created_at")
    assert any("ix_jobs_status_created_at" in str(d) for d in diffs(engine))


def test_upgrade_from_0001_keeps_rows(engine: Engine) -> None:
    # Created at 0001 exactly, filled with the SQL 0001 knew, then upgraded to whatever head is
    # now: when 0002 arrives this exercises it on real rows.
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    assert schema_version(engine) == "0001"
    stamp = "2024-05-01 12:00:00.000000"
    spec_json = (
        '{"id":"j1","kind":"encode","outputs":[{"duration":null,"has_audio":true,"height":720,'
        '"media":"video","path":"/out/a-720p.mp4","role":"720p","width":1280}],"params":{},'
        '"preset":"web","source":"/videos/a.mp4","source_duration":2.0,"v":1}'
    )
    with engine.begin() as conn:
        run = conn.exec_driver_sql
        run(
            "INSERT INTO sources (id, path, size, mtime, fingerprint, created_at) "
            f"VALUES (1, '/videos/a.mp4', 1000, 1.5, 'fp', '{stamp}')"
        )
        run(
            "INSERT INTO batches (id, created_at, presets, out_dir, origin) "
            f"VALUES (1, '{stamp}', 'web', '/out', 'cli')"
        )
        run(
            "INSERT INTO jobs (id, batch_id, source_id, source_path, kind, lane, preset, label, "
            "status, spec_json, spec_version, spec_hash, attempt, app_version, created_at, "
            "queued_at, started_at, finished_at, seconds) VALUES ('j1', 1, 1, '/videos/a.mp4', "
            "'encode', 'heavy', 'web', 'web: 720p', 'succeeded', ?, 1, 'H', 1, '0.1.0', "
            f"'{stamp}', '{stamp}', '{stamp}', '{stamp}', 2.5)",
            (spec_json,),
        )
        run(
            "INSERT INTO outputs (job_id, role, path, size, width, height) "
            "VALUES ('j1', '720p', '/out/a-720p.mp4', 500, 1280, 720)"
        )
        run(
            "INSERT INTO transitions (job_id, from_status, to_status, at) VALUES "
            f"('j1', NULL, 'queued', '{stamp}'), ('j1', 'queued', 'running', '{stamp}'), "
            f"('j1', 'running', 'succeeded', '{stamp}')"
        )

    assert migrate(engine) == head_revision()
    assert diffs(engine) == []
    repo = Repository(engine)
    job = repo.get_job("j1")
    assert job is not None
    assert (job.status, job.source_id, job.spec_hash, job.seconds) == (
        JobStatus.SUCCEEDED,
        1,
        "H",
        2.5,
    )
    assert job.finished_at is not None
    assert job.finished_at.isoformat().startswith("2024-05-01")
    assert [o.path for o in job.outputs] == ["/out/a-720p.mp4"]
    assert [t.to_status for t in repo.transitions("j1")] == ["queued", "running", "succeeded"]
    assert job.spec.outputs[0].path == "/out/a-720p.mp4"
    assert repo.find_reusable("H") == job
    source = repo.get_source(1)
    assert source is not None
    assert source.fingerprint == "fp"
    batch = repo.get_batch(1)
    assert batch is not None
    assert batch.presets == ("web",)


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    assert migrate(engine) == head_revision()


def test_database_from_a_newer_app_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    open_database(db).dispose()
    engine = make_engine(db)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(DatabaseTooNew, match="9999"):
        open_database(db)
