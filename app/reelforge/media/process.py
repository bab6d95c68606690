"""Running one ffmpeg process: progress, logging, cancel, stall detection, clean shutdown.

The contract that matters most: when run_ffmpeg() returns, the ffmpeg it started is gone
(reaped, no zombie) and both reader threads have finished, whatever happened: success,
failure, cancel, stall, an exception in a callback, or an exception in the caller's thread.
If *our* process dies instead, Linux kills ffmpeg too (parent-death signal), so a crashed
app never leaves an encoder burning CPU in the background.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from reelforge.media.progress import EtaEstimator, ProgressParser, ProgressSample

log = logging.getLogger(__name__)

STDERR_TAIL = 60
READ_SIZE = 65536
# stderr lines closer together than BURST_GAP s are one burst (one on_log call); a burst is
# passed on after BURST_MAX s even if ffmpeg keeps talking, so the live log stays live.
BURST_GAP = 0.01
BURST_MAX = 0.1
PROGRESS_INTERVAL = 0.25  # seconds between on_progress calls
POLL = 0.1  # seconds; how often the main loop looks at cancel and stall
READER_JOIN_TIMEOUT = 5.0

_POSIX = os.name == "posix"
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class FFmpegLaunchError(RuntimeError):
    """ffmpeg could not be started at all; str() is one line."""


class CancelToken:
    """A thread-safe "please stop", with the reason shown to the user."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():  # the first reason wins: it is what the user did
            self._reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return self._reason

    def wait(self, timeout: float | None = None) -> bool:
        """True as soon as cancelled, False when the timeout ran out first."""
        return self._event.wait(timeout)


@dataclass(frozen=True)
class Progress:
    percent: float | None
    speed: float | None  # media seconds per wall second, measured over a recent window
    eta: float | None  # seconds
    out_time: float | None  # seconds of output written
    fps: float | None


@dataclass
class RunResult:
    returncode: int | None  # negative on POSIX when a signal ended ffmpeg
    cancelled: bool
    stalled: bool
    seconds: float
    stderr_tail: list[str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.cancelled and not self.stalled


# --- child process set-up ------------------------------------------------------------------


def _resolve_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]  # fmt: skip
    return prctl


# Resolved once, in the parent: between fork and exec only async-signal-safe work is allowed
# (another thread may have held the malloc or import lock at fork time), so preexec_fn must
# not load libraries or import anything; it only calls this ready-made function pointer.
_PRCTL = _resolve_prctl()


def _make_preexec() -> Callable[[], None] | None:
    if _PRCTL is None:
        return None
    prctl = _PRCTL
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        # PDEATHSIG fires when the *thread* that forked us exits. run_ffmpeg blocks that
        # thread until ffmpeg is reaped, so that only happens when the whole app dies.
        prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sigkill)

    return preexec


