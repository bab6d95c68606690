"""run_ffmpeg with a real ffmpeg: progress, logs, cancel, stall, launch errors, parent death.

Also the binary lookup (binaries.py), which these tests depend on. Process checks read
/proc (psutil is not a dependency), so the process-lifetime tests are Linux-only.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from checkers import ffmpeg_children
from mediagen import FFMPEG
from reelforge.media import binaries
from reelforge.media.binaries import (
    FFmpegNotFound,
    encoders,
    filters,
    find_ffmpeg,
    find_ffprobe,
    has_encoder,
    has_filter,
    parse_version,
)
from reelforge.media.errors import reason_from_stderr
from reelforge.media.probe import probe
from reelforge.media.process import (
    STDERR_TAIL,
    CancelToken,
    FFmpegLaunchError,
    Progress,
    run_ffmpeg,
)

linux_only = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="process checks read Linux /proc"
)


def lavfi(seconds: float, *, realtime: bool = False, size: str = "320x240") -> list[str]:
    """A testsrc2 input; with realtime, ffmpeg reads it at 1x (-re) so a run lasts `seconds`."""
    return [*(["-re"] if realtime else []), "-f", "lavfi", "-i",
            f"testsrc2=s={size}:r=25:d={seconds}"]  # fmt: skip


def x264(out: Path) -> list[str]:
    return ["-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", "-y", str(out)]


def proc_state(pid: int) -> str | None:
    """The state letter from /proc/<pid>/stat (R, S, Z ...), None if the pid is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rpartition(")")[2].split()[0]


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Recorder:
    """Collects callbacks, and the pid of the ffmpeg they came from (seen via /proc)."""

    def __init__(self) -> None:
        self.progress: list[tuple[float, Progress]] = []
        self.lines: list[str] = []
        self.bursts: list[str] = []  # on_log calls: lines that arrived together
        self.pids: set[int] = set()

    def on_progress(self, p: Progress) -> None:
        self.progress.append((time.monotonic(), p))
        if Path("/proc").exists():
            self.pids.update(ffmpeg_children(os.getpid()))

    def on_log(self, text: str) -> None:
        self.bursts.append(text)
        self.lines.extend(text.split("\n"))


# --- a normal run --------------------------------------------------------------------------


def test_progress_log_and_result(tmp_path: Path) -> None:
    out, log_path = tmp_path / "out.mp4", tmp_path / "logs" / "job.log"
    rec = Recorder()
    result = run_ffmpeg(
        FFMPEG,
        [*lavfi(2.0, realtime=True), "-stats_period", "0.1", *x264(out)],
        duration=2.0,
        cancel=CancelToken(),
        log_path=str(log_path),
        on_progress=rec.on_progress,
        on_log=rec.on_log,
    )
    assert result.returncode == 0
    assert result.ok
    assert not result.cancelled
    assert not result.stalled
    assert 1.0 < result.seconds < 10  # -re, minus ffmpeg's 0.5 s initial read burst

    percents = [p.percent for _, p in rec.progress]
    assert len(percents) >= 4, percents
    assert all(p is not None for p in percents)
    assert percents == sorted(percents)  # never goes backwards
    assert any(0 < p < 100 for p in percents)
    assert percents[-1] == 100.0  # the final update, sent once at the end
    assert rec.progress[-1][1].eta == 0.0
    middle = [p for _, p in rec.progress[1:-1]]
    assert any(p.speed and 0.5 < p.speed < 2.0 for p in middle)  # -re: about 1x
    times = [t for t, _ in rec.progress[:-1]]  # throttled, except the final one
    assert all(b - a >= 0.24 for a, b in itertools.pairwise(times))

    text = log_path.read_text(encoding="utf-8")
    assert text.startswith("$ ")
    assert "-progress pipe:1" in text.splitlines()[0]
    assert "libx264" in text
    assert text.rstrip().splitlines()[-1].startswith("# finished: exit code 0")
    assert rec.lines
    assert all(line in text for line in rec.lines)
    assert result.stderr_tail == rec.lines[-STDERR_TAIL:]
    # Bursts: ffmpeg's ~40 header and closing lines reach on_log in a few calls, in order.
    assert "\n".join(rec.lines) in text
    assert len(rec.bursts) <= len(rec.lines) / 4, (len(rec.bursts), len(rec.lines))
    assert probe(out).duration == pytest.approx(2.0, abs=0.2)


