"""Full disks: the heavy lane pauses before a job that would not fit, and resumes when space is
back; a disk that still fills mid-job fails that job with "disk full on ..." and no partial
output. The real-disk tests mount a small tmpfs (root, as in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checkers import assert_no_temp_files
from mediagen import make_clip
from reelforge.bootstrap import build
from reelforge.domain.commands import Enqueue
from reelforge.domain.events import BatchFinished, QueueStateChanged
from reelforge.domain.jobs import Lane
from reelforge.services.diskguard import DiskGuard, Usage, estimate_output_bytes


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[callable]:
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        target = tmp_path / f"disk{len(mounted)}"
        target.mkdir()
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_estimates_grow_with_size_and_duration(landscape_clip: Path) -> None:
    from reelforge.assets import resource
    from reelforge.domain.plan import plan_jobs
    from reelforge.domain.presets import load_builtin_presets
    from reelforge.media.probe import probe

    info = probe(landscape_clip)
    (enc, _) = (
        j.spec
        for j in plan_jobs(info, load_builtin_presets(resource("presets"))["web"], Path("/o"))
    )
    small = estimate_output_bytes(enc)
    longer = estimate_output_bytes(enc.__class__(**{**enc.__dict__, "source_duration": 60.0}))
    assert 0 < small < longer


def test_low_disk_pauses_the_heavy_lane_and_resumes(qapp, qtbot, tmp_path, landscape_clip):
    free = {"bytes": 0}
    guard = DiskGuard(margin_bytes=100, usage=lambda p: Usage(10**12, 0, free["bytes"]))
    app = build()
    app.executor._gate = guard.check
    app.executor._gate_timer.setInterval(100)
    states: list[QueueStateChanged] = []
    finished: list[BatchFinished] = []
    app.bus.subscribe(QueueStateChanged, states.append)
    app.bus.subscribe(BatchFinished, finished.append)
    try:
        app.queue.enqueue(Enqueue((str(landscape_clip),), ("web",), str(tmp_path / "out")))
        qtbot.waitUntil(lambda: app.executor.is_paused(Lane.HEAVY), timeout=20000)
        assert states[0].lane == "heavy" and states[0].paused
        assert states[0].reason.startswith("low disk space on ")
        assert not app.executor.is_paused(Lane.LIGHT)  # thumbnails go on
        assert not finished
        free["bytes"] = 10**12  # space is back
        qtbot.waitUntil(lambda: bool(finished), timeout=60000)
        assert states[-1].paused is False and states[-1].reason == "disk space is back"
        assert finished[0].counts.get("succeeded") == 3
    finally:
        app.close(interrupt=False)


def test_a_disk_that_fills_mid_job_fails_it_cleanly(qapp, qtbot, tmpfs, tmp_path) -> None:
    out = tmpfs("3m")
    clip = make_clip(tmp_path / "big.mp4", size="1920x1080", seconds=4)
    app = build()
    app.executor._gate = None  # the guard is tested above; here the disk fills for real
    finished: list[BatchFinished] = []
    app.bus.subscribe(BatchFinished, finished.append)
    try:
        app.queue.enqueue(Enqueue((str(clip),), ("web",), str(out)))
        qtbot.waitUntil(lambda: bool(finished), timeout=120000)
    finally:
        app.close(interrupt=False)
    jobs = {j.kind.value: j for j in app.repo.jobs_in_batch(finished[0].batch_id)}
    enc = jobs["encode"]
    assert enc.status.value == "failed"
    assert enc.error == f"disk full on {out / 'big'}"
    for target in enc.spec.outputs:  # nothing half-written at a final name
        assert not Path(target.path).exists()
    assert_no_temp_files(out)


def test_cli_says_why_it_waits_for_disk_space(tmpfs, tmp_path) -> None:
    out = tmpfs("64m")  # under the guard's 512 MB margin: the encode must not start
    clip = make_clip(tmp_path / "c.mp4", size="640x360", seconds=1)
    env = {**os.environ, "REELFORGE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelforge", "process", str(clip), "-p", "web", "-o", str(out)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "heavy jobs paused: low disk space on" in line:
                break
        assert any(f"heavy jobs paused: low disk space on {out}" in x for x in lines), lines
        assert proc.poll() is None  # waiting, not failing job after job
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 130  # SIGTERM cancels like Ctrl-C
    assert_no_temp_files(out)
