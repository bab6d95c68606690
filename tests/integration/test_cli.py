"""The headless CLI: exit codes, JSON lines, history, reruns, collisions, presets, Ctrl-C.

Most tests call reelforge.cli.main() in-process (fast); the entry point, the exit code and a
clean stderr are also proven on the real `python -m reelforge` as a child process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from checkers import (
    CliRun,
    assert_no_temp_files,
    assert_no_traceback,
    assert_one_line,
    cli_argv,
    cli_env,
    display_size,
    ffprobe,
    ffprobe_json,
    json_lines,
    run_cli,
    run_cli_subprocess,
    temp_files,
    video_stream,
)
from mediagen import make_clip
from reelforge.__about__ import __version__
from reelforge.media.binaries import find_ffmpeg

pytestmark = pytest.mark.usefixtures("ffprobe")
_ = ffprobe  # the fixture, imported so pytestmark can use it

BUILTINS = {"web", "thumbnails", "audio", "preview", "remux"}
JSON_KEYS = {"source", "job", "kind", "preset", "status", "outputs", "error", "seconds"}
linux_only = pytest.mark.skipif(
    not Path("/proc/self/cmdline").exists(), reason="process checks read Linux /proc"
)


@pytest.fixture(scope="module", autouse=True)
def _qt(qapp: Any) -> None:
    """A QApplication before main() makes its QCoreApplication (pytest-qt tests need one)."""


@pytest.fixture(scope="session")
def small_clip(media_dir: Path) -> Path:
    """320x180, 1 s, H.264 + AAC: web makes one 180p rendition and a poster, in a second."""
    return make_clip(media_dir / "small.mp4", size="320x180", seconds=1.0)


@pytest.fixture
def clip(small_clip: Path, tmp_path: Path) -> Path:
    """A private copy, so a test may put things next to it."""
    src = tmp_path / "src"
    src.mkdir()
    return Path(shutil.copy2(small_clip, src / "clip.mp4"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def process(*args: Any) -> CliRun:
    return run_cli(["process", *map(str, args), "--json"])


def mtimes(paths: list[str]) -> dict[str, tuple[int, int]]:
    return {p: (os.stat(p).st_mtime_ns, os.stat(p).st_ino) for p in paths}


def non_probe(run: CliRun) -> list[dict[str, Any]]:
    return [j for j in run.jobs if j["kind"] != "probe"]


# --- exit codes and JSON lines ------------------------------------------------------------


def test_success_exits_0_with_one_json_line_per_job(clip: Path, out: Path) -> None:
    run = process(clip, "-p", "web", "-o", out)
    assert run.rc == 0, run.stderr
    assert_no_traceback(run.stderr)
    # probe + encode (one 180p rendition) + thumbnails (the poster)
    assert sorted(j["kind"] for j in run.jobs) == ["encode", "probe", "thumbnails"]
    assert len({j["job"] for j in run.jobs}) == len(run.jobs)
    for job in run.jobs:
        assert job.keys() >= JSON_KEYS, job.keys()
        assert job["status"] == "succeeded"
        assert job["error"] is None
        assert Path(job["source"]) == clip.resolve()
        assert isinstance(job["seconds"], int | float)
        assert job["seconds"] >= 0
        for path in job["outputs"]:
            assert Path(path).is_absolute()
            assert Path(path).is_file()
    probe = run.one(clip, kind="probe")
    assert probe["preset"] == "probe"
    assert probe["outputs"] == []
    encode = run.one(clip, kind="encode")
    assert encode["preset"] == "web"
    assert encode["outputs"] == [str(out.resolve() / "clip" / "clip.180p.mp4")]
    assert run.one(clip, kind="thumbnails")["outputs"] == [
        str(out.resolve() / "clip" / "clip.poster.jpg")
    ]
    assert_no_temp_files(out)


def test_any_failure_exits_1(clip: Path, out: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    run = process(clip, empty, "-p", "web", "-o", out)
    assert run.rc == 1
    bad = run.one(empty)
    assert bad["kind"] == "probe"
    assert bad["status"] == "failed"
    assert bad["error"] == "empty file"
    assert bad["outputs"] == []
    assert all(j["status"] == "succeeded" for j in run.find(clip))


def test_unknown_preset_is_a_usage_error(clip: Path, out: Path) -> None:
    run = process(clip, "-p", "web", "-p", "nope", "-o", out)
    assert run.rc == 2
    assert run.jobs == []
    line = run.stderr.strip()
    assert "\n" not in line
    assert "'nope'" in line
    for name in BUILTINS:
        assert name in line
    assert not out.exists()  # validated before anything happens
    assert run_cli(["history", "--json"]).jobs == []


@pytest.mark.parametrize("contents", ["nothing", "non-media only"])
def test_no_inputs_is_a_usage_error(tmp_path: Path, out: Path, contents: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    if contents == "non-media only":
        (folder / "notes.txt").write_text("hello", encoding="utf-8")
        (folder / "sub").mkdir()
        (folder / "sub" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    run = process(folder, "-o", out)
    assert run.rc == 2
    assert "no inputs" in run.stderr
    assert run.jobs == []
    assert not out.exists()


@pytest.mark.parametrize("value", ["0", "-1"])
def test_jobs_below_one_is_a_usage_error(clip: Path, out: Path, value: str) -> None:
    run = run_cli(["process", str(clip), "-o", str(out), f"--jobs={value}"])
    assert run.rc == 2
    assert "--jobs" in run.stderr
    assert not out.exists()


def test_bad_collision_choice_is_a_usage_error(clip: Path, out: Path) -> None:
    run = run_cli(["process", str(clip), "-o", str(out), "--collision", "replace"])
    assert run.rc == 2
    assert "--collision" in run.stderr


# --- history ----------------------------------------------------------------------------------


def test_history_json_matches_what_process_printed(clip: Path, out: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    run = process(clip, junk, "-p", "web", "-p", "audio", "-o", out)
    assert run.rc == 1
    history = run_cli(["history", "--json"])
    assert history.rc == 0
    assert {(j["job"], j["status"]) for j in history.jobs} == {
        (j["job"], j["status"]) for j in run.jobs
    }
    by_id = {j["job"]: j for j in history.jobs}
    for job in run.jobs:  # the same objects, read from the same history
        assert by_id[job["job"]]["outputs"] == job["outputs"]
        assert by_id[job["job"]]["error"] == job["error"]

    failed = run_cli(["history", "--json", "--status", "failed"])
    assert failed.rc == 0
    assert [j["job"] for j in failed.jobs] == [run.one(junk)["job"]]
    assert failed.jobs[0]["error"] == "not a media file"

    text = run_cli(["history"])
    assert text.rc == 0
    assert "not a media file" in text.stdout
    assert len(text.stdout.strip().splitlines()) == len(run.jobs)


# --- reruns and collisions ----------------------------------------------------------------


def test_rerun_skips_everything_and_touches_nothing(clip: Path, out: Path) -> None:
    first = process(clip, "-p", "web", "-p", "audio", "-o", out)
    assert first.rc == 0
    outputs = [p for j in first.jobs for p in j["outputs"]]
    assert len(outputs) == 3
    before = mtimes(outputs)
    time.sleep(0.05)  # any rewrite would show in mtime_ns

    again = process(clip, "-p", "web", "-p", "audio", "-o", out)
    assert again.rc == 0
    assert again.one(clip, kind="probe")["status"] == "succeeded"
    jobs = non_probe(again)
    assert len(jobs) == 3
    for job in jobs:
        assert job["status"] == "skipped", job
        assert job["error"] is None
        assert all(Path(p).is_file() for p in job["outputs"])
    assert sorted(p for j in jobs for p in j["outputs"]) == sorted(outputs)
    assert mtimes(outputs) == before
    assert sorted(p.name for p in (out / "clip").iterdir()) == sorted(Path(p).name for p in outputs)


def test_rerun_redoes_only_the_job_whose_output_was_deleted(clip: Path, out: Path) -> None:
    first = process(clip, "-p", "web", "-o", out)
    assert first.rc == 0
    poster = Path(first.one(clip, kind="thumbnails")["outputs"][0])
    rendition = first.one(clip, kind="encode")["outputs"][0]
    kept = mtimes([rendition])
    poster.unlink()

    again = process(clip, "-p", "web", "-o", out)
    assert again.rc == 0
    redone = again.one(clip, kind="thumbnails")
    assert redone["status"] == "succeeded"
    assert redone["outputs"] == [str(poster)]  # its own old name, not "(2)"
    assert poster.is_file()
    assert again.one(clip, kind="encode")["status"] == "skipped"
    assert mtimes([rendition]) == kept


def test_same_named_sources_in_one_drop_get_distinct_outputs(
    small_clip: Path, tmp_path: Path, out: Path
) -> None:
    # Three clip.mp4 from three folders plan the same output names while none exists yet:
    # the names reserved by queued jobs must keep them apart (kept in memory during a drop).
    sources = []
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        sources.append(tmp_path / folder / "clip.mp4")
        shutil.copy(small_clip, sources[-1])
        with sources[-1].open("ab") as fh:  # a different byte: no "already done" skip
            fh.write(folder.encode())
    run = process(*sources, "-p", "web", "-o", out)
    assert run.rc == 0, run.stderr
    names = sorted(Path(p).name for j in non_probe(run) for p in j["outputs"])
    assert names == sorted(
        f"clip.{role}{n}.{ext}"
        for n in ("", " (2)", " (3)")
        for role, ext in (("180p", "mp4"), ("poster", "jpg"))
    )
    assert sorted(p.name for p in (out / "clip").iterdir()) == names


FOREIGN = b"somebody else's file, not ours\n"


def plant_foreign(out: Path) -> Path:
    """A file that is not ours, sitting where the 180p rendition wants to go."""
    target = out / "clip" / "clip.180p.mp4"
    target.parent.mkdir(parents=True)
    target.write_bytes(FOREIGN)
    return target


def test_collision_default_uses_a_counter(clip: Path, out: Path) -> None:
    foreign = plant_foreign(out)
    run = process(clip, "-p", "web", "-o", out)
    assert run.rc == 0
    (path,) = run.one(clip, kind="encode")["outputs"]
    assert Path(path) == foreign.with_name("clip.180p (2).mp4")
    assert foreign.read_bytes() == FOREIGN
    v = video_stream(ffprobe_json(path))
    assert v is not None
    assert display_size(v) == (320, 180)


def test_collision_overwrite_replaces(clip: Path, out: Path) -> None:
    foreign = plant_foreign(out)
    run = run_cli(["process", str(clip), "-p", "web", "-o", str(out), "--json",
                   "--collision", "overwrite"])  # fmt: skip
    assert run.rc == 0
    assert run.one(clip, kind="encode")["outputs"] == [str(foreign)]
    assert foreign.read_bytes() != FOREIGN
    assert video_stream(ffprobe_json(foreign)) is not None
    assert not foreign.with_name("clip.180p (2).mp4").exists()
    assert_no_temp_files(out)


def test_collision_skip_leaves_the_file_alone(clip: Path, out: Path) -> None:
    foreign = plant_foreign(out)
    run = run_cli(["process", str(clip), "-p", "web", "-o", str(out), "--json",
                   "--collision", "skip"])  # fmt: skip
    assert run.rc == 0
    encode = run.one(clip, kind="encode")
    assert encode["status"] == "skipped"
    assert encode["outputs"] == []
    assert encode["error"] is None  # skipping is the policy at work, not a failure
    assert_one_line(encode["warning"])
    assert "clip.180p.mp4" in encode["warning"]
    assert foreign.read_bytes() == FOREIGN
    assert run.one(clip, kind="thumbnails")["status"] == "succeeded"  # no clash there
    assert sorted(p.name for p in foreign.parent.iterdir()) == ["clip.180p.mp4", "clip.poster.jpg"]


# --- folders --------------------------------------------------------------------------------


def test_folders_are_walked_and_non_media_counted(small_clip: Path, tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    shutil.copy2(small_clip, root / "a.mp4")
    shutil.copy2(small_clip, root / "sub" / "b.MOV")  # extensions match case-insensitively
    shutil.copy2(small_clip, root / "sub" / "deeper" / "c.mkv")  # named by extension only
    shutil.copy2(small_clip, root / ".hidden" / "h.mp4")  # hidden folders are not walked
    (root / "notes.txt").write_text("not media", encoding="utf-8")
    (root / "sub" / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    out = root / "out"  # inside the walked folder: must never feed itself

    run = run_cli(["process", str(root), "-p", "web", "-o", str(out), "--json"])
    assert run.rc == 0, run.stderr
    probed = sorted(Path(j["source"]).name for j in run.jobs if j["kind"] == "probe")
    assert probed == ["a.mp4", "b.MOV", "c.mkv"]
    assert "2 non-media file(s) in folders skipped" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c"]

    again = run_cli(["process", str(root), "-p", "web", "-o", str(out), "--json"])
    assert again.rc == 0
    assert len([j for j in again.jobs if j["kind"] == "probe"]) == 3  # outputs not walked
    assert all(j["status"] == "skipped" for j in non_probe(again))


def test_a_non_media_file_named_explicitly_is_a_failed_job(
    clip: Path, out: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just text\n", encoding="utf-8")
    run = process(clip, notes, "-p", "web", "-o", out)
    assert run.rc == 1
    job = run.one(notes)
    assert (job["kind"], job["status"], job["error"]) == ("probe", "failed", "not a media file")
    assert sorted(p.name for p in out.iterdir()) == ["clip"]


# --- presets ----------------------------------------------------------------------------------

USER_PRESET = """\
name = "mini"
description = "one tiny rendition"

