"""Long encodes in segments on the local pool (domain/split.py): the same outputs as one pass.

A 36 s clip with a keyframe every second, split every 10 s across two heavy slots, is checked
against the same preset encoded in one pass: frame count, duration, audio/video sync, content
at the seams (PSNR against the source, with ffmpeg as an independent checker), and nothing
left behind but the outputs. A 720p clip, whose web ladder has two rungs, checks that every
rung of a split encode comes out whole and at its own size.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from checkers import assert_no_temp_files, run_cli
from mediagen import make_clip
from reelforge.assets import resource
from reelforge.config import Paths, Settings, save_settings
from reelforge.domain.jobs import JobKind
from reelforge.domain.plan import plan_jobs
from reelforge.domain.presets import load_builtin_presets
from reelforge.media.probe import probe

pytestmark = pytest.mark.usefixtures("reelforge_home")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    return make_clip(folder / "long.mp4", size="320x180", seconds=36.0, rate=25)


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 s of 1280x720 with a keyframe every 2 s: the web ladder plans 720p and 480p for it."""
    folder = tmp_path_factory.mktemp("hd")
    return make_clip(folder / "hd.mp4", size="1280x720", seconds=24.0, rate=25, extra=("-g", "50"))


def configure(home: Path, **changes: Any) -> None:
    base = {"heavy_concurrency": 2, "split_after": 20.0, "segment_seconds": 10.0}
    save_settings(Paths(home).settings, Settings(**{**base, **changes}))


def encode(source: Path, out: Path) -> tuple[dict[str, Any], Any]:
    run = run_cli(["process", str(source), "-p", "web", "-o", str(out), "--json"])
    assert run.rc == 0, [(j["kind"], j["error"]) for j in run.jobs if j["error"]]
    jobs = [j for j in run.jobs if j["kind"] == "encode"]
    assert len(jobs) == 1
    return jobs[0], run


def ffprobe(path: Path, stream: str, entries: str) -> dict[str, str]:
    text = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            stream,
            "-count_frames",
            "-show_entries",
            f"stream={entries}",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(text)["streams"][0]


def psnr_min(a: Path, b: Path) -> float:
    """The worst frame's PSNR of a against b (b scaled to a's size), by Debian's ffmpeg."""
    run = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(a),
            "-i",
            str(b),
            "-lavfi",
            "[1:v][0:v]scale2ref[ref][main];[main][ref]psnr=stats_file=-",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    values = [
        float(part.split(":")[1])
        for line in run.stdout.splitlines()
        for part in line.split()
        if part.startswith("psnr_avg:")
    ]
    assert values, run.stderr
    return min(values)


def test_segmented_encode_matches_the_one_pass_encode(
    long_clip: Path, reelforge_home: Path, tmp_path: Path
) -> None:
    configure(reelforge_home, split_after=0.0)
    whole, _ = encode(long_clip, tmp_path / "whole")
    configure(reelforge_home)
    split, run = encode(long_clip, tmp_path / "split")

    assert split["status"] == "succeeded", split
    [one] = [o for o in whole["outputs"] if o.endswith(".mp4")]
    [parts] = [o for o in split["outputs"] if o.endswith(".mp4")]
    v1, v2 = (
        ffprobe(Path(one), "v:0", "nb_read_frames,duration,start_time"),
        ffprobe(Path(parts), "v:0", "nb_read_frames,duration,start_time"),
    )
    assert v2["nb_read_frames"] == v1["nb_read_frames"] == "900"
    assert abs(float(v2["duration"]) - float(v1["duration"])) <= 0.04  # one frame at 25 fps
    a1, a2 = (
        ffprobe(Path(one), "a:0", "start_time,duration"),
        ffprobe(Path(parts), "a:0", "start_time,duration"),
    )
    assert abs(float(a2["start_time"]) - float(a1["start_time"])) <= 0.04
    assert abs(float(a2["duration"]) - float(a1["duration"])) <= 0.04
    # Every frame is the right one: a frame off at a seam would drop PSNR to ~10 dB.
    assert psnr_min(Path(parts), long_clip) > 25
    # The log tells the segments apart; nothing but the outputs is left in the folder.
    log = (Paths(reelforge_home).job_logs / f"{split['job']}.log").read_text()
    # 36 s in pieces of about 10 s: four of 9 s, each cut on a keyframe (one a second).
    assert "split at keyframes 9.000, 18.000, 27.000 into 4 segments" in log
    assert "----- [4/4] -----" in log and "----- [join] -----" in log
    assert not list(Paths(reelforge_home).job_logs.glob(f"{split['job']}~*"))
    left = sorted(p.name for p in (tmp_path / "split").rglob("*") if p.is_file())
    assert left == sorted(Path(o).name for j in run.jobs for o in j["outputs"])


