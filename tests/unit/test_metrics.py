"""Metrics derived from job facts and events, with a fake clock; `reelforge stats`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reelforge.cli import main
from reelforge.config import Paths, Settings, WatchFolder, load_settings, save_settings
from reelforge.domain.events import (
    JobFinished,
    JobProgressed,
    JobsQueued,
    JobStarted,
    QueuedJob,
    QueueStateChanged,
)
from reelforge.domain.jobs import JobKind, JobStatus
from reelforge.domain.spec import JobSpec, OutputTarget
from reelforge.observability.live import LiveState
from reelforge.observability.metrics import collect_stats, compute_stats, disk_free, series
from reelforge.observability.stats_text import stats_lines
from reelforge.storage.engine import open_database
from reelforge.storage.monitoring import JobFact, MonitoringStore, _to_db
from reelforge.storage.repository import Repository

NOW = 1_790_000_000.0
H = 3600.0


def fact(**kw: object) -> JobFact:
    base: dict[str, object] = {
        "kind": "encode",
        "lane": "heavy",
        "preset": "web",
        "status": "succeeded",
        "source": "/v/a.mp4",
        "queued_at": NOW - 1000,
        "started_at": NOW - 900,
        "finished_at": NOW - 800,
        "seconds": 100.0,
        "source_bytes": 1000,
        "media_seconds": 300.0,
        "fps": 25.0,
        "bytes_out": 400,
    }
    base.update(kw)
    return JobFact(**base)  # type: ignore[arg-type]


def test_stats_of_a_window() -> None:
    facts = [
        fact(),  # 300 s of media in 100 s
        # Overlaps the first for 50 s: busy time is the union (150 s), not the sum.
        fact(started_at=NOW - 850, finished_at=NOW - 750, seconds=100.0, preset="web"),
        fact(
            kind="thumbnails",
            lane="light",
            preset="thumbnails",
            media_seconds=300.0,
            fps=None,
            bytes_out=50,
            started_at=NOW - 700,
            finished_at=NOW - 690,
            seconds=10.0,
            queued_at=NOW - 800,
        ),
        fact(
            status="failed",
            bytes_out=0,
            finished_at=NOW - 600,
            started_at=NOW - 610,
            seconds=10.0,
            queued_at=NOW - 1000,
        ),
        fact(
            kind="probe",
            lane="light",
            preset="web",
            status="succeeded",
            media_seconds=0,
            bytes_out=0,
            started_at=NOW - 1001,
            finished_at=NOW - 1000,
            seconds=1.0,
            queued_at=NOW - 1002,
        ),
        fact(status="succeeded", finished_at=NOW - 2 * H, started_at=NOW - 2 * H - 10),  # old
        fact(status="queued", started_at=None, finished_at=None, seconds=None, bytes_out=0),
        fact(status="running", lane="light", kind="preview", finished_at=None, seconds=None),
    ]
    s = compute_stats(facts, NOW - H, NOW)
    assert s.counts == {"succeeded": 4, "failed": 1}
    assert s.jobs_per_hour == pytest.approx(4.0)  # 3 succeeded + 1 failed, the probe excluded
    assert s.media_minutes_per_wall_minute == pytest.approx(600 / 150)
    assert s.encode_fps == pytest.approx(600 * 25 / 200)
    assert s.failure_rate == pytest.approx(1 / 5)
    assert s.bytes_out == 400 + 400 + 50
    assert s.bytes_in == 3000  # three succeeded jobs that did work, 1000 each
    assert s.queue_depth == {"light": 0, "heavy": 1}
    assert s.running == {"light": 1, "heavy": 0}
    waits = [100, 150, 100, 390, 1, 100]  # the queued job never started; running one did
    assert s.avg_wait_seconds == pytest.approx(sum(waits) / len(waits))
    web = next(p for p in s.presets if p.preset == "web")
    assert (web.jobs, web.failed) == (3, 1)
    assert web.avg_speed == pytest.approx(3.0)
    assert web.avg_run_seconds == pytest.approx(100.0)
    text = "\n".join(stats_lines(s))
    assert "4.0 jobs/h" in text and "4.00 media min per wall min" in text and "20.0%" in text


def test_empty_window_has_no_rates() -> None:
    s = compute_stats([], NOW - H, NOW)
    assert s.jobs_per_hour == 0 and s.failure_rate is None and s.encode_fps is None
    assert "-" in "\n".join(stats_lines(s))


def test_series_buckets_throughput_and_depth() -> None:
    facts = [
        fact(queued_at=NOW - 3000, started_at=NOW - 1500, finished_at=NOW - 100),
        fact(queued_at=NOW - 3000, started_at=None, finished_at=None, status="queued"),
        fact(status="failed", queued_at=NOW - 2000, started_at=NOW - 1990, finished_at=NOW - 1900),
    ]
    out = series(facts, NOW - H, NOW, 6)  # 10-minute buckets
    assert out.succeeded == [0, 0, 0, 0, 0, 1]
    assert out.failed == [0, 0, 1, 0, 0, 0]  # -1900 falls in [-2400, -1800)
    assert out.media_minutes[-1] == pytest.approx(5.0)
    # Bucket ends at -3000, -2400, -1800, -1200, -600, 0.
    assert out.waiting["heavy"] == [2, 2, 2, 1, 1, 1]
    assert out.running == [0, 0, 0, 1, 1, 0]


def test_live_state_from_events_with_a_fake_clock() -> None:
    now = [NOW]
    live = LiveState(clock=lambda: now[0])
    jobs = (
        QueuedJob("e1", "encode", "web", "web: 720p", "/v/a.mp4"),
        QueuedJob("t1", "thumbnails", "web", "web: poster", "/v/a.mp4"),
    )
    live.observe(JobsQueued(1, jobs))
    assert live.depth() == {"light": 1, "heavy": 1} and live.idle_for() is None
    live.observe(JobStarted("e1"))
    now[0] += 30
    live.observe(JobProgressed("e1", 10.0, 2.5))
    assert live.running_now() == {"light": 0, "heavy": 1} and live.speed_now() == 2.5
    now[0] += 45
    assert live.idle_for() == 45
    live.observe(QueueStateChanged("heavy", True, "low disk"))
    assert live.paused == {"heavy": "low disk"}
    live.observe(JobFinished("e1", "succeeded"))
    assert live.running_now()["heavy"] == 0 and live.speed_now() == 0
    assert live.idle_for() is None


def test_disk_free_one_row_per_volume(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    rows = disk_free(
        [str(tmp_path / "a"), str(tmp_path / "b" / "not-yet"), ""],
        usage=lambda p: (1000, 400, 600),
    )
    assert len(rows) == 1 and rows[0].free == 600 and rows[0].total == 1000


def _encode_spec(job_id: str, out: Path) -> JobSpec:
    target = OutputTarget("720p", str(out / f"{job_id}.mp4"), "video", 1280, 720, True, 10.0)
    return JobSpec(job_id, JobKind.ENCODE, "web", "/v/a.mp4", 10.0, (target,))


def _history(reelforge_home: Path, tmp_path: Path) -> tuple[Repository, MonitoringStore]:
    engine = open_database(Paths.from_env().ensure().database)
    repo, store = Repository(engine), MonitoringStore(engine)
    batch = repo.create_batch(["web"], str(tmp_path / "out"), "cli")
    source = repo.upsert_source(
        "/v/a.mp4",
        size=5_000_000,
        mtime=1.0,
        fingerprint="fp",
        media_info={
            "path": "/v/a.mp4",
            "format_name": "mp4",
            "duration": 10.0,
            "size": 5_000_000,
            "video": [{"index": 0, "codec": "h264", "width": 1280, "height": 720, "fps": 25.0}],
        },
    )
    for job_id, status in (("ok", JobStatus.SUCCEEDED), ("bad", JobStatus.FAILED)):
        repo.add_jobs(
            batch, source, [_encode_spec(job_id, tmp_path)], app_version="t", ffmpeg_version=None
        )
        repo.transition(job_id, JobStatus.RUNNING)
        outputs = (
            [{"role": "720p", "path": "/o.mp4", "size": 777}] if status == "succeeded" else None
        )
        repo.transition(job_id, status, seconds=4.0, outputs=outputs)
    with engine.begin() as conn:  # times as if a fake clock had run the jobs
        for job_id, started, finished in (("ok", NOW - 60, NOW - 56), ("bad", NOW - 50, NOW - 46)):
            conn.exec_driver_sql(
                "UPDATE jobs SET queued_at = ?, started_at = ?, finished_at = ? WHERE id = ?",
                (_to_db(NOW - 100), _to_db(started), _to_db(finished), job_id),
            )
    return repo, store


def test_facts_come_from_the_history(reelforge_home: Path, tmp_path: Path) -> None:
    _repo, store = _history(reelforge_home, tmp_path)
    facts = {f.status: f for f in store.job_facts(NOW - H)}
    ok = facts["succeeded"]
    assert (ok.fps, ok.media_seconds, ok.source_bytes, ok.bytes_out) == (25.0, 10.0, 5_000_000, 777)
    assert ok.started_at == pytest.approx(NOW - 60) and ok.finished_at == pytest.approx(NOW - 56)
    assert store.job_facts(NOW) == []  # both finished before "now"
    s = collect_stats(store, NOW - H, NOW, usage=lambda p: (10, 5, 5))
    assert s.encode_fps == pytest.approx(250 / 4)
    assert s.failure_rate == 0.5
    assert [d.free for d in s.disks] == [5]


def test_stats_command(reelforge_home: Path, tmp_path: Path, capsys) -> None:
    _history(reelforge_home, tmp_path)
    assert main(["stats", "--json", "--since", "100000w"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"succeeded": 1, "failed": 1}
    assert data["presets"][0]["preset"] == "web"
    assert data["disks"] and all(d["total"] >= d["free"] > 0 for d in data["disks"])
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "failure rate" in out and "queue now" in out
    assert main(["stats", "--since", "later"]) == 2


def test_settings_keep_watch_folders(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    s = Settings(watch=(WatchFolder("/in", ("web", "audio"), "/out"),), heavy_hours="22:00-07:00")
    save_settings(path, s)
    assert load_settings(path) == s
    path.write_text('[[watch]]\ndir = ""\n[[watch]]\ndir = "/x"\npresets = "audio"\n')
    assert load_settings(path).watch == (WatchFolder("/x", ("audio",), ""),)
    assert s.output_folders()[1:] == ["/out"]
