"""The queue model without widgets: events in, rows and coalesced dataChanged out."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from reelforge.domain.events import (
    JobFinished,
    JobProgressed,
    JobsQueued,
    JobStarted,
    QueuedJob,
)
from reelforge.ui.queue_model import COL_MSG, COL_PROGRESS, PERCENT_ROLE, QueueModel, _runs


def queued(model: QueueModel, job: str, source: str = "/v/a.mp4", kind: str = "encode") -> None:
    model.on_queued(JobsQueued(1, (QueuedJob(job, kind, "web", f"web: {job}", source),)))


def test_jobs_group_under_their_source(qapp) -> None:
    m = QueueModel()
    queued(m, "p1", kind="probe")
    queued(m, "e1")
    queued(m, "p2", source="/v/b.mp4", kind="probe")
    assert m.rowCount() == 2
    first = m.index(0, 0)
    assert m.data(first) == "a.mp4" and m.rowCount(first) == 2
    child = m.index(1, 0, first)
    assert m.parent(child) == first
    assert m.data(m.index(0, 1, first)) == "web: p1"
    assert m.rowCount(child) == 0
    assert m.index(5, 0) == QModelIndex()


def test_progress_is_coalesced_into_ranges(qapp, qtbot) -> None:
    m = QueueModel()
    m._timer.stop()  # drive the coalescing by hand
    for i in range(10):
        queued(m, f"j{i}")
    m.flush()
    for i in range(10):
        m.on_started(JobStarted(f"j{i}"))
    m.flush()
    changes: list[tuple[int, int, bool]] = []
    m.dataChanged.connect(lambda a, b, *_: changes.append((a.row(), b.row(), a.parent().isValid())))
    for _ in range(50):  # many ticks per job between two flushes
        for i in (0, 1, 2, 7, 8):
            m.on_progress(JobProgressed(f"j{i}", 40.0, 1.5, 12.0))
    assert changes == []  # nothing painted until the timer fires
    m.flush()
    job_ranges = sorted(c[:2] for c in changes if c[2])
    assert job_ranges == [(0, 2), (7, 8)]
    assert [c for c in changes if not c[2]] == [(0, 0, False)]
    src = m.index(0, 0)
    assert m.data(m.index(0, COL_PROGRESS, src), PERCENT_ROLE) == 40.0
    assert m.data(m.index(0, 4, src)) == "1.50x"
    assert m.data(m.index(0, 5, src)) == "0:12"


def test_finish_counts_and_messages(qapp) -> None:
    m = QueueModel()
    queued(m, "a")
    queued(m, "b")
    queued(m, "c")
    m.on_started(JobStarted("a"))
    assert m.counts() == {"queued": 2, "running": 1, "done": 0, "failed": 0, "total": 3}
    m.on_finished(
        JobFinished("a", "succeeded", outputs=({"role": "720p", "path": "/o/a.mp4", "size": 2048},))
    )
    m.on_finished(JobFinished("b", "failed", error="not a media file"))
    c = m.counts()
    assert (c["done"], c["failed"], c["queued"]) == (1, 1, 1)
    src = m.index(0, 0)
    assert m.data(m.index(1, COL_MSG, src)) == "not a media file"
    assert m.data(m.index(1, COL_PROGRESS, src), PERCENT_ROLE) is None  # no bar for a failure
    assert m.data(m.index(0, COL_MSG)) == "not a media file"
    assert m.data(m.index(0, 6, src)) == "2.0 KB"
    assert abs(m.overall_percent() - 200 / 3) < 0.01


def test_retry_resets_the_row_and_clear_finished_keeps_active(qapp) -> None:
    m = QueueModel()
    queued(m, "a")
    queued(m, "b", source="/v/b.mp4")
    m.on_finished(JobFinished("a", "failed", error="boom"))
    queued(m, "a")  # a retry announces the same job again
    assert m.job("a").status == "queued" and m.job("a").error is None
    assert m.rowCount(m.index(0, 0)) == 1
    m.on_finished(JobFinished("b", "succeeded"))
    m.clear_finished()
    assert m.rowCount() == 1 and m.job("b") is None and m.job("a") is not None


def test_status_text_marks_resumed_jobs(qapp) -> None:
    m = QueueModel()
    queued(m, "a")
    m.mark_resumed(["a"])
    assert m.data(m.index(0, 2, m.index(0, 0)), Qt.ItemDataRole.DisplayRole) == "queued (resumed)"


def test_runs() -> None:
    assert _runs([1, 2, 3, 7, 8, 10]) == [(1, 3), (7, 8), (10, 10)]
    assert _runs([]) == []


def test_a_big_drop_is_one_insert(qapp) -> None:
    m = QueueModel()
    inserts: list[tuple[int, int]] = []
    m.rowsInserted.connect(lambda parent, a, b: inserts.append((a, b)))
    jobs = tuple(QueuedJob(f"p{i}", "probe", "probe", "probe", f"/v/{i}.mp4") for i in range(5000))
    m.on_queued(JobsQueued(1, jobs))
    assert inserts == [(0, 4999)]
    assert m.rowCount() == 5000 and m.rowCount(m.index(4999, 0)) == 1
    assert m.data(m.index(4999, 0)) == "4999.mp4"


def test_running_totals_match_a_full_count(qapp) -> None:
    """The O(1) counters agree with a walk over every job after any mix of events."""
    import random

    m = QueueModel()
    m._timer.stop()
    rng = random.Random(7)
    ids = [f"j{i}" for i in range(300)]
    for i, job in enumerate(ids):
        queued(m, job, source=f"/v/{i % 40}.mp4")
    for _ in range(2000):
        job = rng.choice(ids)
        op = rng.random()
        if op < 0.3:
            m.on_started(JobStarted(job))
        elif op < 0.6:
            m.on_progress(JobProgressed(job, rng.uniform(0, 100)))
        elif op < 0.8:
            m.on_finished(JobFinished(job, rng.choice(["succeeded", "failed", "cancelled"])))
        elif op < 0.9:
            queued(m, job)  # a retry
        else:
            m.remove_jobs([job])
    jobs = [j for s in m._sources for j in s.jobs]
    walk = {
        "queued": sum(j.status in ("queued", "interrupted") for j in jobs),
        "running": sum(j.status == "running" for j in jobs),
        "failed": sum(j.status == "failed" for j in jobs),
        "total": len(jobs),
    }
    walk["done"] = walk["total"] - walk["queued"] - walk["running"] - walk["failed"]
    assert m.counts() == walk
    expected = sum(
        (j.percent or 0.0) if j.status in ("queued", "running", "interrupted") else 100.0
        for j in jobs
    ) / len(jobs)
    assert abs(m.overall_percent() - expected) < 1e-6
