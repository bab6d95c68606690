"""`reelforge beat`: the cluster runs the desktop's schedules from Celery beat.

Two kinds of beat entries, both on the `schedule` queue:
- reelforge.housekeeping, from watch/schedule.py's beat_schedule() (every 6 h, as on the
  desktop) and once at start;
- reelforge.heavy_hours, every few seconds: is now inside `heavy_hours` (beat's settings.toml,
  read each time, local time of the beat machine)?

Each task writes its decision to Redis (cluster/keys.py: hold:heavy, housekeeping) and every
worker acts on it by itself (cluster/worker.py: follow_schedule): it stops or restarts its own
heavy consumer, or runs its own job-log retention and temp sweep. A state in Redis rather than a
one-off broadcast, so a worker that starts, or comes back, during closed hours holds at once.

The `schedule` queue is consumed by a one-slot worker inside the beat process, not by the job
workers: a schedule task there never waits behind an hour-long encode, and the hours flip on
time even when every job worker is busy. One `reelforge beat` per cluster (a second one would
only repeat the same decisions).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from celery import Celery, signals
from celery.beat import EmbeddedService

from reelforge.cluster import keys
from reelforge.cluster.celery_app import make_celery
from reelforge.config import Paths, Settings, load_settings
from reelforge.watch.schedule import (
    HOUSEKEEPING,
    PERIODS,
    beat_schedule,
    describe,
    heavy_allowed,
    parse_hours,
)

log = logging.getLogger("reelforge.cluster")

HOURS_TASK = "reelforge.heavy_hours"
HOURS_EVERY = 30.0  # seconds between heavy-hours checks, as the desktop's scheduler ticks
SCHEDULE_QUEUE = "schedule"


def cluster_schedule(hours_every: float = HOURS_EVERY) -> dict[str, dict[str, Any]]:
    """Celery beat entries: the desktop's periodic tasks plus the heavy-hours check."""
    entries: dict[str, dict[str, Any]] = dict(beat_schedule(PERIODS))
    entries[HOURS_TASK] = {"task": HOURS_TASK, "schedule": float(hours_every)}
    for entry in entries.values():
        entry["options"] = {"queue": SCHEDULE_QUEUE}
    return entries


def hold_ttl(hours_every: float) -> int:
    """A hold outlives a few missed checks, never a beat that is gone: then no schedule holds."""
    return int(max(3 * hours_every, 60.0))


@dataclass
class BeatRuntime:
    client: redis.Redis
    settings: Callable[[], Settings]
    hours_every: float = HOURS_EVERY
    clock: Callable[[], float] = time.time
    local_now: Callable[[], datetime] = datetime.now
    _said: str | None = "(nothing yet)"  # the hold last logged: only changes are logged

    def check_hours(self) -> str | None:
        """Hold heavy jobs (returns the reason) or let them run (None), for every worker."""
        try:
            windows = parse_hours(self.settings().heavy_hours)
        except ValueError as err:
            log.warning("%s; heavy jobs may start at any time", err)
            windows = ()
        if heavy_allowed(windows, self.local_now()):
            self.client.delete(keys.HOLD_HEAVY)
            reason = None
        else:
            reason = f"outside heavy-job hours ({describe(windows)})"
            self.client.set(keys.HOLD_HEAVY, reason, ex=hold_ttl(self.hours_every))
        if reason != self._said:
            self._said = reason
            log.info("heavy jobs %s", f"held: {reason}" if reason else "may run")
        return reason

    def request_housekeeping(self) -> list[str]:
        """Ask every worker for its housekeeping; returns the output folders named to them (the
        settings' ones, as the submitter sees them: each worker maps them with its path map)."""
        folders = [f for f in self.settings().output_folders() if f]
        request = json.dumps({"at": self.clock(), "folders": folders})
        self.client.set(keys.HOUSEKEEPING, request, ex=int(3 * PERIODS[HOUSEKEEPING]))
        return folders


def register_tasks(app: Celery, rt: BeatRuntime) -> None:
    @app.task(name=HOURS_TASK, ignore_result=True)
    def heavy_hours() -> str:
        reason = rt.check_hours()
        return f"heavy jobs held: {reason}" if reason else "heavy jobs may run"

    @app.task(name=HOUSEKEEPING, ignore_result=True)
    def housekeeping() -> str:
        folders = rt.request_housekeeping()
        return f"housekeeping asked of every worker ({len(folders)} output folder(s))"


def run_beat(
    *,
    broker: str,
    paths: Paths,
    hours_every: float = HOURS_EVERY,
    loglevel: str = "INFO",
) -> int:
    """Celery beat on a thread, and a one-slot worker for its `schedule` queue, until stopped."""
    app = make_celery(broker)
    app.conf.beat_schedule = cluster_schedule(hours_every)
    rt = BeatRuntime(
        redis.Redis.from_url(broker), lambda: load_settings(paths.settings), hours_every
    )
    register_tasks(app, rt)
    signals.after_setup_logger.connect(_quiet_routine_logs, weak=False)
    # At start, as the desktop does; then beat's entries (an interval entry first runs after
    # one interval). A broker still away is waited for by the worker below.
    with_broker = threading.Thread(target=_first_run, args=(rt,), name="rf-beat-first", daemon=True)
    with_broker.start()
    # The in-memory scheduler: nothing to persist, since housekeeping also runs at start.
    beat = EmbeddedService(app, thread=True, scheduler_cls="celery.beat:Scheduler")
    beat.start()
    argv = [
        "worker",
        "--hostname=reelforge-beat@%h",
        f"--queues={SCHEDULE_QUEUE}",
        "--concurrency=1",
        "--pool=threads",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={loglevel}",
    ]
    try:
        app.worker_main(argv)
    finally:
        beat.stop()
    return 0


def _first_run(rt: BeatRuntime) -> None:
    delay = 0.5
    while True:
        try:
            rt.check_hours()
            rt.request_housekeeping()
            return
        except redis.RedisError as err:
            log.warning("beat waits for the broker: %s", err)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def _quiet_routine_logs(**_: Any) -> None:
    """Three INFO lines per check (sent, received, succeeded) would fill beat's console every
    few seconds; our tasks log what changes instead (the JSON log), and errors still show."""
    for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).setLevel(logging.WARNING)
