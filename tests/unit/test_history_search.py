"""History search over jobs.search_key: same rows and order as filtering by hand, and the
queries read the covering search index, never the table rows of jobs that do not match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reelforge.domain.jobs import JobKind, JobStatus
from reelforge.domain.spec import JobSpec, OutputTarget, new_job_id
from reelforge.storage.engine import open_database
from reelforge.storage.models import HISTORY_SEARCH_INDEX, search_key
from reelforge.storage.records import JobRecord
from reelforge.storage.repository import Repository

# Decomposed é (macOS names), ß, a Greek final sigma, upper and lower case.
STEMS = ("Cafe\u0301", "STRASSE", "straße", "ΟΔΟΣ", "holiday", "Holiday_Été")
PRESETS = ("web", "archive")


def make_spec(i: int) -> JobSpec:
    stem = STEMS[i % len(STEMS)]
    preset = PRESETS[i % 2]
    return JobSpec(
        id=new_job_id(),
        kind=JobKind.ENCODE,
        preset=preset,
        source=f"/videos/{stem}_{i:03d}.mp4",
        outputs=(OutputTarget(role="720p", path=f"/out/{i}.mp4", media="video"),),
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(tmp_path / "history.db")
    yield engine
    engine.dispose()


@pytest.fixture
def repo(engine: Engine) -> Repository:
    repo = Repository(engine)
    batch = repo.create_batch(list(PRESETS), "/out", "gui")
    specs = [make_spec(i) for i in range(120)]
    # Chunks of 20 per add_jobs call: the jobs of one call share created_at, so the order
    # within a chunk rests on the rowid tie-break.
    for n in range(0, len(specs), 20):
        status = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.QUEUED)[n // 20 % 3]
        repo.add_jobs(
            batch, None, specs[n : n + 20], status=status, app_version="0.1.0", ffmpeg_version=None
        )
    return repo


def by_hand(everything: list[JobRecord], search: str, **filters: str) -> list[str]:
    return [
        j.id
        for j in everything
        if search_key(search) in search_key(j.source_path)
        and filters.get("status", j.status.value) == j.status.value
        and filters.get("preset", j.preset) == j.preset
    ]


@pytest.mark.parametrize(
    ("search", "filters"),
    [
        ("café", {}),  # NFC term, NFD names
        ("strasse", {}),  # ß folds to ss: both spellings
        ("οδος", {}),  # final sigma
        ("HOLIDAY", {}),
        ("été", {"preset": "web"}),
        ("_0", {"status": "failed"}),
        ("holiday", {"status": "queued", "preset": "archive"}),
        ("nothing-matches", {}),
    ],
)
def test_search_pages_match_filtering_by_hand(
    repo: Repository, search: str, filters: dict[str, str]
) -> None:
    everything = repo.history()  # newest first, unsearched
    expected = by_hand(everything, search, **filters)
    assert repo.count_history(search=search, **filters) == len(expected)  # type: ignore[arg-type]
    pages = [
        [j.id for j in repo.history(search=search, limit=7, offset=o, **filters)]  # type: ignore[arg-type]
        for o in range(0, len(expected) + 7, 7)
    ]
    assert [i for page in pages for i in page] == expected
    assert [j.id for j in repo.history(search=search, **filters)] == expected  # type: ignore[arg-type]


def test_search_terms_are_literal(repo: Repository) -> None:
    # instr, not LIKE: % and _ are plain characters (as LIKE patterns both would match).
    assert repo.count_history(search="y_0") == 16  # holiday_004 ... holiday_094
    assert repo.count_history(search="y__") == 0
    assert repo.count_history(search="%") == 0


def plans(engine: Engine, call: Any) -> list[list[str]]:
    """EXPLAIN QUERY PLAN of each SELECT on jobs the call runs, with its real parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_c: object, _cur: object, statement: str, params: Any, *_a: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM jobs" in statement:
            seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as conn:
        return [
            [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            for sql, params in seen
        ]


@pytest.mark.parametrize(
    "filters",
    [{}, {"status": "failed"}, {"preset": "web", "status": "succeeded"}],
)
def test_search_reads_only_the_covering_index(
    repo: Repository, engine: Engine, filters: dict[str, str]
) -> None:
    found = plans(
        engine,
        lambda: (
            repo.history(search="zzz", limit=100, offset=100, **filters),  # type: ignore[arg-type]
            repo.count_history(search="zzz", **filters),  # type: ignore[arg-type]
        ),
    )
    assert len(found) == 2, found
    covering = f"SCAN jobs USING COVERING INDEX {HISTORY_SEARCH_INDEX}"
    for plan in found:
        # The only scan is of the index; table rows are read by rowid, for the page alone.
        scans = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
        assert covering in scans, plan
        assert all(s == covering or "(rowid=?)" in s for s in scans), plan