def _find_setpriv() -> str | None:
    if not sys.platform.startswith("linux") or os.environ.get("REELFORGE_NO_SETPRIV"):
        return None
    for folder in ("/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        candidate = os.path.join(folder, "setpriv")
        if os.access(candidate, os.X_OK):
            return candidate
    return None


# util-linux's setpriv sets the parent-death signal and then execs ffmpeg. That keeps
# preexec_fn out of Popen, and without it CPython spawns with vfork instead of fork: no copy
# of a large Qt process's page tables while holding the GIL (measured: 37 -> 16 ms a run).
# setpriv cannot check that the parent is still there once the signal is armed (the app may
# die between the spawn and setpriv's prctl, and an orphan gets no signal), so a constant
# /bin/sh script does that check before exec'ing ffmpeg: $PPID is read when the shell starts,
# after the signal is armed. The paths and arguments reach it only as "$0" "$@", never as
# shell syntax. preexec_fn (prctl + getppid) stays the fallback where setpriv is absent.
_SETPRIV = _find_setpriv()
_SH = "/bin/sh"
_PARENT_CHECK = 'if [ "$PPID" = "{pid}" ]; then exec "$0" "$@"; fi; exit 125'


def _death_signal_prefix() -> list[str]:
    if not _SETPRIV or not os.access(_SH, os.X_OK):
        return []
    check = _PARENT_CHECK.format(pid=os.getpid())
    return [_SETPRIV, "--pdeathsig", "KILL", "--", _SH, "-c", check]


# --- Windows: a job object is the parent-death signal -------------------------------------

_JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
_JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9  # JOBOBJECTINFOCLASS value
_PROCESS_SET_QUOTA = 0x0100
_PROCESS_TERMINATE = 0x0001


def _make_kill_on_close_job() -> int | None:
    """One job object for the whole app, flagged KILL_ON_JOB_CLOSE.

    The handle is never closed on purpose: Windows closes it when our process ends, however
    it ends (crash, Task Manager), and then terminates every process assigned to the job.
    """
    from ctypes import wintypes

    class IoCounters(ctypes.Structure):
        _fields_ = [(name, ctypes.c_ulonglong) for name in (
            "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
            "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]  # fmt: skip

    class BasicLimits(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64),
            ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", wintypes.DWORD),
            ("MinimumWorkingSetSize", ctypes.c_size_t),
            ("MaximumWorkingSetSize", ctypes.c_size_t),
            ("ActiveProcessLimit", wintypes.DWORD),
            ("Affinity", ctypes.c_size_t),
            ("PriorityClass", wintypes.DWORD),
            ("SchedulingClass", wintypes.DWORD),
        ]

    class ExtendedLimits(ctypes.Structure):
        _fields_ = [
            ("BasicLimitInformation", BasicLimits),
            ("IoInfo", IoCounters),
            ("ProcessMemoryLimit", ctypes.c_size_t),
            ("JobMemoryLimit", ctypes.c_size_t),
            ("PeakProcessMemoryUsed", ctypes.c_size_t),
            ("PeakJobMemoryUsed", ctypes.c_size_t),
        ]

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateJobObjectW.restype = wintypes.HANDLE
    kernel32.CreateJobObjectW.argtypes = [wintypes.LPVOID, wintypes.LPCWSTR]
    kernel32.SetInformationJobObject.restype = wintypes.BOOL
    kernel32.SetInformationJobObject.argtypes = [
        wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD]  # fmt: skip
    job = kernel32.CreateJobObjectW(None, None)
    if not job:
        return None
    info = ExtendedLimits()
    info.BasicLimitInformation.LimitFlags = _JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    if not kernel32.SetInformationJobObject(
        job, _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION, ctypes.byref(info), ctypes.sizeof(info)
    ):
        kernel32.CloseHandle(job)
        return None
    return int(job)


_WIN_JOB: int | None = None
_WIN_JOB_LOCK = threading.Lock()


def _windows_job_hook(proc: subprocess.Popen[bytes]) -> None:
    """Put ffmpeg in the app's kill-on-close job object (Windows' parent-death signal).

    ffmpeg could in theory run a moment before it is assigned; it does nothing harmful in
    those microseconds, and it cannot escape later because children inherit the job.
    """
    global _WIN_JOB
    try:
        from ctypes import wintypes

        with _WIN_JOB_LOCK:
            if _WIN_JOB is None:
                _WIN_JOB = _make_kill_on_close_job()
        if _WIN_JOB is None:
            log.warning("no job object: ffmpeg may outlive a crashed Reelforge")
            return
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.AssignProcessToJobObject.restype = wintypes.BOOL
        kernel32.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
        handle = int(proc._handle)  # type: ignore[attr-defined]  # Popen's process handle
        if not kernel32.AssignProcessToJobObject(_WIN_JOB, handle):
            log.warning("cannot put ffmpeg %s in the job object (error %s)",
                        proc.pid, ctypes.get_last_error())  # fmt: skip
    except (OSError, AttributeError, ValueError):
        log.warning("job object unavailable; ffmpeg may outlive a crashed Reelforge",
                    exc_info=True)  # fmt: skip


def _check_executable(program: str) -> None:
    path = program if os.sep in program else shutil.which(program)
    if path is None or not os.path.exists(path):
        raise FFmpegLaunchError(f"ffmpeg not found at {program}")
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise FFmpegLaunchError(f"ffmpeg at {program} is not executable")


# --- child priority ------------------------------------------------------------------------

# How many nice steps below our own priority ffmpeg runs; 0 = the same. The desktop app sets
# 10 (HandBrake's "below normal"): two x264 encodes keep both cores of a small machine busy,
# and at the same priority the GUI thread waited ~20 ms for a CPU each time its timers woke
# it (measured with bench_ui --diagnose). A lower priority costs an encode nothing when the
# machine is otherwise idle; the CLI and cluster workers keep 0 (nothing there is interactive).
_child_nice = 0


def set_child_priority(nice_steps: int) -> None:
    """ffmpeg started from now on runs `nice_steps` (0-19) below this process's priority."""
    global _child_nice
    _child_nice = max(0, min(19, nice_steps))


def child_priority() -> int:
    return _child_nice


def _lower_priority(pid: int) -> None:
    """Right after the spawn, before ffmpeg starts its threads (they inherit it): the pid is
    still setpriv or the checking /bin/sh, a single thread that execs ffmpeg with it (without
    setpriv, ffmpeg just exec'd, still reading its arguments). On Linux
    setpriority(PRIO_PROCESS) sets one thread's nice, here the only one."""
    if not _child_nice:
        return
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)  # this thread's, which the child inherited
        os.setpriority(os.PRIO_PROCESS, pid, min(19, own + _child_nice))
    except OSError as err:  # already exited, or a platform that refuses: run it as it is
        log.debug("could not lower the priority of pid %s: %s", pid, err)


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    kwargs: dict = {}
    prefix = _death_signal_prefix()
    if _POSIX:
        kwargs["start_new_session"] = True  # own process group: killpg reaches everything
        if not prefix:
            kwargs["preexec_fn"] = _make_preexec()
    else:
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(
            subprocess, "CREATE_NO_WINDOW", 0
        )
        if _child_nice:  # Windows has priority classes, not nice steps
            kwargs["creationflags"] |= getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
    if prefix:  # setpriv would report these as its own exit code 127: say them the same way
        _check_executable(argv[0])
    try:
        proc = subprocess.Popen(  # argv list: paths are data, never shell syntax
            [*prefix, *argv],
            stdin=subprocess.PIPE,  # kept open: b"q" is ffmpeg's own clean stop
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            **kwargs,
        )
    except FileNotFoundError as exc:
        raise FFmpegLaunchError(f"ffmpeg not found at {argv[0]}") from exc
    except PermissionError as exc:
        raise FFmpegLaunchError(f"ffmpeg at {argv[0]} is not executable") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FFmpegLaunchError(f"ffmpeg at {argv[0]} cannot start: {reason}") from exc
    if _POSIX:
        _lower_priority(proc.pid)
    else:
        _windows_job_hook(proc)
    return proc


# --- the run -----------------------------------------------------------------------------


class _Guarded:
    """Calls a user callback; an exception is logged (first one with traceback), not raised.

    A raising callback must not kill a reader thread: the pipe would stop being drained,
    ffmpeg would block on a full pipe, and the run would look stalled.
    """

    def __init__(self, fn: Callable | None, name: str) -> None:
        self.fn = fn
        self.name = name
        self.failures = 0

    def __call__(self, *args: object) -> None:
        if self.fn is None:
            return
        try:
            self.fn(*args)
        except Exception:
            self.failures += 1
            if self.failures == 1:
                log.exception("%s callback raised; further errors are counted", self.name)


class _Run:
    def __init__(
        self,
        duration: float | None,
        on_progress: Callable[[Progress], None] | None,
        on_log: Callable[[str], None] | None,
        log_file: IO[str] | None,
    ) -> None:
        self.parser = ProgressParser()
        self.eta = EtaEstimator(duration or 0.0)
        self.on_progress = _Guarded(on_progress, "on_progress")
        self.on_log = _Guarded(on_log, "on_log")
        self.log_file = log_file
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self.last_progress: Progress | None = None
        self.last_emit = 0.0
        self.last_activity = time.monotonic()
        self._last_position: tuple | None = None

    def read_progress(self, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            try:
                sample = self.parser.feed(raw.decode("utf-8", errors="replace"))
                if sample is not None:
                    self._on_sample(sample)
            except Exception:  # never stop draining the pipe
                log.exception("progress handling failed")

    def _on_sample(self, sample: ProgressSample) -> None:
        now = time.monotonic()
        # ffmpeg repeats the same block while it waits on input: only movement is activity.
        position = (sample.out_time, sample.frame, sample.total_size)
        if position != self._last_position:
            self._last_position = position
            self.last_activity = now
        pct, eta, speed = self.eta.update(sample.out_time, now)
        out_time = (
            sample.out_time
            if sample.out_time is not None
            else (self.last_progress.out_time if self.last_progress else None)
        )
        self.last_progress = Progress(pct, speed, eta, out_time, sample.fps)
        # The closing sample is not sent here: run_ffmpeg sends one final update itself.
        if not sample.done and now - self.last_emit >= PROGRESS_INTERVAL:
            self.last_emit = now
            self.on_progress(self.last_progress)

    def read_stderr(self, pipe: IO[bytes]) -> None:
        """Drain stderr into the tail, the log file and on_log, a burst at a time.

        ffmpeg writes its header, the encoder's set-up and its closing statistics as bursts of
        ~40 lines a few milliseconds apart. Lines that arrive together are passed on together,
        one on_log call with the lines joined by newlines: one bus event, one event-log line
        and one broker message instead of forty (most of the events a short job made).
        """
        fd = pipe.fileno()
        rest = b""
        while True:
            data, eof = _read_burst(fd)
            if data:
                self.last_activity = time.monotonic()
            data = rest + data
            if eof:
                rest = b""
            else:  # a line cut by the read waits for its end (and never splits a UTF-8 char)
                cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
                data, rest = data[:cut], data[cut:]
            self._lines(data.decode("utf-8", errors="replace"))
            if eof:
                return

    def _lines(self, text: str) -> None:
        lines = [line.rstrip() for line in text.replace("\r", "\n").split("\n")]
        lines = [line for line in lines if line]
        if not lines:
            return
        self.tail.extend(lines)
        if self.log_file is not None:
            try:
                self.log_file.write("\n".join(lines) + "\n")
            except (OSError, ValueError):
                log.warning("cannot write the ffmpeg log; going on without it")
                self.log_file = None
        self.on_log("\n".join(lines))


def _read_burst(fd: int) -> tuple[bytes, bool]:
    """Block for output, then take whatever follows within BURST_GAP (POSIX; one read on
    Windows, where select() does not take pipes). Returns (bytes, end of file reached)."""
    chunk = os.read(fd, READ_SIZE)
    if not chunk:
        return b"", True
    if os.name == "nt":
        return chunk, False
    parts = [chunk]
    deadline = time.monotonic() + BURST_MAX
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], min(BURST_GAP, left))
        if not ready:
            break
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
    return b"".join(parts), False


