"""Every schema revision upgrades to head without losing a row or a value.

Generic on purpose: for each revision but head, a database is created at exactly that
revision, every table it has gets rows in every column (values made from the column's type,
foreign keys pointing at real rows), and after the upgrade to head every one of those values
is read back raw from SQLite, unchanged. A new revision needs no edit here; one that drops or
rewrites a column on purpose must say so in CHANGED_ON_PURPOSE.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from reelforge.storage.engine import (
    alembic_config,
    head_revision,
    make_engine,
    migrate,
    schema_version,
)
from reelforge.storage.repository import Repository

ROWS = 3
# (table, column) -> revision that deliberately drops or rewrites it; the check skips those
# values for databases made before that revision. Empty: no revision has done so yet.
CHANGED_ON_PURPOSE: dict[tuple[str, str], str] = {}

JOB_STATUSES = ("succeeded", "failed", "interrupted")
# Columns whose text the app parses (enums, JSON, lists) get values of the right shape, so the
# head's repository can read the migrated rows back; everything else is made from its type.
SHAPED: dict[tuple[str, str], Callable[[int], Any]] = {
    ("jobs", "status"): lambda i: JOB_STATUSES[i % len(JOB_STATUSES)],
    ("jobs", "kind"): lambda i: "encode",
    ("jobs", "lane"): lambda i: "heavy",
    ("jobs", "preset"): lambda i: "web",
    ("jobs", "spec_version"): lambda i: 1,
    ("jobs", "attempt"): lambda i: i + 1,
    ("jobs", "spec_json"): lambda i: json.dumps(
        {
            "id": f"jobs.id.{i}",
            "kind": "encode",
            "outputs": [],
            "params": {},
            "preset": "web",
            "source": f"/videos/Clip Ü {i}.mp4",
            "source_duration": 2.0,
            "v": 1,
        },
        sort_keys=True,
    ),
    ("jobs", "source_path"): lambda i: f"/videos/Clip Ü {i}.mp4",
    ("transitions", "from_status"): lambda i: "queued",
    ("transitions", "to_status"): lambda i: "running",
    ("batches", "presets"): lambda i: "web,thumbnails",
    ("batches", "origin"): lambda i: "cli",
    ("sources", "media_info"): lambda i: json.dumps({"streams": [], "duration": 2.0 + i}),
}


def revisions() -> list[str]:
    """Oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def starting_points() -> list[Any]:
    older = revisions()[:-1]
    if older:
        return older
    return [pytest.param(None, marks=pytest.mark.skip(reason="only one revision: no upgrade yet"))]


def value_for(table: str, column: dict[str, Any], i: int) -> Any:
    """A raw SQLite value for row i of this column, distinct per row."""
    name = column["name"]
    if (table, name) in SHAPED:
        return SHAPED[(table, name)](i)
    kind = column["type"]
    if isinstance(kind, sa.Boolean):
        return i % 2
    if isinstance(kind, sa.Integer):
        return 1000 * (i + 1) + len(name)
    if isinstance(kind, sa.Float | sa.Numeric):
        return i + 0.25 + len(name) / 100
    if isinstance(kind, sa.DateTime):
        return f"2024-05-0{i + 1} 12:34:5{i}.123456"  # SQLAlchemy's SQLite text format
    if isinstance(kind, sa.Date):
        return f"2024-05-0{i + 1}"
    if isinstance(kind, sa.String | sa.Text):
        return f"{table}.{name}.{i} é"
    if isinstance(kind, sa.LargeBinary):
        return bytes([i, 0, 255]) * 3
    pytest.fail(f"no value maker for {table}.{name} of type {kind!r}: add one to value_for")


def fill_every_table(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """ROWS rows in each table, all columns set, parents first; returns what was written."""
    meta = sa.MetaData()
    meta.reflect(engine)
    inspector = sa.inspect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for table in meta.sorted_tables:  # parents before children
            if table.name == "alembic_version":
                continue
            fks = {
                col: (fk["referred_table"], fk["referred_columns"][n])
                for fk in inspector.get_foreign_keys(table.name)
                for n, col in enumerate(fk["constrained_columns"])
            }
            rows = []
            for i in range(ROWS):
                row = {}
                for column in inspector.get_columns(table.name):
                    name = column["name"]
                    if name in fks:
                        parent, parent_col = fks[name]
                        row[name] = written[parent][i][parent_col]
                    else:
                        row[name] = value_for(table.name, column, i)
                rows.append(row)
            names = list(rows[0])
            conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                [tuple(r[n] for n in names) for r in rows],
            )
            written[table.name] = rows
    assert written, "the schema has no tables"
    return written


def read_back(engine: Engine, table: str, columns: list[str]) -> list[dict[str, Any]]:
    """Raw values, in insertion order: what SQLite holds, not what a type would make of it."""
    with engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
        return [dict(zip(columns, row, strict=True)) for row in result]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(tmp_path / "history.sqlite3")
    yield engine
    engine.dispose()


def test_the_revision_history_is_one_line_from_0001() -> None:
    chain = revisions()
    assert chain[0] == "0001" and chain[-1] == head_revision()
    script = ScriptDirectory.from_config(alembic_config())
    for older, newer in itertools.pairwise(chain):
        assert script.get_revision(newer).down_revision == older


@pytest.mark.parametrize("start", starting_points())
def test_upgrade_to_head_keeps_every_row_and_value(engine: Engine, start: str) -> None:
    assert migrate(engine, start) == start
    written = fill_every_table(engine)

    assert migrate(engine) == head_revision()
    assert schema_version(engine) == head_revision()
    later = revisions()[revisions().index(start) + 1 :]
    for table, rows in written.items():
        kept = [
            c
            for c in rows[0]
            if CHANGED_ON_PURPOSE.get((table, c)) not in later  # None is never in `later`
        ]
        assert read_back(engine, table, kept) == [{c: r[c] for c in kept} for r in rows], table

    # The head's repository reads the migrated history.
    repo = Repository(engine)
    for i, job in enumerate(written.get("jobs", [])):
        record = repo.get_job(job["id"])
        assert record is not None, job["id"]
        assert record.status.value == JOB_STATUSES[i % len(JOB_STATUSES)]
        assert record.source_path == job["source_path"]
        assert record.app_version == job["app_version"]
        assert record.ffmpeg_version == job["ffmpeg_version"]
        assert [o.path for o in record.outputs] == [
            o["path"] for o in written.get("outputs", []) if o["job_id"] == job["id"]
        ]
        assert len(repo.transitions(job["id"])) == sum(
            t["job_id"] == job["id"] for t in written.get("transitions", [])
        )
    for batch in written.get("batches", []):
        record = repo.get_batch(batch["id"])
        assert record is not None and record.presets == ("web", "thumbnails")
    for source in written.get("sources", []):
        record = repo.get_source(source["id"])
        assert record is not None and record.path == source["path"]


def test_the_check_sees_a_lost_value(engine: Engine) -> None:
    """Guards the test above against passing vacuously: a changed value is a difference."""
    migrate(engine, revisions()[0])
    written = fill_every_table(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE jobs SET label = 'changed' WHERE rowid = 2")
    columns = list(written["jobs"][0])
    assert read_back(engine, "jobs", columns) != written["jobs"]
    assert len(read_back(engine, "outputs", ["id"])) == ROWS