def test_log_file_is_appended_not_replaced(tmp_path: Path) -> None:
    log_path = tmp_path / "job.log"
    log_path.write_text("earlier attempt\n", encoding="utf-8")
    result = run_ffmpeg(FFMPEG, [*lavfi(0.2), "-f", "null", "-"], duration=0.2,
                        cancel=CancelToken(), log_path=str(log_path))  # fmt: skip
    assert result.ok
    assert log_path.read_text(encoding="utf-8").startswith("earlier attempt\n$ ")


def test_stderr_tail_keeps_the_last_lines() -> None:
    rec = Recorder()
    result = run_ffmpeg(FFMPEG, ["-v", "debug", *lavfi(0.2), "-f", "null", "-"], duration=0.2,
                        cancel=CancelToken(), on_log=rec.on_log)  # fmt: skip
    lines = rec.lines
    assert result.ok
    assert len(lines) > STDERR_TAIL
    assert result.stderr_tail == lines[-STDERR_TAIL:]


def test_raising_callbacks_do_not_break_the_run(tmp_path: Path) -> None:
    calls = {"progress": 0, "log": 0}

    def bad_progress(_: Progress) -> None:
        calls["progress"] += 1
        raise RuntimeError("UI went away")

    def bad_log(_: str) -> None:
        calls["log"] += 1
        raise ValueError("cannot log")

    out = tmp_path / "out.mp4"
    # Paced at 1x, so the header and the closing statistics are two stderr bursts a second
    # apart; unpaced, the whole encode can finish inside one burst and on_log is called once.
    result = run_ffmpeg(FFMPEG, [*lavfi(1.0, realtime=True), *x264(out)],
                        duration=1.0, cancel=CancelToken(), on_progress=bad_progress,
                        on_log=bad_log)  # fmt: skip
    assert result.ok
    # The stderr reader kept going after the first exception: later bursts (x264's closing
    # statistics) were still read and passed on.
    assert calls["log"] >= 2
    assert any("kb/s" in line for line in result.stderr_tail)
    assert calls["progress"] >= 1
    assert probe(out).duration == pytest.approx(1.0, abs=0.2)


def test_failure_keeps_stderr_for_the_reason(tmp_path: Path) -> None:
    result = run_ffmpeg(FFMPEG, ["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"],
                        duration=None, cancel=CancelToken())  # fmt: skip
    assert result.returncode not in (0, None)
    assert not result.ok
    assert reason_from_stderr(result.stderr_tail, result.returncode) == "file not found"


def test_cancelled_before_start_does_not_spawn() -> None:
    cancel = CancelToken()
    cancel.cancel("user removed the job")
    rec = Recorder()
    result = run_ffmpeg(FFMPEG, lavfi(1.0), duration=1.0, cancel=cancel,
                        on_progress=rec.on_progress)  # fmt: skip
    assert result.cancelled
    assert result.returncode is None
    assert rec.progress == []
    assert cancel.reason == "user removed the job"


# --- cancel, stall, staged stop -----------------------------------------------------------


@linux_only
def test_cancel_stops_quickly_with_q_and_leaves_no_process(tmp_path: Path) -> None:
    out = tmp_path / "partial.mp4"
    cancel = CancelToken()
    rec = Recorder()

    def on_progress(p: Progress) -> None:
        rec.on_progress(p)
        if p.out_time and p.out_time >= 1.0:  # past the -re initial burst: truly mid-run
            cancel.cancel("user pressed stop")

    started = time.monotonic()
    result = run_ffmpeg(FFMPEG, [*lavfi(30.0, realtime=True), "-stats_period", "0.1",
                                 *x264(out)],
                        duration=30.0, cancel=cancel, on_progress=on_progress,
                        stop_grace=3.0)  # fmt: skip
    assert result.cancelled
    assert not result.ok
    assert cancel.reason == "user pressed stop"
    assert time.monotonic() - started < 5  # 30 s of input, stopped within a second or two
    assert result.returncode == 0  # "q" is a clean stop: ffmpeg finalises the file
    assert rec.pids, "never saw the ffmpeg process"
    assert all(proc_state(pid) is None for pid in rec.pids)  # exited AND reaped
    assert probe(out).duration > 0.8  # the partial output is a playable mp4