def test_a_source_whose_video_starts_late_keeps_its_sync_when_split(
    long_clip: Path, reelforge_home: Path, tmp_path: Path
) -> None:
    # The video track starts 0.2 s after the audio (as cameras and edits often leave it): the
    # join must delay the joined video by as much, or the verifier refuses the output.
    late = tmp_path / "late.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-itsoffset", "0.2", "-i", str(long_clip), "-i", str(long_clip),
         "-map", "0:v", "-map", "1:a", "-c", "copy", str(late)],
        check=True,
    )  # fmt: skip
    src_v, src_a = ffprobe(late, "v:0", "start_time"), ffprobe(late, "a:0", "start_time")
    lag = float(src_v["start_time"]) - float(src_a["start_time"])
    assert lag > 0.15  # the fixture really is late
    configure(reelforge_home)
    split, _ = encode(late, tmp_path / "out")
    assert split["status"] == "succeeded", split
    [out] = [Path(o) for o in split["outputs"] if o.endswith(".mp4")]
    v, a = ffprobe(out, "v:0", "start_time,nb_read_frames"), ffprobe(out, "a:0", "start_time")
    assert abs((float(v["start_time"]) - float(a["start_time"])) - lag) <= 0.04
    assert v["nb_read_frames"] == "900"  # no gap and no repeat where the first piece ends


def keyframe_times(path: Path) -> list[float]:
    """The video's keyframe times by Debian's ffprobe (packet flags: nothing decoded)."""
    text = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pts_time,flags", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [float(t) for t, flags in (line.split(",", 1) for line in text.split()) if "K" in flags]


def test_every_rung_of_a_split_multi_rung_ladder_comes_out_whole_at_its_own_size(
    hd_clip: Path, reelforge_home: Path, tmp_path: Path
) -> None:
    # The one-rung tests above never saw the rungs of one segment share a piece name (663cbc6):
    # then the last rung written overwrote the other's piece ("720p output is 854x480").
    out = tmp_path / "out"
    web = load_builtin_presets(resource("presets"))["web"]
    [planned] = [
        j.spec for j in plan_jobs(probe(hd_clip), web, out) if j.spec.kind is JobKind.ENCODE
    ]
    rungs = {t.role: t for t in planned.outputs}
    assert sorted(rungs) == ["480p", "720p"]  # 1080p is above the source: not planned
    assert len({(t.width, t.height) for t in rungs.values()}) == 2

    configure(reelforge_home)  # two heavy slots, split past 20 s, pieces of about 10 s
    split, run = encode(hd_clip, out)
    assert split["status"] == "succeeded", split
    assert sorted(p for p in split["outputs"] if p.endswith(".mp4")) == sorted(
        t.path for t in rungs.values()
    )

    src_v = ffprobe(hd_clip, "v:0", "nb_read_frames,duration,start_time")
    src_a = ffprobe(hd_clip, "a:0", "start_time,duration")
    assert src_v["nb_read_frames"] == "600"
    for role, target in rungs.items():
        path = Path(target.path)
        assert path.is_file(), f"{role}: no output at {path}"
        v = ffprobe(path, "v:0", "width,height,nb_read_frames,duration,start_time")
        assert (int(v["width"]), int(v["height"])) == (target.width, target.height), role
        assert v["nb_read_frames"] == src_v["nb_read_frames"], role  # no frame lost or doubled
        assert abs(float(v["duration"]) - float(src_v["duration"])) <= 0.04, (role, v)
        assert abs(float(v["start_time"]) - float(src_v["start_time"])) <= 0.04, (role, v)
        a = ffprobe(path, "a:0", "start_time,duration")
        assert abs(float(a["start_time"]) - float(src_a["start_time"])) <= 0.04, (role, a)
        assert abs(float(a["duration"]) - float(src_a["duration"])) <= 0.04, (role, a)

    # The job really ran in segments, cut on a keyframe of the source, and left no piece.
    log = (Paths(reelforge_home).job_logs / f"{split['job']}.log").read_text()
    found = re.search(r"split at keyframes (\S+) into 2 segments", log)
    assert found, log
    assert any(abs(k - float(found[1])) < 0.001 for k in keyframe_times(hd_clip)), found[1]
    assert "----- [1/2] -----" in log and "----- [2/2] -----" in log, log
    assert "----- [join] -----" in log, log
    assert_no_temp_files(out)
    left = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert left == sorted(Path(o).name for j in run.jobs for o in j["outputs"])
