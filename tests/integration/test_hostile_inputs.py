"""Bad files and hostile names, through the real `python -m reelforge` entry point.

Each bad input is its own failed job with a one-line reason, a good clip in the same run still
succeeds, nothing of a failed input reaches the output folder, and stderr never shows a
traceback. Hostile names are names: never options, protocols or patterns.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from checkers import (
    CliRun,
    assert_no_temp_files,
    assert_no_traceback,
    assert_one_line,
    display_size,
    ffprobe,
    ffprobe_json,
    jpeg_size,
    run_cli_subprocess,
    video_stream,
)
from mediagen import ffmpeg, make_clip
from reelforge.domain.naming import safe_stem

pytestmark = pytest.mark.usefixtures("ffprobe")
_ = ffprobe  # the fixture, imported so pytestmark can use it


@pytest.fixture(scope="session")
def mini_clip(media_dir: Path) -> Path:
    """160x90, 1 s, H.264 + AAC: the cheapest thing the web preset fully processes."""
    return make_clip(media_dir / "mini.mp4", size="160x90", seconds=1.0)


def run(args: list[Any], home: Path, *, cwd: Path | None = None, timeout: float = 120) -> CliRun:
    result = run_cli_subprocess(args, home=home, cwd=cwd, timeout=timeout)
    assert result.rc in (0, 1), f"rc {result.rc}: {result.stderr}"
    assert_no_traceback(result.stderr)
    return result


def check_good(result: CliRun, source: Path, out: Path) -> None:
    jobs = result.find(source)
    assert sorted(j["kind"] for j in jobs) == ["encode", "probe", "thumbnails"], jobs
    for job in jobs:
        assert job["status"] == "succeeded", job
        for path in job["outputs"]:
            assert Path(path).is_file()
            assert Path(path).parent == out.resolve() / safe_stem(source.stem)
    (rendition,) = result.one(source, kind="encode")["outputs"]
    v = video_stream(ffprobe_json(rendition))
    assert v is not None
    assert display_size(v) == (160, 90)
    (poster,) = result.one(source, kind="thumbnails")["outputs"]
    assert jpeg_size(poster) == (160, 90)


# --- bad files --------------------------------------------------------------------------------


def _truncated_mp4(path: Path) -> Path:
    """An mp4 written the default way (moov at the end), cut in half: a broken download."""
    full = path.with_name("full-" + path.name)
    make_clip(full, size="320x180", seconds=1.0)
    data = full.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat"), "expected moov after mdat"
    path.write_bytes(data[: len(data) // 2])
    full.unlink()
    return path


BAD_FILES = {  # name -> (how to make it, what the reason must say)
    "empty.mp4": (lambda p: p.touch(), "=empty file"),
    "random.mp4": (
        lambda p: p.write_bytes(random.Random(20240501).randbytes(96 * 1024)),
        "=not a media file",
    ),
    "text.mov": (
        lambda p: p.write_text("This is not a movie.\n" * 50, encoding="utf-8"),
        "=not a media file",
    ),
    "half.mp4": (_truncated_mp4, "^file is truncated or damaged"),
    "still.png": (None, "^still image"),  # the conftest still_image, copied
    "missing.mp4": (None, "=file not found"),  # never created
}


def test_bad_files_fail_one_by_one_while_a_good_clip_succeeds(
    mini_clip: Path, still_image: Path, tmp_path: Path, reelforge_home: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = Path(shutil.copy2(mini_clip, src / "good.mp4"))
    paths = []
    for name, (make, _want) in BAD_FILES.items():
        path = src / name
        if make is not None:
            make(path)
        elif name == "still.png":
            shutil.copy2(still_image, path)
        paths.append(path)
    out = tmp_path / "out"

    result = run(["process", good, *paths, "-p", "web", "-o", out, "--json"], reelforge_home)
    assert result.rc == 1
    check_good(result, good, out)
    for path in paths:
        (job,) = result.find(path)  # the probe only: nothing is planned for a bad input
        assert job["kind"] == "probe"
        assert job["status"] == "failed"
        assert job["outputs"] == []
        assert_one_line(job["error"])
        want = BAD_FILES[path.name][1]
        if want.startswith("="):
            assert job["error"] == want[1:], path.name
        else:
            assert job["error"].startswith(want[1:]), (path.name, job["error"])
    assert sorted(p.name for p in out.iterdir()) == ["good"]
    assert_no_temp_files(out)
    assert "6 failed" in result.stderr  # the summary still reaches stderr under --json

    # Without --json, a person reads one line per failure, naming the file and the reason.
    human = run(["process", *paths, "-p", "web", "-o", out], reelforge_home)
    assert human.rc == 1
    assert human.stdout == ""
    for path in paths:
        (line,) = [ln for ln in human.stderr.splitlines() if path.name in ln]
        assert line.startswith("FAILED"), line


# --- hostile names ------------------------------------------------------------------------

NAMES = [
    "-rf.mp4",  # passed after "--"
    "-x.mp4",  # passed as ./-x.mp4
    'it\'s "quoted".mp4',
    "  spaced  out .mp4",
    "new\nline.mp4",
    "tab\there.mp4",
    "clip ünïcødé 日本.mp4",
    "🎬 emoji 🎞️.mp4",
    "http:clip.mp4",
    "concat:a.mp4",
    "pipe:0.mp4",
    "a|b;c&d$(x)`y`.mp4",
    "..mp4",
    "[brackets] {braces} 100%.mp4",
]


def test_hostile_names_are_just_names(
    mini_clip: Path, tmp_path: Path, reelforge_home: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in NAMES:
        shutil.copy2(mini_clip, src / name)
    out = tmp_path / "out"
    named = [n for n in NAMES if n not in ("-rf.mp4", "-x.mp4")]
    args = ["process", "-p", "web", "-o", out, "--json", "./-x.mp4", *named, "--", "-rf.mp4"]

    result = run(args, reelforge_home, cwd=src)
    assert result.rc == 0, result.stderr
    probed = sorted(Path(j["source"]).name for j in result.jobs if j["kind"] == "probe")
    assert probed == sorted(NAMES)
    for name in NAMES:
        check_good(result, src / name, out)
    stems = {safe_stem(Path(n).stem) for n in NAMES}
    assert len(stems) == len(NAMES)  # no two names collapse into one folder
    assert {p.name for p in out.iterdir()} == stems
    for stem in stems:
        assert "/" not in stem
        assert not any(ord(c) < 32 for c in stem)
    assert_no_temp_files(out)
    # Nothing escaped into the current folder, the source folder or the parent.
    assert sorted(p.name for p in src.iterdir()) == sorted(NAMES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_printf_patterns_in_names(mini_clip: Path, tmp_path: Path, reelforge_home: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    sources = [Path(shutil.copy2(mini_clip, src / n)) for n in ("frame %d.mp4", "x %03d y.mp4")]
    out = tmp_path / "out"
    result = run(["process", *sources, "-p", "web", "-o", out, "--json"], reelforge_home)
    for source in sources:
        poster = result.one(source, kind="thumbnails")
        assert poster["status"] == "succeeded", poster["error"]
        check_good(result, source, out)
    assert_no_temp_files(tmp_path)


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes")
def test_a_name_that_is_not_utf8_does_not_sink_the_batch(
    mini_clip: Path, tmp_path: Path, reelforge_home: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = Path(shutil.copy2(mini_clip, src / "good.mp4"))
    raw = os.fsencode(src) + b"/latin1 caf\xe9.mp4"  # Latin-1 bytes: invalid as UTF-8
    shutil.copyfile(mini_clip, raw)
    bad = Path(os.fsdecode(raw))
    out = tmp_path / "out"
    result = run(["process", good, bad, "-p", "web", "-o", out, "--json"], reelforge_home)
    check_good(result, good, out)
    jobs = [j for j in result.jobs if Path(j["source"]).name != "good.mp4"]
    assert jobs, "the odd name got no job at all"
    for job in jobs:  # processed, or refused with a reason: either way on its own
        assert job["status"] in ("succeeded", "failed"), job
        if job["status"] == "failed":
            assert_one_line(job["error"])


# --- damage in the middle ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def damaged_clip(media_dir: Path) -> Path:
    """A 4 s clip (index up front) with 24 KiB of random bytes over its middle."""
    path = media_dir / "damaged.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=4"),
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-movflags", "+faststart"),
        str(path),
    )
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 24 * 1024] = random.Random(7).randbytes(24 * 1024)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_damage_in_the_middle_finishes(
    damaged_clip: Path, tmp_path: Path, reelforge_home: Path
) -> None:
    out = tmp_path / "out"
    args = ["process", damaged_clip, "-o", out, "--json"]
    for preset in ("web", "thumbnails", "audio", "preview", "remux"):
        args += ["-p", preset]
    result = run(args, reelforge_home, timeout=150)  # a hang fails here instead of blocking
    jobs = [j for j in result.jobs if j["kind"] != "probe"]
    assert len(jobs) == 6, result.stdout  # web makes two: the ladder and the poster
    for job in jobs:
        assert job["status"] in ("succeeded", "failed"), job
        if job["status"] == "failed":
            assert_one_line(job["error"])
            assert job["outputs"] == []
        else:
            assert job["outputs"]
            assert all(Path(p).is_file() for p in job["outputs"])
            if job["warning"] is not None:
                assert_one_line(job["warning"])
    assert result.rc == (1 if any(j["status"] == "failed" for j in jobs) else 0)
    assert_no_temp_files(out)


def test_a_source_replaced_or_deleted_after_queueing_fails_with_a_reason(
    qapp, qtbot, tmp_path: Path
) -> None:
    from reelforge.bootstrap import build
    from reelforge.domain.commands import Enqueue
    from reelforge.domain.events import BatchFinished, SourceProbed
    from reelforge.domain.jobs import Lane

    a = make_clip(tmp_path / "a.mp4", size="320x240", seconds=1)
    b = make_clip(tmp_path / "b.mp4", size="320x240", seconds=1)
    app = build()
    finished: list[BatchFinished] = []
    app.bus.subscribe(BatchFinished, finished.append)
    probed: list[SourceProbed] = []
    app.bus.subscribe(SourceProbed, probed.append)
    try:
        app.executor.pause(Lane.HEAVY)  # let the probes run, hold the encodes
        app.queue.enqueue(Enqueue((str(a), str(b)), ("remux",), str(tmp_path / "out")))
        qtbot.waitUntil(lambda: len(probed) == 2, timeout=30000)
        make_clip(a, size="320x240", seconds=2)  # replaced by another file
        b.unlink()  # deleted
        app.executor.resume(Lane.HEAVY)
        qtbot.waitUntil(lambda: bool(finished), timeout=60000)
    finally:
        app.close(interrupt=False)
    errors = {
        Path(j.source_path).name: j.error
        for j in app.repo.jobs_in_batch(finished[0].batch_id)
        if j.kind.value == "remux"
    }
    assert errors == {
        "a.mp4": "source file changed after it was queued (add it again)",
        "b.mp4": "source file is gone",
    }
