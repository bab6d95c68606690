"""The cluster's schedules from Celery beat: heavy-job hours hold and release every worker's heavy
queue, and housekeeping runs on each worker; with a real redis-server, real `reelforge worker`
and `reelforge beat` processes.

The hours decision is checked with a fake clock; the processes run on the real one, so the test
moves the hours instead of waiting for them: a window that excludes now, then none.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis

from clusterkit import RedisServer, StartBeat, StartWorker, free_port, sample, scrape, wait_for
from reelforge.cluster import keys
from reelforge.cluster.beat import (
    HOURS_TASK,
    SCHEDULE_QUEUE,
    BeatRuntime,
    cluster_schedule,
    hold_ttl,
)
from reelforge.cluster.celery_app import TASK_NAME, make_celery
from reelforge.config import Settings
from reelforge.domain.naming import TEMP_PREFIX
from reelforge.watch.schedule import HOUSEKEEPING, PERIODS

pytestmark = pytest.mark.timeout(300)
DAY = 86400.0


def test_beat_entries_are_the_desktop_schedule_plus_the_hours_check() -> None:
    entries = cluster_schedule(5.0)
    assert entries[HOUSEKEEPING]["schedule"] == PERIODS[HOUSEKEEPING]  # every 6 h, as locally
    assert entries[HOUSEKEEPING]["task"] == HOUSEKEEPING
    assert entries[HOURS_TASK] == {
        "task": HOURS_TASK,
        "schedule": 5.0,
        "options": {"queue": SCHEDULE_QUEUE},
    }
    assert all(e["options"] == {"queue": SCHEDULE_QUEUE} for e in entries.values())


def test_the_hours_decision_follows_the_clock(rclient: redis.Redis) -> None:
    now = {"t": datetime(2026, 11, 23, 23, 30)}
    settings = {"s": Settings(heavy_hours="22:00-07:00", output_dir="/srv/out")}
    rt = BeatRuntime(
        rclient, lambda: settings["s"], 5.0, clock=lambda: 1234.5, local_now=lambda: now["t"]
    )
    assert rt.check_hours() is None and not rclient.exists(keys.HOLD_HEAVY)
    now["t"] = datetime(2026, 11, 24, 7, 0)  # the window ends at 07:00
    reason = rt.check_hours()
    assert reason == "outside heavy-job hours (22:00-07:00)"
    assert rclient.get(keys.HOLD_HEAVY) == reason.encode()
    assert 0 < rclient.ttl(keys.HOLD_HEAVY) <= hold_ttl(5.0)  # a gone beat holds nothing for long
    now["t"] = datetime(2026, 11, 24, 22, 0)
    assert rt.check_hours() is None and not rclient.exists(keys.HOLD_HEAVY)
    # Housekeeping: the request names the time and the settings' output folders.
    assert rt.request_housekeeping() == ["/srv/out"]
    request = json.loads(rclient.get(keys.HOUSEKEEPING) or b"")
    assert request == {"at": 1234.5, "folders": ["/srv/out"]}
    now["t"] = datetime(2026, 11, 24, 12, 0)
    settings["s"] = Settings(heavy_hours="nonsense")  # a bad setting holds nothing
    assert rt.check_hours() is None and not rclient.exists(keys.HOLD_HEAVY)


def _closed_now() -> str:
    """Hours that do not include the present minute (two to three hours from now)."""
    start = datetime.now() + timedelta(hours=2)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def _queues_of(redis_server: RedisServer, node: str) -> set[str]:
    app = make_celery(redis_server.url)
    try:
        replies = app.control.inspect(destination=[node], timeout=3).active_queues() or {}
    finally:
        app.close()
    return {q["name"] for q in replies.get(node, [])}


def _age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_beat_holds_heavy_outside_the_hours_and_every_worker_keeps_house(
    tmp_path: Path,
    redis_server: RedisServer,
    rclient: redis.Redis,
    start_worker: StartWorker,
    start_beat: StartBeat,
) -> None:
    port = free_port()
    heavy = start_worker("wH", extra=("--metrics-port", str(port)))
    start_worker("wL", queues="light")
    # What housekeeping must and must not remove: wH's job logs, and an output folder.
    jobs = heavy.home / "logs" / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    old_log = jobs / "old.log"
    old_log.write_text("x")
    _age(old_log, 40 * DAY)
    new_log = jobs / "new.log"
    new_log.write_text("x")
    out = tmp_path / "out"
    (out / "clip").mkdir(parents=True)
    stale = out / "clip" / f"{TEMP_PREFIX}clip.720p.mp4"
    fresh = out / "clip" / f"{TEMP_PREFIX}clip.480p.mp4"
    keep = out / "clip" / "clip.720p.mp4"
    for path in (stale, fresh, keep):
        path.write_text("x")
    _age(stale, 7 * 3600)
    _age(keep, 40 * DAY)

    settings = tmp_path / "beat-settings.toml"
    settings.write_text(f'heavy_hours = "{_closed_now()}"\noutput_dir = "{out}"\n')
    beat = start_beat(settings.read_text())

    # Outside the hours: wH stops taking heavy jobs; wL, which never served heavy, is untouched.
    wait_for(
        lambda: sample(scrape(port), "reelforge_worker_consuming", queue="heavy") == 0,
        30,
        "wH to stop consuming the heavy queue",
    )
    assert _queues_of(redis_server, "celery@wH") == {"light"}
    assert _queues_of(redis_server, "celery@wL") == {"light"}
    assert rclient.get(keys.HOLD_HEAVY).decode().startswith("outside heavy-job hours")

    # Housekeeping ran on the worker, at its start of following beat: only stale things went.
    wait_for(lambda: not old_log.exists() and not stale.exists(), 30, "housekeeping on wH")
    assert new_log.exists() and fresh.exists() and keep.exists()

    # A heavy job sent now waits in the broker, even for a worker that starts now.
    celery = make_celery(redis_server.url)
    try:
        spec = {"id": f"held-{uuid.uuid4().hex[:6]}", "kind": "encode", "v": 1, "outputs": []}
        celery.send_task(TASK_NAME, args=[spec, "nobody"], queue="heavy", serializer="json")
    finally:
        celery.close()
    late_port = free_port()
    start_worker("wLate", extra=("--metrics-port", str(late_port)))
    wait_for(
        lambda: sample(scrape(late_port), "reelforge_worker_consuming", queue="heavy") == 0,
        30,
        "the late worker to hold the heavy queue",
    )
    time.sleep(3)  # room for a wrong take
    assert rclient.llen("heavy") == 1
    for p in (port, late_port):
        assert (
            sample(scrape(p), "reelforge_worker_tasks_received_total", queue="heavy", kind="encode")
            == 0
        )

    # The hours change (beat re-reads its settings): heavy is taken again and the job arrives.
    (beat.home / "settings.toml").write_text(f'heavy_hours = ""\noutput_dir = "{out}"\n')
    wait_for(lambda: not rclient.exists(keys.HOLD_HEAVY), 30, "beat to lift the hold")
    wait_for(
        lambda: all(
            sample(scrape(p), "reelforge_worker_consuming", queue="heavy") == 1
            for p in (port, late_port)
        ),
        30,
        "both heavy workers to take the heavy queue again",
    )
    assert _queues_of(redis_server, "celery@wH") == {"light", "heavy"}
    assert _queues_of(redis_server, "celery@wL") == {"light"}

    def dropped() -> float:  # it is no current attempt of any job: taken, then dropped
        return sum(
            sample(scrape(p), "reelforge_worker_tasks_dropped_total", queue="heavy", kind="encode")
            for p in (port, late_port)
        )

    wait_for(lambda: dropped() == 1, 30, "the waiting heavy job to be taken")
    assert rclient.llen("heavy") == 0
