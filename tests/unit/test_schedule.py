"""Schedules as pure functions (heavy-lane hours, periodic tasks) and housekeeping."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from reelforge.storage.engine import open_database
from reelforge.storage.monitoring import MonitoringStore
from reelforge.watch.housekeeping import run_housekeeping, sweep_stale_temps
from reelforge.watch.schedule import (
    HOUSEKEEPING,
    beat_schedule,
    describe,
    due,
    heavy_allowed,
    next_change,
    parse_hours,
)


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm)


def test_window_wrapping_midnight() -> None:
    night = parse_hours("22:00-07:00")
    assert describe(night) == "22:00-07:00"
    assert heavy_allowed(night, at(23)) and heavy_allowed(night, at(0, 30))
    assert heavy_allowed(night, at(22)) and not heavy_allowed(night, at(7))
    assert not heavy_allowed(night, at(12))
    assert next_change(night, at(12, 30)) == at(22)
    assert next_change(night, at(23, 10)) == datetime(2026, 11, 24, 7, 0)


def test_several_windows_and_none() -> None:
    two = parse_hours(" 12:00-13:00 , 20:00-24:00")
    assert heavy_allowed(two, at(12, 59)) and heavy_allowed(two, at(23, 59))
    assert not heavy_allowed(two, at(13)) and not heavy_allowed(two, at(0, 1))
    assert parse_hours("") == () and heavy_allowed((), at(3)) and next_change((), at(3)) is None
    assert heavy_allowed(parse_hours("00:00-00:00"), at(5))


@pytest.mark.parametrize("bad", ["22-07", "25:00-07:00", "10:60-11:00", "09:00-24:30", "x"])
def test_bad_hours_are_one_line_errors(bad: str) -> None:
    with pytest.raises(ValueError, match="heavy_hours"):
        parse_hours(bad)


def test_periodic_tasks_and_beat_entries() -> None:
    periods = {"a": 60.0, "b": 3600.0}
    assert due(periods, {}, 1000.0) == ["a", "b"]
    assert due(periods, {"a": 950.0, "b": 0.0}, 1000.0) == []
    assert due(periods, {"a": 940.0, "b": 0.0}, 1000.0) == ["a"]
    beat = beat_schedule()
    assert beat[HOUSEKEEPING] == {"task": HOUSEKEEPING, "schedule": 6 * 3600.0}


def test_temp_sweep_takes_only_old_temp_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "clip").mkdir(parents=True)
    old_temp = out / "clip" / ".rftmp-abc.clip.720p.mp4"
    new_temp = out / "clip" / ".rftmp-def.clip.480p.mp4"
    keep = out / "clip" / "clip.720p.mp4"
    for p in (old_temp, new_temp, keep):
        p.write_bytes(b"x")
    past = time.time() - 7 * 3600
    os.utime(old_temp, (past, past))
    os.utime(keep, (past, past))
    assert sweep_stale_temps([str(out), str(tmp_path / "missing")], time.time() - 6 * 3600) == 1
    assert not old_temp.exists() and new_temp.exists() and keep.exists()


def test_housekeeping_retention(tmp_path: Path, reelforge_home: Path) -> None:
    from reelforge.domain.jobs import JobKind, JobStatus
    from reelforge.domain.spec import JobSpec
    from reelforge.storage.repository import Repository

    engine = open_database(tmp_path / "h.sqlite3")
    repo, store = Repository(engine), MonitoringStore(engine)
    old = repo.create_batch(["web"], "/o", "cli")
    spec = JobSpec("j1", JobKind.PROBE, "web", "/v/a.mp4")
    repo.add_jobs(old, None, [spec], status=JobStatus.SKIPPED, app_version="t", ffmpeg_version=None)
    repo.finish_batch(old)
    live = repo.create_batch(["web"], "/o", "cli")  # not finished: never forgotten
    logs = tmp_path / "jobs"
    logs.mkdir()
    (logs / "a.log").write_text("x")
    (logs / "b.log").write_text("x")
    past = time.time() - 40 * 86400
    os.utime(logs / "a.log", (past, past))
    now = time.time() + 10 * 86400
    assert run_housekeeping(store, logs, [], history_days=0, log_days=0, now=now) == (0, 0, 0)
    assert repo.get_batch(old) is not None
    assert run_housekeeping(store, logs, [], history_days=5, log_days=30, now=now) == (1, 1, 0)
    assert repo.get_batch(old) is None and repo.get_batch(live) is not None
    assert repo.get_job("j1") is None and repo.transitions("j1") == []
    assert not (logs / "a.log").exists() and (logs / "b.log").exists()
    engine.dispose()