def run_ffmpeg(
    ffmpeg: str,
    args: list[str],
    *,
    duration: float | None,
    cancel: CancelToken,
    log_path: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    stall_timeout: float | None = None,
    stop_grace: float = 3.0,
) -> RunResult:
    """Run ffmpeg to completion, cancel or stall; callbacks come from reader threads.

    on_log gets stderr a burst at a time: one or more lines, joined by newlines.

    ``duration`` is the expected output length in seconds (for percent and ETA). on_progress
    is called at most every 0.25 s and once more at the end, from the calling thread.
    """
    if cancel.cancelled:  # cancelled while queued: do not even start
        return RunResult(None, cancelled=True, stalled=False, seconds=0.0, stderr_tail=[])
    argv = [ffmpeg, "-hide_banner", "-nostats", "-progress", "pipe:1", *args]
    log_file = _open_log(log_path, argv)
    started = time.monotonic()
    proc: subprocess.Popen[bytes] | None = None
    run = _Run(duration, on_progress, on_log, log_file)
    readers: list[threading.Thread] = []
    waiter: _ExitWaiter | None = None
    cancelled = stalled = False
    try:
        try:
            proc = _spawn(argv)
        except FFmpegLaunchError as exc:
            _log_line(log_file, f"# {exc}")
            raise
        run.last_activity = time.monotonic()
        assert proc.stdout is not None
        assert proc.stderr is not None
        readers = [
            threading.Thread(target=run.read_progress, args=(proc.stdout,),
                             name=f"ffmpeg-{proc.pid}-progress", daemon=True),
            threading.Thread(target=run.read_stderr, args=(proc.stderr,),
                             name=f"ffmpeg-{proc.pid}-stderr", daemon=True),
        ]  # fmt: skip
        for t in readers:
            t.start()

        waiter = _ExitWaiter(proc)
        while True:
            if waiter.wait(POLL):
                break
            if cancel.cancelled:
                cancelled = True
                _stop(proc, stop_grace, why=f"cancel: {cancel.reason}")
                break
            if stall_timeout is not None and time.monotonic() - run.last_activity > stall_timeout:
                stalled = True
                _stop(proc, stop_grace, why=f"no progress for {stall_timeout:g} s")
                break
    finally:
        # Runs on every path, exceptions included: no running ffmpeg, no zombie, no thread.
        if waiter is not None:
            waiter.close()
        if proc is not None:
            if proc.poll() is None:  # unwinding from an exception: no grace period
                _kill_group(proc)
            _reap(proc)
        for t in readers:
            t.join(READER_JOIN_TIMEOUT)
            if t.is_alive():  # something else still holds the pipe: do not hang on it
                log.warning("reader thread %s did not finish", t.name)
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                with contextlib.suppress(OSError, ValueError):
                    if pipe is not None:
                        pipe.close()
        result = RunResult(
            proc.returncode if proc is not None else None,
            cancelled,
            stalled,
            time.monotonic() - started,
            list(run.tail),
        )
        _close_log(log_file, result, started=proc is not None)
    run.on_progress(_final_progress(run.last_progress, result, duration))
    return result


