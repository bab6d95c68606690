"""A long encode split across two real workers (domain/split.py): segments run side by side on
both, the join makes one output equal to the one-pass encode, and the history keeps one job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from checkers import assert_no_temp_files, ffprobe, run_cli
from clusterkit import RedisServer, StartWorker, cli_process, ffmpeg_writing_to, wait_for
from mediagen import make_clip
from reelforge.config import Paths, Settings, save_settings

pytestmark = pytest.mark.timeout(300)
_ = ffprobe  # the fixture: Debian's ffprobe is the independent checker
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


@pytest.fixture(scope="module", autouse=True)
def _qt(qapp: Any) -> None:
    """run_cli() builds the engine in this process; it needs a Q(Core)Application."""


def stream(path: Path, selector: str) -> dict[str, str]:
    text = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", selector, "-count_frames", "-show_entries",
         "stream=nb_read_frames,start_time,duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(text)["streams"][0]


@pytest.mark.usefixtures("ffprobe")
def test_a_long_encode_split_across_two_workers_matches_the_one_pass_encode(
    tmp_path: Path, redis_server: RedisServer, start_worker: StartWorker
) -> None:
    source = make_clip(tmp_path / "long.mp4", size="320x180", seconds=30.0, rate=25)
    home_local, home_cluster = tmp_path / "home-local", tmp_path / "home-cluster"
    save_settings(Paths(home_local).settings, Settings(split_after=0.0))
    save_settings(Paths(home_cluster).settings, Settings(split_after=20.0, segment_seconds=10.0))
    local = run_cli(
        ["process", source, "-p", "web", "-o", tmp_path / "local", "--json"], home=home_local
    )
    assert local.rc == 0, local.stderr
    start_worker("wA")
    start_worker("wB")
    cluster = run_cli(
        ["process", source, "-p", "web", "-o", tmp_path / "cluster", "--json",
         "--broker", redis_server.url],
        home=home_cluster,
    )  # fmt: skip
    assert cluster.rc == 0, cluster.stderr
    [job] = [j for j in cluster.jobs if j["kind"] == "encode"]
    assert job["status"] == "succeeded", job
    assert job["worker"] == "wA, wB"  # both workers encoded segments of the one job
    [one] = (tmp_path / "local").rglob("*.180p.mp4")
    [joined] = (tmp_path / "cluster").rglob("*.180p.mp4")
    v1, v2 = stream(one, "v:0"), stream(joined, "v:0")
    assert v1["nb_read_frames"] == v2["nb_read_frames"] == "750"
    assert abs(float(v1["duration"]) - float(v2["duration"])) <= 0.04
    a1, a2 = stream(one, "a:0"), stream(joined, "a:0")
    assert abs(float(a1["start_time"]) - float(a2["start_time"])) <= 0.04
    assert abs(float(a1["duration"]) - float(a2["duration"])) <= 0.04
    assert_no_temp_files(tmp_path / "cluster")
    # One job in the history, its log made of every stage's log, wherever it ran.
    log = (Paths(home_cluster).job_logs / f"{job['job']}.log").read_text()
    assert "----- [split] -----" in log and "----- [3/3] -----" in log and "[join]" in log
    assert "on wA" in log and "on wB" in log


@linux_only
def test_sigkill_of_a_worker_mid_segment_resends_that_segment_and_the_job_succeeds_once(
    tmp_path: Path, redis_server: RedisServer, start_worker: StartWorker
) -> None:
    source = make_clip(tmp_path / "long.mp4", size="640x360", seconds=30.0, rate=25)
    home, out = tmp_path / "home", tmp_path / "out"
    save_settings(Paths(home).settings, Settings(split_after=20.0, segment_seconds=10.0))
    workers = {w.proc.pid: w for w in (start_worker("wS1"), start_worker("wS2"))}
    proc = cli_process(source, out, home, redis_server.url)
    try:
        both = wait_for(
            lambda: len({pp for _, pp in ffmpeg_writing_to(out, ".mp4")}) == 2 or None,
            90,
            "segments to encode on both workers",
        )
        assert both
        victim = workers[ffmpeg_writing_to(out, ".mp4")[0][1]]
        victim.kill_group(signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    assert proc.returncode == 0, stderr
    jobs = [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]
    [encode] = [j for j in jobs if j["kind"] == "encode"]  # one result for the job
    assert encode["status"] == "succeeded", encode
    assert encode["attempt"] == 1  # only the lost segment ran again, not the whole job
    [joined] = out.rglob("*.360p.mp4")
    assert stream(joined, "v:0")["nb_read_frames"] == "750"
    log = (Paths(home).job_logs / f"{encode['job']}.log").read_text()
    assert f"sent again: worker {victim.name} stopped answering" in log
    made = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert made == sorted(Path(p).name for j in jobs for p in j["outputs"])
    assert_no_temp_files(out)
