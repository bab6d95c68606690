"""Metrics derived from the history's job facts (and live events), never from counters kept
on the side: the same numbers for the Dashboard, `reelforge stats` and tests.

Pure functions over JobFact lists; time comes in as arguments, so a fake clock is just a number.

Definitions (also in the README):
- throughput: jobs that ran (succeeded or failed; probes and skips excluded) per hour of the
  window;
- media minutes per wall minute: source minutes of succeeded encodes and remuxes divided by the
  wall time during which at least one of them was running (how much faster than real time the
  queue works while it works);
- encode fps: source frames (duration x frame rate) of succeeded encodes per second of their
  run time;
- waiting / running: from queued to started, and from started to finished, per job that started
  in the window;
- failure rate: failed / (succeeded + failed), every kind of job, probes included (a file that
  is not media is a failure the person should see).
"""

from __future__ import annotations

import bisect
import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.storage.monitoring import JobFact, MonitoringStore

RAN = ("succeeded", "failed")
WORK_KINDS_EXCLUDED = ("probe",)
MEDIA_KINDS = ("encode", "remux")
PENDING = ("queued", "interrupted")

WINDOWS: dict[str, tuple[float, int]] = {  # name: (seconds, buckets)
    "hour": (3600.0, 60),
    "day": (86400.0, 96),
    "week": (604800.0, 84),
}


@dataclass(frozen=True)
class PresetStats:
    preset: str
    jobs: int
    failed: int
    avg_run_seconds: float | None
    avg_bytes_out: float | None
    avg_speed: float | None  # media seconds per run second, for encodes and remuxes


@dataclass(frozen=True)
class DiskFree:
    path: str  # an output folder on this volume
    free: int
    total: int


@dataclass(frozen=True)
class Stats:
    since: float
    until: float
    counts: dict[str, int]  # finished in the window, by status
    jobs_per_hour: float
    media_minutes_per_wall_minute: float | None
    encode_fps: float | None
    failure_rate: float | None
    avg_wait_seconds: float | None
    avg_run_seconds: float | None
    waiting_share: float | None  # waiting / (waiting + running), of jobs started in the window
    bytes_in: int
    bytes_out: int
    queue_depth: dict[str, int]  # lane -> queued or interrupted now
    running: dict[str, int]  # lane -> running now
    presets: tuple[PresetStats, ...]
    disks: tuple[DiskFree, ...] = ()

    def to_dict(self) -> dict[str, object]:
        from dataclasses import asdict

        return asdict(self)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _union_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by the intervals (overlaps counted once)."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _run_seconds(f: JobFact) -> float | None:
    if f.seconds is not None:
        return float(f.seconds)
    if f.started_at is not None and f.finished_at is not None:
        return max(0.0, f.finished_at - f.started_at)
    return None


def compute_stats(facts: Iterable[JobFact], since: float, until: float) -> Stats:
    facts = list(facts)
    done = [f for f in facts if f.finished_at is not None and since <= f.finished_at <= until]
    counts: dict[str, int] = defaultdict(int)
    for f in done:
        counts[f.status] += 1
    ran = [f for f in done if f.status in RAN and f.kind not in WORK_KINDS_EXCLUDED]
    hours = max(until - since, 1.0) / 3600
    media = [f for f in done if f.status == "succeeded" and f.kind in MEDIA_KINDS]
    busy = _union_seconds(
        (f.started_at, f.finished_at)
        for f in media
        if f.started_at is not None and f.finished_at is not None
    )
    media_seconds = sum(f.media_seconds for f in media)
    encodes = [f for f in media if f.kind == "encode" and f.fps and (_run_seconds(f) or 0) > 0]
    frames = sum(f.media_seconds * (f.fps or 0) for f in encodes)
    encode_time = sum(_run_seconds(f) or 0.0 for f in encodes)
    succeeded, failed = counts.get("succeeded", 0), counts.get("failed", 0)

    started = [f for f in facts if f.started_at is not None and since <= f.started_at <= until]
    waits = [max(0.0, f.started_at - f.queued_at) for f in started if f.started_at is not None]
    runs = [r for f in started if f.finished_at is not None and (r := _run_seconds(f)) is not None]
    wait_total, run_total = sum(waits), sum(runs)

    depth: dict[str, int] = defaultdict(int)
    running: dict[str, int] = defaultdict(int)
    for f in facts:
        if f.status in PENDING:
            depth[f.lane] += 1
        elif f.status == "running":
            running[f.lane] += 1

    work = [f for f in done if f.kind not in WORK_KINDS_EXCLUDED and f.status in RAN]
    return Stats(
        since=since,
        until=until,
        counts=dict(counts),
        jobs_per_hour=len(ran) / hours,
        media_minutes_per_wall_minute=(media_seconds / busy) if busy > 0 else None,
        encode_fps=(frames / encode_time) if encode_time > 0 else None,
        failure_rate=(failed / (succeeded + failed)) if succeeded + failed else None,
        avg_wait_seconds=_mean(waits),
        avg_run_seconds=_mean(runs),
        waiting_share=(wait_total / (wait_total + run_total)) if wait_total + run_total else None,
        bytes_in=sum(f.source_bytes for f in work if f.status == "succeeded"),
        bytes_out=sum(f.bytes_out for f in done),
        queue_depth={lane: depth.get(lane, 0) for lane in ("light", "heavy")},
        running={lane: running.get(lane, 0) for lane in ("light", "heavy")},
        presets=preset_stats(work),
    )


