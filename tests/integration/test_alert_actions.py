"""Alerts act on the real engine: a failure spike pauses every lane until a person resumes;
low disk pauses the heavy lane and resumes it when space is back; both are said in events and
recorded in the alerts history; heavy-lane hours pause and resume with their own reason."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from reelforge.bootstrap import build
from reelforge.domain.events import (
    AlertCleared,
    AlertRaised,
    JobFinished,
    JobsQueued,
    QueuedJob,
    QueueStateChanged,
)
from reelforge.domain.jobs import JobKind, Lane
from reelforge.domain.spec import JobSpec, OutputTarget
from reelforge.services.diskguard import DiskGuard, Usage


def _record(app, n: int) -> list[str]:
    """n queued jobs in the history (so the recorder can settle them), announced."""
    batch = app.repo.create_batch(["web"], "/tmp/out", "cli")
    specs = [JobSpec(f"job{i:03d}", JobKind.PROBE, "web", f"/v/{i}.mp4") for i in range(n)]
    app.repo.add_jobs(batch, None, specs, app_version="t", ffmpeg_version=None)
    app.bus.publish(
        JobsQueued(batch, tuple(QueuedJob(s.id, "probe", "web", "probe", s.source) for s in specs))
    )
    return [s.id for s in specs]


def test_failure_spike_pauses_the_queue_until_resumed(qapp, reelforge_home: Path) -> None:
    (reelforge_home / "alerts.toml").write_text("[failure_spike]\nfailures = 3\nminutes = 5\n")
    app = build()
    raised: list[AlertRaised] = []
    cleared: list[AlertCleared] = []
    states: list[QueueStateChanged] = []
    app.bus.subscribe(AlertRaised, raised.append)
    app.bus.subscribe(AlertCleared, cleared.append)
    app.bus.subscribe(QueueStateChanged, states.append)
    try:
        app.start_background()
        for job in _record(app, 3):
            app.bus.publish(JobFinished(job, "failed", error="not a media file"))
        assert app.executor.is_paused(Lane.LIGHT) and app.executor.is_paused(Lane.HEAVY)
        (alert,) = raised
        assert alert.rule == "failure_spike" and alert.action == "queue paused until you resume it"
        assert {s.lane for s in states if s.paused} == {"light", "heavy"}
        assert all("failure spike: 3 jobs failed within 5 min" in s.reason for s in states)
        (row,) = app.store.alerts()
        assert (row.rule, row.action, row.cleared_at) == (alert.rule, alert.action, None)

        app.executor.resume(reason="resumed by you")
        assert not app.executor.is_paused(Lane.HEAVY)
        assert [c.rule for c in cleared] == ["failure_spike"]
        assert app.store.alerts()[0].cleared_at is not None
    finally:
        app.close(interrupt=False)


def test_low_disk_pauses_heavy_and_resumes_when_space_is_back(qapp, qtbot, tmp_path: Path) -> None:
    free = {"bytes": 0}
    app = build()
    app.alerts.gate.guard = DiskGuard(
        margin_bytes=100, usage=lambda p: Usage(10**12, 0, free["bytes"])
    )
    app.executor._gate_timer.setInterval(50)
    raised: list[AlertRaised] = []
    cleared: list[AlertCleared] = []
    states: list[QueueStateChanged] = []
    app.bus.subscribe(AlertRaised, raised.append)
    app.bus.subscribe(AlertCleared, cleared.append)
    app.bus.subscribe(QueueStateChanged, states.append)
    finished: list[JobFinished] = []
    app.bus.subscribe(JobFinished, finished.append)
    out = tmp_path / "out"
    spec = JobSpec(
        "enc1",
        JobKind.ENCODE,
        "web",
        str(tmp_path / "missing.mp4"),
        10.0,
        (OutputTarget("720p", str(out / "x" / "x.720p.mp4"), "video", 1280, 720, True, 10.0),),
    )
    try:
        app.start_background()
        batch = app.repo.create_batch(["web"], str(out), "cli")
        app.repo.add_jobs(batch, None, [spec], app_version="t", ffmpeg_version=None)
        app.executor.submit(spec)
        assert app.executor.is_paused(Lane.HEAVY) and not app.executor.is_paused(Lane.LIGHT)
        (alert,) = raised
        assert alert.rule == "low_disk" and alert.severity == "critical"
        assert alert.action == "heavy lane paused until space is back"
        assert alert.message.startswith("low disk space on ")
        assert finished == []
        free["bytes"] = 10**12
        qtbot.waitUntil(lambda: not app.executor.is_paused(Lane.HEAVY), timeout=5000)
        assert [c.rule for c in cleared] == ["low_disk"]
        assert cleared[0].action == "heavy lane resumed"
        assert states[-1].paused is False
        (row,) = app.store.alerts()
        assert row.rule == "low_disk" and row.cleared_at is not None
        qtbot.waitUntil(lambda: bool(finished), timeout=20000)  # the job ran (and failed)
    finally:
        app.close(interrupt=False)


def test_heavy_hours_pause_and_resume_with_their_reason(qapp) -> None:
    app = build()
    clock = {"now": datetime(2026, 11, 23, 12, 0)}
    app.settings = app.settings.__class__(**{**app.settings.__dict__, "heavy_hours": "22:00-07:00"})
    sched = app.scheduler
    sched._local_now = lambda: clock["now"]
    states: list[QueueStateChanged] = []
    app.bus.subscribe(QueueStateChanged, states.append)
    try:
        sched._enforce_hours()
        assert app.executor.is_paused(Lane.HEAVY) and not app.executor.is_paused(Lane.LIGHT)
        assert states[-1].reason == "outside heavy-job hours (22:00-07:00)"
        # Resumed by something else (the disk gate's recheck): paused again at once.
        app.executor.resume(Lane.HEAVY, "disk space is back")
        assert app.executor.is_paused(Lane.HEAVY)
        # A person's resume wins until the hours change.
        app.executor.resume(Lane.HEAVY, "resumed by you")
        assert not app.executor.is_paused(Lane.HEAVY)
        app.executor.pause(Lane.HEAVY, "paused by you")
        clock["now"] = datetime(2026, 11, 23, 22, 0)
        sched._enforce_hours()
        assert app.executor.is_paused(Lane.HEAVY)  # the person's pause is theirs to lift
        app.executor.resume(Lane.HEAVY, "resumed by you")
        clock["now"] = datetime(2026, 11, 24, 7, 0)
        sched._enforce_hours()
        assert app.executor.is_paused(Lane.HEAVY)
        clock["now"] = datetime(2026, 11, 24, 22, 30)
        sched._enforce_hours()
        assert not app.executor.is_paused(Lane.HEAVY)
        assert states[-1].reason == "heavy-job hours began (22:00-07:00)"
    finally:
        app.close(interrupt=False)