[[renditions]]
name = "tiny"
short_side = 120
crf = 30
speed = "ultrafast"
"""
BROKEN = {
    "broken.toml": ('name = "broken"\n[[renditions]\nname = 1\n', "not valid TOML"),
    "badcodec.toml": (
        'name = "badcodec"\n[[renditions]]\nname = "x"\nshort_side = 240\ncodec = "mpeg9"\n',
        "renditions[0].codec",
    ),
    "negative.toml": ('name = "negative"\n[poster]\nwidth = -640\n', "poster.width"),
}


@pytest.fixture
def user_presets(reelforge_home: Path) -> Path:
    folder = reelforge_home / "presets"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mini.toml").write_text(USER_PRESET, encoding="utf-8")
    for name, (text, _field) in BROKEN.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_presets_json_lists_the_builtins() -> None:
    run = run_cli(["presets", "--json"])
    assert run.rc == 0
    assert run.stderr == ""
    assert {p["name"] for p in run.jobs} == BUILTINS
    assert all(p["builtin"] is True for p in run.jobs)
    sections = {p["name"]: set(p["sections"]) for p in run.jobs}
    assert sections == {
        "web": {"renditions", "poster"},
        "thumbnails": {"poster", "contact_sheet"},
        "audio": {"audio"},
        "preview": {"preview"},
        "remux": {"remux"},
    }


def _assert_broken_reported(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if "preset ignored" in line]
    assert len(lines) == len(BROKEN), stderr
    for name, (_text, field) in BROKEN.items():
        (line,) = [line for line in lines if name in line]
        assert field in line, line


def test_user_preset_is_listed_and_broken_ones_reported(user_presets: Path) -> None:
    run = run_cli(["presets", "--json"])
    assert run.rc == 0
    names = {p["name"]: p for p in run.jobs}
    assert set(names) == BUILTINS | {"mini"}  # the broken ones stop nothing else
    assert names["mini"]["builtin"] is False
    assert names["mini"]["description"] == "one tiny rendition"
    _assert_broken_reported(run.stderr)

    text = run_cli(["presets"])
    assert text.rc == 0
    assert re.search(r"^mini\s+user\s+one tiny rendition$", text.stdout, re.M)
    _assert_broken_reported(text.stderr)


def test_user_preset_is_usable(user_presets: Path, clip: Path, out: Path) -> None:
    run = process(clip, "-p", "mini", "-o", out)
    assert run.rc == 0, run.stderr
    _assert_broken_reported(run.stderr)
    (path,) = run.one(clip, kind="encode", preset="mini")["outputs"]
    assert Path(path).name == "clip.tiny.mp4"
    v = video_stream(ffprobe_json(path))
    assert v is not None
    assert display_size(v) == (214, 120)  # 320x180 with a 120 short side, even


def test_a_broken_preset_cannot_be_used(user_presets: Path, clip: Path, out: Path) -> None:
    run = process(clip, "-p", "negative", "-o", out)
    assert run.rc == 2
    assert "unknown preset 'negative'" in run.stderr
    assert "mini" in run.stderr
    assert not out.exists()


# --- doctor, version, the real entry point -------------------------------------------------


def test_doctor(reelforge_home: Path) -> None:
    run = run_cli(["doctor"])
    assert run.rc == 0, run.stdout
    assert find_ffmpeg(None).version in run.stdout
    assert re.search(rf"^data folder\s+{re.escape(str(reelforge_home.resolve()))}$", run.stdout,
                     re.M)  # fmt: skip
    assert "MISSING" not in run.stdout
    assert "PROBLEM" not in run.stdout


def test_version_in_process() -> None:
    run = run_cli(["--version"])
    assert run.rc == 0
    assert run.stdout.strip() == f"Reelforge {__version__}"


def test_entry_point_subprocess(small_clip: Path, tmp_path: Path, reelforge_home: Path) -> None:
    version = run_cli_subprocess(["--version"], home=reelforge_home, timeout=60)
    assert version.rc == 0
    assert version.stdout.strip() == f"Reelforge {__version__}"

    empty = tmp_path / "empty.mov"
    empty.touch()
    out = tmp_path / "out"
    ok = run_cli_subprocess(["process", small_clip, "-p", "web", "-o", out, "--json"],
                            home=reelforge_home)  # fmt: skip
    assert ok.rc == 0, ok.stderr
    assert_no_traceback(ok.stderr)
    assert {j["kind"] for j in ok.jobs} == {"probe", "encode", "thumbnails"}
    assert all(j["status"] == "succeeded" for j in ok.jobs)
    assert "3 succeeded" in ok.stderr  # the human summary goes to stderr, never stdout

    bad = run_cli_subprocess(["process", empty, "-p", "web", "-o", out, "--json"],
                             home=reelforge_home)  # fmt: skip
    assert bad.rc == 1
    assert_no_traceback(bad.stderr)
    (job,) = bad.jobs
    assert (job["status"], job["error"]) == ("failed", "empty file")

    usage = run_cli_subprocess(["process", small_clip, "-p", "nope", "-o", out],
                               home=reelforge_home)  # fmt: skip
    assert usage.rc == 2
    assert_no_traceback(usage.stderr)
    assert usage.stderr.strip().startswith("reelforge: unknown preset 'nope'")

    doctor = run_cli_subprocess(["doctor"], home=reelforge_home)
    assert doctor.rc == 0
    assert str(reelforge_home.resolve()) in doctor.stdout


# --- Ctrl-C -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def long_clip(media_dir: Path) -> Path:
    """1920x1080, 10 s: the web ladder (1080p, 720p, 480p) takes far longer than a test waits."""
    return make_clip(media_dir / "long.mp4", size="1920x1080", seconds=10.0)


def processes_mentioning(needle: str) -> list[int]:
    """Pids (other than ours) whose command line contains `needle`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle.encode() in cmdline:
            found.append(int(entry.name))
    return found


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def start_long_run(long_clip: Path, out: Path, home: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        proc = subprocess.Popen(
            cli_argv("process", long_clip, "-p", "web", "-o", out),
            env=cli_env(home),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    # Mid-encode: ffmpeg has opened its temp outputs.
    if not wait_for(lambda: bool(temp_files(out)) or proc.poll() is not None, 30):
        proc.kill()
        proc.wait()
        pytest.fail("no temp file appeared within 30 s")
    assert proc.poll() is None, f"finished before it could be interrupted: {log.read_text()}"
    time.sleep(0.5)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.mark.slow
@linux_only
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_cancels_cleanly(
    long_clip: Path, tmp_path: Path, reelforge_home: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"
    proc = start_long_run(long_clip, out, reelforge_home, log)
    try:
        assert processes_mentioning(str(out)), "no ffmpeg working on the output folder"
        sent = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        _stop(proc)
    stderr = log.read_text(encoding="utf-8", errors="replace")
    assert rc == 130, stderr
    assert took < 12, f"took {took:.1f} s to stop"
    assert_no_traceback(stderr)
    assert "cancelling" in stderr
    assert_no_temp_files(out)
    assert wait_for(lambda: not processes_mentioning(str(out)), 2), "ffmpeg outlived the CLI"

    history = run_cli(["history", "--json"])
    encode = history.one(long_clip, kind="encode")
    assert encode["status"] == "cancelled", encode
    assert encode["outputs"] == []
    assert_one_line(encode["error"])
    statuses = {j["status"] for j in history.jobs if j["kind"] != "probe"}
    assert statuses <= {"cancelled", "succeeded"}, statuses
    assert not [p for p in out.rglob("*.mp4")], "a half-written rendition took a final name"


@pytest.mark.slow
@linux_only
@pytest.mark.timeout(120)
def test_second_ctrl_c_stops_at_once(long_clip: Path, tmp_path: Path, reelforge_home: Path) -> None:
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"
    proc = start_long_run(long_clip, out, reelforge_home, log)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        _stop(proc)
    stderr = log.read_text(encoding="utf-8", errors="replace")
    assert rc == 130, stderr
    assert took < 3, f"took {took:.1f} s to stop"
    assert_no_traceback(stderr)
    assert wait_for(lambda: not processes_mentioning(str(out)), 3), "ffmpeg outlived the CLI"
    assert_no_temp_files(out)
    assert not [p for p in out.rglob("*.mp4")]


def test_json_lines_helper_rejects_other_text() -> None:
    """The suite's own guard: stdout under --json must be nothing but JSON objects."""
    with pytest.raises(AssertionError):
        json_lines('{"a": 1}\nok  done\n')
