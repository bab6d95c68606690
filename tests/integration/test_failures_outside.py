"""Things that go wrong outside Reelforge: a missing or broken ffmpeg, ffmpeg killed by someone
else, an output folder that cannot be written. Each is one line for the person, never a
traceback, and the rest of the batch goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checkers import assert_no_temp_files
from mediagen import make_clip


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "REELFORGE_HOME": str(home), **env}
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("kind", ["missing", "not executable"])
def test_a_broken_ffmpeg_setting_is_one_line(tmp_path: Path, tiny_clip: Path, kind: str) -> None:
    bogus = tmp_path / "ffmpeg"
    if kind == "not executable":
        bogus.write_text("#!/bin/sh\nexit 0\n")
        bogus.chmod(0o644)
    res = run(
        ["process", str(tiny_clip), "-o", str(tmp_path / "out")],
        tmp_path / "home",
        REELFORGE_FFMPEG=str(bogus),
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reelforge: ") and str(bogus) in lines[0]
    assert "Traceback" not in res.stderr


def test_ffmpeg_killed_from_outside_fails_that_job_only(tmp_path: Path) -> None:
    long = make_clip(tmp_path / "long.mp4", size="1920x1080", seconds=15)
    short = make_clip(tmp_path / "short.mp4", size="320x240", seconds=1)
    out = tmp_path / "out"
    env = {**os.environ, "REELFORGE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reelforge",
            "process",
            str(long),
            str(short),
            "-p",
            "web",
            "-o",
            str(out),
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    victim = None
    deadline = time.monotonic() + 90
    while victim is None and time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(b"ffmpeg" in c for c in cmd[:1]) and any(
                b"long." in c and b"1080p" in c for c in cmd
            ):
                victim = int(pid)
                break
        time.sleep(0.1)
    assert victim, "the long encode never started"
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)  # someone else kills it
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1
    jobs = [json.loads(line) for line in stdout.splitlines()]
    enc = {Path(j["source"]).name: j for j in jobs if j["kind"] == "encode"}
    assert enc["long.mp4"]["status"] == "failed"
    assert enc["long.mp4"]["error"] == "ffmpeg was killed (signal 9)"
    assert enc["short.mp4"]["status"] == "succeeded"
    assert "Traceback" not in stderr
    assert not list((out / "long").glob("long.*p.mp4"))
    assert_no_temp_files(out)


def test_an_output_folder_that_cannot_be_written(tmp_path: Path, tiny_clip: Path) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {res.stderr.strip()}")
    try:
        res = run(
            ["process", str(tiny_clip), "-p", "audio", "-o", str(target / "out"), "--json"],
            tmp_path / "home",
        )
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)
    assert res.returncode == 1
    (audio,) = [json.loads(x) for x in res.stdout.splitlines() if '"kind": "audio"' in x]
    assert audio["status"] == "failed"
    assert audio["error"].startswith(f"cannot create output folder {target / 'out'}")
    assert "Traceback" not in res.stderr


def test_an_output_path_that_is_a_file(tmp_path: Path, tiny_clip: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("I am a file, not a folder")
    res = run(
        ["process", str(tiny_clip), "-p", "audio", "-o", str(blocker), "--json"], tmp_path / "home"
    )
    assert res.returncode == 1
    (audio,) = [json.loads(x) for x in res.stdout.splitlines() if '"kind": "audio"' in x]
    assert audio["error"].startswith("cannot create output folder")
    assert blocker.read_text() == "I am a file, not a folder"  # never overwritten
