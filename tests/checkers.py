"""Independent checks of outputs: Debian's ffprobe (not the app's PyAV, not the bundled ffmpeg).

Everything here reads files the app wrote and says what is really in them, so a test never
trusts the app's own verification or history to tell it what an output contains.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TEMP_PREFIX = ".rftmp-"


def ffprobe_path() -> str | None:
    return shutil.which("ffprobe")


def require_ffprobe() -> str:
    """The ffprobe binary, or skip the test with a clear reason (CI installs Debian's ffmpeg)."""
    path = ffprobe_path()
    if path is None:
        pytest.skip("ffprobe not found on PATH (apt-get install ffmpeg): it checks every output")
    return path


@pytest.fixture(scope="session")
def ffprobe() -> str:
    """Import into a test module (or use require_ffprobe) to skip without ffprobe."""
    return require_ffprobe()


def ffprobe_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`ffprobe -show_format -show_streams` as a dict; raises AssertionError on a bad file."""
    exe = require_ffprobe()
    # A picture name is a pattern to the image2 demuxer ("100%.jpg"): read it as a plain name.
    image = ["-f", "image2", "-pattern_type", "none"] if _is_picture(path) else []
    done = subprocess.run(
        [exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         *image, "-i", f"file:{Path(path).absolute()}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"ffprobe cannot read {path}: {done.stderr.strip()}"
    data = json.loads(done.stdout or "{}")
    data.setdefault("streams", [])
    data.setdefault("format", {})
    return data


def _is_picture(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in (".jpg", ".jpeg", ".png")


def _info(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    return source if isinstance(source, dict) else ffprobe_json(source)


def streams(source: str | os.PathLike[str] | dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Streams of one codec_type ("video", "audio", "subtitle"), cover art excluded."""
    return [
        s
        for s in _info(source)["streams"]
        if s.get("codec_type") == kind and not s.get("disposition", {}).get("attached_pic")
    ]


def video_stream(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any] | None:
    found = streams(source, "video")
    return found[0] if found else None


def audio_stream(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any] | None:
    found = streams(source, "audio")
    return found[0] if found else None


def rotation(stream: dict[str, Any]) -> int:
    """Display rotation in degrees (0/90/180/270) from the display matrix or the old tag."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return round(float(side["rotation"]) / 90.0) * 90 % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return round(float(tag) / 90.0) * 90 % 360 if tag else 0


def display_size(stream: dict[str, Any]) -> tuple[int, int]:
    """(width, height) as a player shows them: a 90/270 degree display matrix swaps them."""
    w, h = int(stream["width"]), int(stream["height"])
    return (h, w) if rotation(stream) in (90, 270) else (w, h)


def duration(source: str | os.PathLike[str] | dict[str, Any]) -> float:
    """Container duration in seconds (the longest stream when the container has none)."""
    info = _info(source)
    value = info["format"].get("duration")
    if value not in (None, "N/A"):
        return float(value)
    return max(
        (float(s["duration"]) for s in info["streams"] if s.get("duration") not in (None, "N/A")),
        default=0.0,
    )


def packet_hashes(path: str | os.PathLike[str], stream_index: int) -> list[str]:
    """MD5 of every packet's payload in one stream: equal lists mean a bit-exact stream copy."""
    exe = require_ffprobe()
    done = subprocess.run(
        [exe, "-v", "error", "-select_streams", str(stream_index), "-show_data_hash", "MD5",
         "-show_entries", "packet=data_hash", "-of", "csv=p=0",
         "-i", f"file:{Path(path).absolute()}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return re.findall(r"MD5:[0-9a-f]{32}", done.stdout)


def top_level_boxes(path: str | os.PathLike[str]) -> list[str]:
    """Types of the top-level ISO-BMFF boxes in file order (ftyp, moov, mdat ...)."""
    names: list[str] = []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        offset = 0
        while offset + 8 <= size and len(names) < 1000:
            fh.seek(offset)
            header = fh.read(16)
            box_size = int.from_bytes(header[:4], "big")
            names.append(header[4:8].decode("latin-1"))
            if box_size == 1:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:  # to the end of the file
                break
            if box_size < 8:
                raise AssertionError(f"{path}: broken box chain at offset {offset}")
            offset += box_size
    return names


def assert_faststart(path: str | os.PathLike[str]) -> None:
    boxes = top_level_boxes(path)
    assert "moov" in boxes, f"{path}: no moov box: {boxes}"
    assert "mdat" in boxes, f"{path}: no mdat box: {boxes}"
    assert boxes.index("moov") < boxes.index("mdat"), f"{path}: moov after mdat: {boxes}"


def temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    root = Path(folder)
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX))


def assert_no_temp_files(folder: str | os.PathLike[str]) -> None:
    """No `.rftmp-*` file or folder anywhere below `folder`."""
    left = temp_files(folder)
    assert not left, f"temp files left behind: {[str(p) for p in left]}"


def is_animated_webp(data: bytes) -> bool:
    return (
        data[:4] == b"RIFF"
        and data[8:12] == b"WEBP"
        and b"VP8X" in data[:64]
        and b"ANIM" in data
        and b"ANMF" in data
    )


def jpeg_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of a JPEG per ffprobe, after checking the SOI marker."""
    with open(path, "rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff", f"{path} is not a JPEG"
    stream = video_stream(path)
    assert stream is not None, f"{path}: no picture"
    assert stream["codec_name"] == "mjpeg", stream["codec_name"]
    return int(stream["width"]), int(stream["height"])


# --- running the CLI ---------------------------------------------------------------------


@dataclass
class CliRun:
    """One `reelforge` invocation: exit code, stdout, stderr and the JSON lines on stdout."""

    rc: int
    stdout: str
    stderr: str

    @functools.cached_property
    def jobs(self) -> list[dict[str, Any]]:
        """stdout as JSON lines (asserts that it is nothing else)."""
        return json_lines(self.stdout)

    def find(self, source: str | os.PathLike[str] | None = None, **match: Any) -> list[dict]:
        """Jobs of one source (by file name or path) whose keys equal `match`."""
        found = []
        for job in self.jobs:
            if source is not None and Path(job["source"]).name != Path(source).name:
                continue
            if all(job.get(k) == v for k, v in match.items()):
                found.append(job)
        return found

    def one(self, source: str | os.PathLike[str] | None = None, **match: Any) -> dict:
        found = self.find(source, **match)
        assert len(found) == 1, f"expected one job {source} {match}, got {found}"
        return found[0]


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line must be one JSON object (stdout carries nothing else)."""
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as err:  # pragma: no cover - shown on failure
                raise AssertionError(f"stdout line is not JSON: {line!r}") from err
    return out


@contextlib.contextmanager
def _home(home: str | os.PathLike[str] | None):  # type: ignore[no-untyped-def]
    if home is None:
        yield
        return
    old = os.environ.get("REELFORGE_HOME")
    os.environ["REELFORGE_HOME"] = str(home)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("REELFORGE_HOME", None)
        else:
            os.environ["REELFORGE_HOME"] = old


def run_cli(args: Sequence[str], *, home: str | os.PathLike[str] | None = None) -> CliRun:
    """`reelforge.cli.main(args)` in this process, stdout and stderr captured.

    `home` sets REELFORGE_HOME for the call (module-scoped fixtures run before the per-test
    autouse home exists); without it the current environment's home is used.
    """
    from reelforge.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _home(home), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: --version, --help, bad choices
            rc = exc.code if isinstance(exc.code, int) else 2
    return CliRun(rc, out.getvalue(), err.getvalue())


def cli_env(home: str | os.PathLike[str]) -> dict[str, str]:
    env = dict(os.environ)
    env["REELFORGE_HOME"] = str(home)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def cli_argv(*args: str | os.PathLike[str]) -> list[str]:
    """The real console entry point: `python -m reelforge ...`."""
    return [sys.executable, "-m", "reelforge", *(os.fspath(a) for a in args)]


def run_cli_subprocess(
    args: Sequence[str | os.PathLike[str]],
    *,
    home: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
) -> CliRun:
    """`python -m reelforge ARGS` as a child process; a hang fails the test, it never blocks."""
    done = subprocess.run(
        cli_argv(*args),
        env=cli_env(home),
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    decode = lambda b: b.decode("utf-8", errors="surrogateescape")  # noqa: E731
    return CliRun(done.returncode, decode(done.stdout), decode(done.stderr))


def assert_no_traceback(text: str) -> None:
    assert "Traceback (most recent call last)" not in text, f"traceback on stderr:\n{text}"


def assert_one_line(reason: str | None) -> None:
    assert reason, "expected a reason"
    assert "\n" not in reason and "\r" not in reason, f"not one line: {reason!r}"
    assert "Traceback" not in reason, reason


def _nothing() -> None:
    pass


def pump(
    qapp: Any, until: Callable[[], bool], timeout: float, each: Callable[[], None] = _nothing
) -> bool:
    """Run the Qt event loop until `until()` or the timeout; `each` runs every ~50 ms."""
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qapp.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        each()
        if until():
            return True
        time.sleep(0.005)
    return until()


def ffmpeg_children(ppid: int) -> list[int]:
    """Pids of ffmpeg processes whose parent is ppid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rpartition(")")[2].split()
        if int(fields[1]) == ppid and comm.startswith("ffmpeg"):
            found.append(int(entry.name))
    return found