@linux_only
def test_cancel_falls_back_to_sigterm_when_q_is_ignored() -> None:
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    rec = Recorder()
    # -nostdin: ffmpeg never reads stdin, so "q" cannot work; SIGTERM must.
    result = run_ffmpeg(FFMPEG, ["-nostdin", *lavfi(30.0, realtime=True), "-stats_period",
                                 "0.1", "-f", "null", "-"],
                        duration=30.0, cancel=cancel, on_progress=rec.on_progress,
                        stop_grace=0.5)  # fmt: skip
    assert result.cancelled
    assert result.returncode == 255  # ffmpeg's "received signal 15" exit
    assert 0.9 < result.seconds < 3.5
    assert any("signal 15" in line for line in result.stderr_tail)
    assert all(proc_state(pid) is None for pid in rec.pids)


@linux_only
@pytest.mark.timeout(30)
def test_stall_on_a_fifo_nobody_writes(tmp_path: Path) -> None:
    # ffmpeg blocks in open() on the FIFO: no progress, no stderr, deaf to q and SIGTERM.
    fifo = tmp_path / "never.fifo"
    os.mkfifo(fifo)
    pids: list[int] = []

    def spy() -> None:
        if wait_for(lambda: bool(ffmpeg_children(os.getpid())), 3):
            pids.extend(ffmpeg_children(os.getpid()))

    watcher = threading.Thread(target=spy)
    watcher.start()
    result = run_ffmpeg(FFMPEG, ["-f", "mpegts", "-i", str(fifo), "-f", "null", "-"],
                        duration=None, cancel=CancelToken(), stall_timeout=1.0,
                        stop_grace=0.3)  # fmt: skip
    watcher.join()
    assert result.stalled
    assert not result.cancelled
    assert result.returncode == -signal.SIGKILL  # the last stage was needed
    assert 1.0 < result.seconds < 5
    assert pids
    assert all(proc_state(pid) is None for pid in pids)


def test_no_stall_when_progress_keeps_moving() -> None:
    result = run_ffmpeg(FFMPEG, [*lavfi(2.0, realtime=True), "-f", "null", "-"],
                        duration=2.0, cancel=CancelToken(), stall_timeout=1.0)  # fmt: skip
    assert result.ok
    assert not result.stalled