class _ExitWaiter:
    """ "Wait up to t seconds for ffmpeg to exit", waking the moment it does.

    Popen.wait(timeout) polls with sleeps of up to 50 ms, ~25 ms lost on every job on
    average; a pidfd (Linux 5.3+) becomes readable exactly when the process exits.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self.pidfd = os.pidfd_open(proc.pid)

    def wait(self, timeout: float) -> bool:
        if self.pidfd is None:
            return _wait(self.proc, timeout)
        ready, _, _ = select.select([self.pidfd], [], [], timeout)
        if ready:
            self.proc.wait()  # returns at once: it has exited
        return bool(ready)

    def close(self) -> None:
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None


def _final_progress(last: Progress | None, result: RunResult, duration: float | None) -> Progress:
    if result.ok:  # finished: whatever the last sample said, it is all done
        out_time = duration if duration else (last.out_time if last else None)
        return Progress(100.0, last.speed if last else None, 0.0, out_time,
                        last.fps if last else None)  # fmt: skip
    if last is None:
        return Progress(None, None, None, None, None)
    return Progress(last.percent, last.speed, None, last.out_time, last.fps)


def _open_log(log_path: str | None, argv: list[str]) -> IO[str] | None:
    if not log_path:
        return None
    folder = os.path.dirname(log_path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fh = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed later
    command = subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)
    fh.write(f"$ {command}\n")
    return fh


def _log_line(fh: IO[str] | None, line: str) -> None:
    if fh is not None:
        with contextlib.suppress(OSError, ValueError):
            fh.write(line + "\n")


def _close_log(fh: IO[str] | None, result: RunResult, started: bool) -> None:
    if fh is None:
        return
    if started:
        how = "cancelled" if result.cancelled else "stalled" if result.stalled else "finished"
        _log_line(fh, f"# {how}: exit code {result.returncode} after {result.seconds:.1f} s")
    with contextlib.suppress(OSError, ValueError):
        fh.close()


# --- stopping ------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes], grace: float, *, why: str) -> None:
    """Ask nicely, then firmly, then force: q on stdin, SIGTERM, SIGKILL (whole group)."""
    log.info("stopping ffmpeg %s (%s)", proc.pid, why)
    # 1. "q": ffmpeg finishes the file properly (a playable partial output, exit code 0).
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.write(b"q\n")
            proc.stdin.flush()
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.close()
    if _wait(proc, grace):
        return
    # 2. SIGTERM: works while ffmpeg is busy and not reading stdin (e.g. opening inputs).
    if _POSIX:
        _signal_group(proc, signal.SIGTERM)
    else:
        with contextlib.suppress(OSError):
            proc.send_signal(signal.CTRL_BREAK_EVENT)  # ffmpeg treats it as SIGTERM
    if _wait(proc, grace):
        return
    # 3. No more asking: blocked in a syscall (a FIFO, a dead network share) ignores both.
    log.warning("ffmpeg %s ignored q and SIGTERM; killing it", proc.pid)
    _kill_group(proc)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        proc.wait(timeout=max(0.0, timeout))
        return True
    except subprocess.TimeoutExpired:
        return False


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # proc.returncode is None => not reaped yet, so its pid (= the group id, thanks to
    # start_new_session) cannot have been reused by another process.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if _POSIX:
        _signal_group(proc, signal.SIGKILL)
    else:
        with contextlib.suppress(OSError):
            proc.kill()


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for the exit status so no zombie is left."""
    try:
        proc.wait()
    except KeyboardInterrupt:  # Ctrl+C in the CLI: still kill and reap, then propagate
        _kill_group(proc)
        proc.wait()
        raise
