"""Cancel and load on the real engine: 100 jobs cancelled at once, 5,000 jobs through the lanes,
and a hung ffmpeg stopped and failed with a reason.

In-process tests wire the app with bootstrap.build() under the session's QApplication and drive
the Qt event loop themselves; asserts read the real database, folder and /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from soak import alive, ffmpeg_processes, kill_leftovers, rss_mib, wait_until
from sqlalchemy import text

from checkers import cli_argv, cli_env, ffprobe, json_lines, pump, temp_files
from mediagen import make_audio, make_clip
from reelforge.bootstrap import App, build
from reelforge.domain.commands import CancelJobs, Enqueue
from reelforge.domain.events import BatchFinished, JobFinished
from reelforge.media.binaries import find_ffmpeg
from reelforge.media.process import CancelToken, run_ffmpeg

pytestmark = [
    pytest.mark.usefixtures("ffprobe"),
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux /proc"),
]
_ = ffprobe  # the fixture, imported so pytestmark can use it
TERMINAL = ("succeeded", "failed", "cancelled", "skipped")


@pytest.fixture
def make_app(qapp: Any, reelforge_home: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**kwargs: Any) -> App:
        app = build(**kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def linked_sources(folder: Path, seed: Path, n: int) -> Path:
    """`n` distinct source files that share one inode: n names, one tiny clip on disk."""
    folder.mkdir()
    for i in range(n):
        os.link(seed, folder / f"c{i:05d}{seed.suffix}")
    return folder


def terminal_transitions(app: App) -> dict[str, int]:
    """Per job id: how many transitions went to a terminal state (straight SQL, one query)."""
    sql = text(
        "SELECT j.id, count(t.id) FROM jobs j LEFT JOIN transitions t ON t.job_id = j.id "
        "AND t.to_status IN ('succeeded', 'failed', 'cancelled', 'skipped') GROUP BY j.id"
    )
    with app.engine.connect() as conn:
        return {row[0]: int(row[1]) for row in conn.execute(sql)}


def encodes_under(out: Path) -> list[Any]:
    prefix = os.fsencode(out)

    def writes_mp4(cmdline: bytes) -> bool:
        args = (a.removeprefix(b"file:") for a in cmdline.split(b"\0"))
        return any(a.startswith(prefix) and a.endswith(b".mp4") for a in args)

    return [p for p in ffmpeg_processes(out) if writes_mp4(p.cmdline)]


# --- (a) cancel 100 jobs at once ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_cancel_100_queued_and_running_jobs_at_once(
    qapp: Any, tmp_path: Path, make_app: Callable[..., App]
) -> None:
    seed = make_clip(tmp_path / "seed.mp4", size="320x240", seconds=6.0)
    src = linked_sources(tmp_path / "src", seed, 34)  # x web = probe + encode + poster = 102
    out = tmp_path / "out"
    app = make_app(light=4, heavy=4)
    finished: Counter[str] = Counter()
    batches: list[BatchFinished] = []
    app.bus.subscribe(JobFinished, lambda e: finished.update([e.job_id]))
    app.bus.subscribe(BatchFinished, batches.append)

    app.queue.enqueue(Enqueue((str(src),), ("web",), str(out)))
    assert pump(qapp, lambda: app.repo.count_history() >= 102, 60), "not all planned"
    running: list[Any] = []

    def three_encoding() -> bool:
        running[:] = encodes_under(out)
        return len(running) >= 3

    assert pump(qapp, three_encoding, 90), "three encodes never ran at once"
    ids = tuple(j.id for j in app.repo.history())
    before = Counter(j.status.value for j in app.repo.history())

    started = time.monotonic()
    app.queue.cancel(CancelJobs(ids))
    app.queue.cancel_everything()

    def settled() -> bool:
        return bool(batches) or all(j.status.value in TERMINAL for j in app.repo.history())

    assert pump(qapp, settled, 60), "jobs still not terminal 60 s later"
    took = time.monotonic() - started
    jobs = app.repo.history()
    after = Counter(j.status.value for j in jobs)
    print(
        f"cancelled {len(ids)} ids with {len(running)} encodes running in {took:.2f} s: "
        f"before {dict(before)}, after {dict(after)}"
    )

    assert batches, "all jobs ended but BatchFinished never came (a CLI would wait forever)"
    assert len(jobs) == 102 == len({j.id for j in jobs})
    assert set(after) <= {"succeeded", "cancelled"}, after
    assert after["cancelled"] >= 30, after  # 34 encodes, 3+ of them running when cancelled
    assert all(finished[j.id] == 1 for j in jobs), {
        j.id: finished[j.id] for j in jobs if finished[j.id] != 1
    }
    ends = terminal_transitions(app)
    assert all(ends[j.id] == 1 for j in jobs), {k: v for k, v in ends.items() if v != 1}
    for job in jobs:
        planned = [Path(o.path) for o in job.spec.outputs]
        if job.status.value == "cancelled":
            assert not job.outputs
            assert not [p for p in planned if p.exists()], f"cancelled job left {planned}"
        else:
            assert all(Path(o.path).is_file() for o in job.outputs), job.outputs
    assert not any(alive(p) for p in running), "a cancelled encode's ffmpeg is still running"
    assert not ffmpeg_processes(out), ffmpeg_processes(out)
    assert not ffmpeg_processes(parent=os.getpid()), "an ffmpeg child of ours is left"
    assert not temp_files(out), temp_files(out)
    assert took < 20, f"cancelling took {took:.1f} s"


# --- (b) 5,000 jobs ----------------------------------------------------------------------------

MEMORY_BOUND_MIB = 300  # RSS growth allowed over a 5,000-job run (documented in the report)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_5000_jobs_each_end_exactly_once_with_bounded_memory(
    qapp: Any, tmp_path: Path, make_app: Callable[..., App]
) -> None:
    """1,000 audio-only sources x presets web + preview + remux = 1,000 real probes (in-process
    PyAV, through the light lane) + 4,000 jobs the planner rejects ("no video stream"): 5,000
    jobs at light/heavy concurrency 8 without a single ffmpeg run."""
    seed = make_audio(tmp_path / "seed.m4a", seconds=0.2)
    src = linked_sources(tmp_path / "src", seed, 1000)
    app = make_app(light=8, heavy=8)
    finished: Counter[str] = Counter()
    batches: list[BatchFinished] = []
    app.bus.subscribe(JobFinished, lambda e: finished.update([e.job_id]))
    app.bus.subscribe(BatchFinished, batches.append)
    peak = base = rss_mib()

    def sample() -> None:
        nonlocal peak
        peak = max(peak, rss_mib())

    started = time.monotonic()
    res = app.queue.enqueue(
        Enqueue((str(src),), ("web", "preview", "remux"), str(tmp_path / "out"))
    )
    assert res.sources == 1000
    assert pump(qapp, lambda: bool(batches), 200, each=sample), (
        f"not finished: {len(finished)} jobs ended in {time.monotonic() - started:.0f} s"
    )
    took = time.monotonic() - started
    sample()
    jobs = app.repo.history()
    kinds = Counter((j.kind.value, j.status.value) for j in jobs)
    print(
        f"5,000 jobs in {took:.1f} s ({len(jobs) / took:.0f} jobs/s); RSS {base:.0f} MiB "
        f"before, peak {peak:.0f} MiB, growth {peak - base:.0f} MiB "
        f"(bound {MEMORY_BOUND_MIB}); {dict(kinds)}"
    )

    assert len(jobs) == 5000 == len({j.id for j in jobs})
    assert kinds == {
        ("probe", "succeeded"): 1000,
        ("encode", "failed"): 1000,
        ("thumbnails", "failed"): 1000,
        ("preview", "failed"): 1000,
        ("remux", "failed"): 1000,
    }, kinds
    rejected = {j.error for j in jobs if j.kind.value != "probe"}
    assert rejected == {"no video stream (audio-only file)"}, rejected
    assert len(finished) == 5000, len(finished)
    assert set(finished.values()) == {1}, Counter(finished.values())
    ends = terminal_transitions(app)
    assert len(ends) == 5000
    assert set(ends.values()) == {1}, Counter(ends.values())
    assert not app.repo.jobs_with_status("queued", "running", "interrupted")
    assert batches[0].counts == {"succeeded": 1000, "failed": 4000}, batches[0].counts
    assert peak - base < MEMORY_BOUND_MIB, f"RSS grew {peak - base:.0f} MiB"
    assert not ffmpeg_processes(parent=os.getpid())


# --- (c) a hung ffmpeg is stopped and the job failed with a reason -------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_frozen_ffmpeg_is_stopped_and_the_job_fails_with_a_reason(
    tmp_path: Path, reelforge_home: Path
) -> None:
    """End to end: stall_timeout = 5 in settings.toml; the running encode's ffmpeg is frozen
    with SIGSTOP (what a process stuck on a dead disk or network share looks like from outside:
    alive, silent). The runner must notice, stop it (q, SIGTERM, then SIGKILL, which is what
    ends a stopped process) and fail the job with a one-line reason; the batch goes on."""
    (reelforge_home / "settings.toml").write_text("stall_timeout = 5.0\n", encoding="utf-8")
    clip = make_clip(tmp_path / "clip.mp4", size="640x360", seconds=8.0)
    out = tmp_path / "out"
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("wb") as so, stderr.open("wb") as se:
        cli = subprocess.Popen(
            cli_argv("process", clip, "-p", "web", "-o", out, "--json"),
            env=cli_env(reelforge_home),
            stdout=so,
            stderr=se,
        )
    frozen: list[Any] = []
    try:
        assert wait_until(lambda: cli.poll() is not None or bool(encodes_under(out)), 60, 0.005)
        frozen = encodes_under(out)
        assert frozen, f"no encode ran: {stderr.read_text()}"
        for p in frozen:
            os.kill(p.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        rc = cli.wait(timeout=60)
        took = time.monotonic() - stopped
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        for p in frozen:
            if alive(p):
                os.kill(p.pid, signal.SIGCONT)
        kill_leftovers(frozen)
    print(f"frozen ffmpeg stopped and the CLI done {took:.1f} s after the freeze")
    jobs = {j["kind"]: j for j in json_lines(stdout.read_text())}
    assert rc == 1, stderr.read_text()
    assert jobs["encode"]["status"] == "failed"
    assert jobs["encode"]["error"] == "stalled: no progress from ffmpeg for 5 s"
    assert jobs["encode"]["outputs"] == []
    assert jobs["thumbnails"]["status"] == "succeeded"  # the rest of the batch went on
    assert not any(alive(p) for p in frozen), "the frozen ffmpeg was never killed"
    assert not temp_files(out), temp_files(out)
    assert not list(out.rglob("*.mp4")), "a half-written rendition took a final name"
    assert 5 <= took < 5 + 2 * 3 + 8, f"{took:.1f} s: stall 5 s + two 3 s grace periods"


@pytest.mark.timeout(60)
def test_run_ffmpeg_blocked_on_a_fifo_input_is_stopped_as_stalled(tmp_path: Path) -> None:
    """The process level, with a real block: ffmpeg opening a FIFO nobody writes to sits in
    open(2) forever, deaf to "q" and (restarted syscall) to SIGTERM. (A FIFO never reaches
    run_job: probe refuses "not a file" and the runner "source file is gone".)"""
    fifo = tmp_path / "input.mp4"
    os.mkfifo(fifo)
    target = tmp_path / "never.mp4"
    started = time.monotonic()
    result = run_ffmpeg(
        find_ffmpeg(None).path,
        ["-i", f"file:{fifo}", "-c", "copy", "-y", f"file:{target}"],
        duration=1.0,
        cancel=CancelToken(),
        log_path=str(tmp_path / "job.log"),
        stall_timeout=1.0,
        stop_grace=0.5,
    )
    took = time.monotonic() - started
    print(f"FIFO-blocked ffmpeg: stalled={result.stalled} rc={result.returncode} {took:.2f} s")
    assert result.stalled and not result.cancelled and not result.ok
    assert result.returncode is not None and result.returncode != 0
    assert 1.0 <= took < 1.0 + 2 * 0.5 + 3.0, took
    assert not ffmpeg_processes(tmp_path), "the blocked ffmpeg outlived run_ffmpeg"
    assert not ffmpeg_processes(parent=os.getpid())
    assert not target.exists()
    assert "# stalled: exit code" in (tmp_path / "job.log").read_text()