class ExplodingToken(CancelToken):
    """Raises in the caller's thread mid-run, like a KeyboardInterrupt or a bug would."""

    def __init__(self, after: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + after

    @property
    def cancelled(self) -> bool:
        if time.monotonic() > self.deadline:
            raise KeyboardInterrupt
        return False


@linux_only
def test_an_exception_in_the_caller_still_kills_and_reaps(tmp_path: Path) -> None:
    rec = Recorder()
    log_path = tmp_path / "job.log"
    with pytest.raises(KeyboardInterrupt):
        run_ffmpeg(FFMPEG, [*lavfi(30.0, realtime=True), "-stats_period", "0.1", "-f", "null",
                            "-"],
                   duration=30.0, cancel=ExplodingToken(after=0.6), log_path=str(log_path),
                   on_progress=rec.on_progress)  # fmt: skip
    assert rec.pids
    assert all(proc_state(pid) is None for pid in rec.pids)
    assert "exit code -9" in log_path.read_text(encoding="utf-8")  # no grace when unwinding
    assert not [t for t in threading.enumerate() if t.name.startswith("ffmpeg-")]


# --- launch errors -------------------------------------------------------------------------


def test_missing_binary(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ffmpeg"
    log_path = tmp_path / "job.log"
    with pytest.raises(FFmpegLaunchError, match=r"^ffmpeg not found at .*no-such-ffmpeg$"):
        run_ffmpeg(str(missing), lavfi(1.0), duration=1.0, cancel=CancelToken(),
                   log_path=str(log_path))  # fmt: skip
    assert "# ffmpeg not found at" in log_path.read_text(encoding="utf-8")


def test_not_executable_binary(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o644)  # execve wants an x bit even from root
    with pytest.raises(FFmpegLaunchError, match="is not executable"):
        run_ffmpeg(str(fake), lavfi(1.0), duration=1.0, cancel=CancelToken())


def test_a_folder_as_binary_cannot_start(tmp_path: Path) -> None:
    # Even root cannot exec a directory: EACCES, reported like a non-executable file.
    with pytest.raises(FFmpegLaunchError, match="is not executable"):
        run_ffmpeg(str(tmp_path), lavfi(1.0), duration=1.0, cancel=CancelToken())


# --- parent death ----------------------------------------------------------------------------


CHILD = textwrap.dedent(
    """
    import sys
    from reelforge.media import process
    from reelforge.media.process import CancelToken, run_ffmpeg

    args = ["-re", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=60", "-f", "null", "-"]
    print("setpriv" if process._death_signal_prefix() else "prctl", flush=True)
    print("starting", flush=True)
    run_ffmpeg(sys.argv[1], args, duration=60.0, cancel=CancelToken())
    """
)


@linux_only
@pytest.mark.timeout(60)
@pytest.mark.parametrize("mechanism", ["setpriv", "preexec prctl"])
def test_ffmpeg_dies_with_its_parent(tmp_path: Path, mechanism: str) -> None:
    # setpriv --pdeathsig is the fast path (no preexec_fn, so vfork); prctl in preexec_fn is
    # the fallback where util-linux's setpriv is missing. Both must kill ffmpeg.
    if mechanism == "setpriv" and shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    env = dict(os.environ)
    if mechanism != "setpriv":
        env["REELFORGE_NO_SETPRIV"] = "1"
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script), FFMPEG], stdout=subprocess.PIPE, env=env)
    grandchildren: list[int] = []
    try:
        assert child.stdout is not None
        used = child.stdout.readline().strip().decode()
        assert used == ("setpriv" if mechanism == "setpriv" else "prctl")
        assert child.stdout.readline().strip() == b"starting"
        assert wait_for(lambda: bool(ffmpeg_children(child.pid)), 10), "ffmpeg never started"
        grandchildren.extend(ffmpeg_children(child.pid))
        (grandchild,) = grandchildren
        assert proc_state(grandchild) in {"R", "S", "D"}

        os.kill(child.pid, signal.SIGKILL)  # the child alone; ffmpeg has its own session
        child.wait(5)
        # Orphaned, it is re-parented; it must be dead (Z until the new parent reaps it).
        assert wait_for(lambda: proc_state(grandchild) in {None, "Z", "X"}, 2.0), (
            f"ffmpeg {grandchild} outlived its parent: state {proc_state(grandchild)}"
        )
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pid in grandchildren:  # only matters when the test failed: do not leak ffmpeg
            if proc_state(pid) not in (None, "Z", "X"):
                os.kill(pid, signal.SIGKILL)


@linux_only
def test_an_orphan_never_becomes_ffmpeg(tmp_path: Path) -> None:
    # The window setpriv leaves open: the app dies after spawning, before the death signal is
    # armed. The prefix's parent check must then exit instead of exec'ing ffmpeg. Simulated
    # by starting the prefix from another process, so its parent is not the app it names.
    from reelforge.media import process

    prefix = process._death_signal_prefix()
    if not prefix:
        pytest.skip("setpriv (util-linux) is not installed")
    out = tmp_path / "never.mp4"
    argv = [*prefix, FFMPEG, "-f", "lavfi", "-i", "nullsrc=d=0.1", str(out)]
    relay = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    middle = [sys.executable, "-c", relay]
    done = subprocess.run([*middle, *argv], capture_output=True, timeout=30, check=False)
    assert done.returncode == 125
    assert not out.exists()
    # ... while from the app itself the same prefix runs ffmpeg.
    done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert out.exists()


# --- finding the binary ------------------------------------------------------------------


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(binaries.ENV_VAR, raising=False)


