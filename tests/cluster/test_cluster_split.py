"""A long encode split across two real workers (domain/split.py): segments run side by side on
both, the join makes one output equal to the one-pass encode, and the history keeps one job."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from checkers import assert_no_temp_files, ffprobe, run_cli
from clusterkit import RedisServer, StartWorker
from mediagen import make_clip
from reelforge.config import Paths, Settings, save_settings

pytestmark = pytest.mark.timeout(300)
_ = ffprobe  # the fixture: Debian's ffprobe is the independent checker


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
