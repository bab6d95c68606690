"""Thumbnails seek to keyframes where that is close enough, exactly elsewhere, and fall back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.checkers import assert_no_temp_files, jpeg_size, json_lines, run_cli
from tests.mediagen import make_clip

from reelforge.media import commands
from reelforge.media.keyframes import MAX_DRIFT, keyframe_seekable, keyframes_before


@pytest.fixture(scope="module", autouse=True)
def _qt(qapp: Any) -> None:
    """A QApplication before main() makes its QCoreApplication (pytest-qt tests need one)."""


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 60 s with a keyframe every second (make_clip sets -g to the frame rate): tiles 6 s apart.
    folder = tmp_path_factory.mktemp("seek")
    return make_clip(folder / "long.mp4", size="160x90", seconds=60, audio=False)


def test_keyframes_before_reads_the_index(long_clip: Path) -> None:
    found = keyframes_before(long_clip, 0, [2.5, 7.2, 30.0, 59.9])
    assert found == {2.5: 2.0, 7.2: 7.0, 30.0: 30.0, 59.9: 59.0}


def test_keyframes_before_answers_nothing_for_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    assert keyframes_before(junk, 0, [1.0]) == {}
    assert keyframes_before(tmp_path / "missing.mp4", 0, [1.0]) == {}


def test_keyframe_seekable_limits_the_drift() -> None:
    keyframes = {10.0: 9.0, 50.0: 44.0, 90.0: 70.0, 95.0: 95.0}
    # 4 times over 100 s: 25 s apart, so a frame may be 6.25 s early at most.
    assert keyframe_seekable([10.0, 50.0, 90.0, 95.0], keyframes, 100.0) == {10.0, 50.0, 95.0}
    # Long files: never more than MAX_DRIFT seconds, however far apart the tiles are.
    far = {600.0: 600.0 - MAX_DRIFT - 1, 1200.0: 1200.0 - MAX_DRIFT + 1}
    assert keyframe_seekable([600.0, 1200.0], far, 3600.0) == {1200.0}
    # A time the index did not answer is never keyframe-seeked.
    assert keyframe_seekable([5.0], {}, 100.0) == set()


def _thumbnails(clip: Path, out: Path, home: Path) -> tuple[dict, str]:
    run = run_cli(["process", clip, "-p", "thumbnails", "-o", out, "--json"], home=home)
    assert run.rc == 0, run.stderr
    (job,) = [j for j in json_lines(run.stdout) if j.get("kind") == "thumbnails"]
    return job, (home / "logs" / "jobs" / f"{job['job']}.log").read_text(encoding="utf-8")


def test_a_long_clip_takes_keyframes(long_clip: Path, tmp_path: Path) -> None:
    job, log = _thumbnails(long_clip, tmp_path / "out", tmp_path / "home")
    assert job["status"] == "succeeded"
    (argv,) = [line for line in log.splitlines() if line.startswith("$ ")]
    assert argv.count("-noaccurate_seek") == 10  # poster + 9 tiles, each on its keyframe
    assert "%{eif" in argv  # tiles are labelled with the time of the frame shown
    sizes = {Path(p).name: jpeg_size(p) for p in job["outputs"]}
    assert sizes == {"long.poster.jpg": (160, 90), "long.contact.jpg": (480, 270)}


def test_a_refused_keyframe_seek_falls_back_to_exact(
    long_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A keyframe argv ffmpeg refuses stands in for an index that lied about a keyframe.
    monkeypatch.setattr(commands, "_KEYFRAME_SEEK", {"skip_frame": "no-such-mode"})
    job, log = _thumbnails(long_clip, tmp_path / "out", tmp_path / "home")
    assert job["status"] == "succeeded"
    assert "trying again with exact seeking" in log
    assert "no-such-mode" in log
    assert_no_temp_files(tmp_path / "out")


def test_a_short_clip_seeks_exactly(tmp_path: Path) -> None:
    # Under MIN_DURATION the index is not even read: exact seeking costs a few frames there.
    clip = make_clip(tmp_path / "short.mp4", size="160x90", seconds=4, audio=False)
    job, log = _thumbnails(clip, tmp_path / "out", tmp_path / "home")
    assert job["status"] == "succeeded"
    (argv,) = [line for line in log.splitlines() if line.startswith("$ ")]
    assert "-noaccurate_seek" not in argv
    assert argv.count("-threads 1") == 10