def preset_stats(work: list[JobFact]) -> tuple[PresetStats, ...]:
    by: dict[str, list[JobFact]] = defaultdict(list)
    for f in work:
        by[f.preset].append(f)
    out = []
    for name in sorted(by):
        jobs = by[name]
        ok = [f for f in jobs if f.status == "succeeded"]
        runs = [r for f in ok if (r := _run_seconds(f)) is not None]
        speeds = [
            f.media_seconds / r
            for f in ok
            if f.kind in MEDIA_KINDS and (r := _run_seconds(f)) and f.media_seconds > 0
        ]
        out.append(
            PresetStats(
                preset=name,
                jobs=len(jobs),
                failed=sum(f.status == "failed" for f in jobs),
                avg_run_seconds=_mean(runs),
                avg_bytes_out=_mean([float(f.bytes_out) for f in ok]),
                avg_speed=_mean(speeds),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Series:
    """Per-bucket values for the charts; `starts` are the buckets' start times."""

    starts: list[float]
    width: float
    succeeded: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    media_minutes: list[float] = field(default_factory=list)
    waiting: dict[str, list[int]] = field(default_factory=dict)  # lane -> depth at bucket end
    running: list[int] = field(default_factory=list)  # jobs running at bucket end


def series(facts: Iterable[JobFact], since: float, until: float, buckets: int) -> Series:
    """Bucketed throughput, failures, media minutes and queue depth over [since, until].

    Depth at a bucket's end counts jobs queued by then and not started (waiting) or started and
    not finished (running). O(jobs x log buckets): a week of a busy queue stays well under the
    dashboard's refresh budget.
    """
    width = (until - since) / buckets
    starts = [since + i * width for i in range(buckets)]
    ends = [s + width for s in starts]
    out = Series(
        starts,
        width,
        [0] * buckets,
        [0] * buckets,
        [0.0] * buckets,
        {lane: [0] * buckets for lane in ("light", "heavy")},
        [0] * buckets,
    )
    wait_delta = {lane: [0] * (buckets + 1) for lane in out.waiting}
    run_delta = [0] * (buckets + 1)

    def first_end_at_or_after(t: float) -> int:
        return bisect.bisect_left(ends, t)

    for f in facts:
        if f.finished_at is not None and since <= f.finished_at <= until:
            i = min(int((f.finished_at - since) // width), buckets - 1)
            if f.status == "succeeded" and f.kind not in WORK_KINDS_EXCLUDED:
                out.succeeded[i] += 1
                if f.kind in MEDIA_KINDS:
                    out.media_minutes[i] += f.media_seconds / 60
            elif f.status == "failed":
                out.failed[i] += 1
        # Waiting from queued_at until started (or finished without starting).
        wait_end = f.started_at if f.started_at is not None else f.finished_at
        if f.lane in wait_delta:
            a = first_end_at_or_after(f.queued_at)
            b = first_end_at_or_after(wait_end) if wait_end is not None else buckets
            if a < b:
                wait_delta[f.lane][a] += 1
                wait_delta[f.lane][b] -= 1
        if f.started_at is not None:
            a = first_end_at_or_after(f.started_at)
            b = first_end_at_or_after(f.finished_at) if f.finished_at is not None else buckets
            # An interrupted job has a start and no end, but is not running.
            if (f.status == "running" or f.finished_at is not None) and a < b:
                run_delta[a] += 1
                run_delta[b] -= 1
    for lane, delta in wait_delta.items():
        level = 0
        for i in range(buckets):
            level += delta[i]
            out.waiting[lane][i] = level
    level = 0
    for i in range(buckets):
        level += run_delta[i]
        out.running[i] = level
    return out


Usage = Callable[[Path], tuple[int, int, int]]


def disk_free(folders: Iterable[str], usage: Usage | None = None) -> tuple[DiskFree, ...]:
    """Free space per volume holding one of these output folders (one row per volume)."""
    from reelforge.services.diskguard import existing_parent

    measure = usage or (lambda p: tuple(shutil.disk_usage(p)))
    seen: dict[object, DiskFree] = {}
    for folder in folders:
        if not folder:
            continue
        where = existing_parent(Path(folder))
        try:
            volume: object = os.stat(where).st_dev
            total, _used, free = measure(where)
        except OSError:
            continue
        if volume not in seen:
            seen[volume] = DiskFree(str(folder), int(free), int(total))
    return tuple(seen.values())


def collect_stats(
    store: MonitoringStore,
    since: float,
    until: float,
    *,
    folders: Iterable[str] = (),
    usage: Usage | None = None,
) -> Stats:
    """Stats for the window from the history, with free space of every output volume in use
    (the given folders and those of batches in the window)."""
    from dataclasses import replace

    stats = compute_stats(store.job_facts(since), since, until)
    wanted = [*folders, *store.output_folders(since)]
    return replace(stats, disks=disk_free(dict.fromkeys(wanted), usage))