def fake_ffmpeg(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.mark.usefixtures("no_env")
def test_find_ffmpeg_automatic() -> None:
    found = find_ffmpeg()
    assert found.source in {"imageio-ffmpeg", "PATH"}
    assert os.path.isfile(found.path)
    assert found.version
    assert found.version == find_ffmpeg(None).version


@pytest.mark.usefixtures("no_env")
def test_find_ffmpeg_from_setting_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from_setting = find_ffmpeg(FFMPEG)
    assert (from_setting.path, from_setting.source) == (FFMPEG, "setting")
    assert from_setting.version.lstrip("n")[:1].isdigit()

    monkeypatch.setenv(binaries.ENV_VAR, FFMPEG)
    assert find_ffmpeg().source == "env"
    assert find_ffmpeg(FFMPEG).source == "setting"  # the setting wins over the env var
    assert find_ffmpeg("   ").source == "env"  # a blank setting is no setting


@pytest.mark.usefixtures("no_env")
def test_explicit_paths_that_are_wrong_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope" / "ffmpeg"
    with pytest.raises(FFmpegNotFound, match="missing file") as caught:
        find_ffmpeg(str(missing))
    assert str(missing) in str(caught.value)

    plain = tmp_path / "plain"
    plain.write_text("x", encoding="utf-8")
    plain.chmod(0o644)
    with pytest.raises(FFmpegNotFound, match="not executable"):  # X_OK: no x bit, even root
        find_ffmpeg(str(plain))

    monkeypatch.setenv(binaries.ENV_VAR, str(missing))  # no silent fall-through to PATH
    with pytest.raises(FFmpegNotFound, match=binaries.ENV_VAR):
        find_ffmpeg()


@pytest.mark.usefixtures("no_env")
def test_version_is_parsed_and_cached_per_mtime(tmp_path: Path) -> None:
    fake = fake_ffmpeg(tmp_path / "ffmpeg", 'echo "ffmpeg version 7.1-test Copyright (c) x"')
    assert find_ffmpeg(str(fake)).version == "7.1-test"
    fake_ffmpeg(fake, 'echo "ffmpeg version 8.0-new Copyright (c) x"')
    os.utime(fake, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    assert find_ffmpeg(str(fake)).version == "8.0-new"
    # A folder holding an ffmpeg is accepted as the setting.
    assert find_ffmpeg(str(tmp_path)).path == str(fake)


@pytest.mark.usefixtures("no_env")
def test_binaries_that_do_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_ffmpeg = fake_ffmpeg(tmp_path / "true", "echo hello")
    with pytest.raises(FFmpegNotFound, match=r"^ffmpeg at .* does not run: it is not ffmpeg"):
        find_ffmpeg(str(not_ffmpeg))
    failing = fake_ffmpeg(tmp_path / "failing", "exit 3")
    with pytest.raises(FFmpegNotFound, match="does not run: -version exited with code 3"):
        find_ffmpeg(str(failing))
    monkeypatch.setattr(binaries, "VERSION_TIMEOUT", 0.5)
    hanging = fake_ffmpeg(tmp_path / "hanging", "exec sleep 5")
    started = time.monotonic()
    with pytest.raises(FFmpegNotFound, match="does not run: no answer to -version"):
        find_ffmpeg(str(hanging))
    assert time.monotonic() - started < 3


@pytest.mark.usefixtures("no_env")
def test_bundled_copy_next_to_a_frozen_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    exe = fake_ffmpeg(bundle / "ffmpeg", 'echo "ffmpeg version 6.1-bundled"')
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    found = find_ffmpeg()
    assert (found.path, found.source, found.version) == (str(exe), "bundled", "6.1-bundled")


def test_parse_version() -> None:
    assert parse_version("ffmpeg version 9.0.2 Copyright (c) 2000-2026\nbuilt with") == "9.0.2"
    assert parse_version("ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright") == (
        "n9.0.2-17-g2a571b6068-20260930"
    )
    assert parse_version("") is None
    assert parse_version("hello world") is None


def test_encoders_and_filters() -> None:
    assert "libx264" in encoders(FFMPEG)
    assert "aac" in encoders(FFMPEG)
    assert has_encoder(FFMPEG, "libx264")
    assert not has_encoder(FFMPEG, "no_such_encoder")
    assert {"scale", "setparams", "testsrc2"} <= filters(FFMPEG)
    assert has_filter(FFMPEG, "scale")
    assert not has_filter(FFMPEG, "Filters:")  # the header is not a filter
    assert encoders(FFMPEG) is encoders(FFMPEG)  # cached


def test_find_ffprobe(tmp_path: Path) -> None:
    probe_exe = fake_ffmpeg(tmp_path / "ffprobe", "exit 0")
    assert find_ffprobe(str(tmp_path / "ffmpeg")) == str(probe_exe)  # next to ffmpeg first
    assert find_ffprobe(str(tmp_path / "elsewhere" / "ffmpeg")) == shutil.which("ffprobe")
    assert find_ffprobe() == shutil.which("ffprobe")
