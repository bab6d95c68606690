"""Benchmark of the desktop UI's budgets: a busy queue, a big drop, start-up and idle memory.

Run: .venv/bin/python tests/benchmarks/bench_ui.py [--seconds 10] [--files 10000] [--runs 3]
     .venv/bin/python tests/benchmarks/bench_ui.py --diagnose [LATE_MS]

Everything runs offscreen (QT_QPA_PLATFORM=offscreen), each measurement in a fresh process
with its own temporary REELFORGE_HOME, so one measurement's memory and caches never flatter
or burden the next. Media is generated once into bench-out/ui/ (git-ignored) and reused.

1. Busy queue: 10,000 queued jobs while 2 real encodes run.
   The app is built like run_gui builds it, with heavy_concurrency = 2 and the web preset.
   Two 60 s 1920x1080 clips are queued first; as soon as both encode jobs run, the light lane
   is paused (as the person's Pause does), so the 10,000 files dropped next stay queued as
   probe jobs while the 2 encodes (x264, three renditions each) keep running. The 10,000 are
   hard links to one small clip (real media, made in a second), dropped on the window through
   MainWindow.dropEvent. Then, with the queue tab on screen, a PreciseTimer ticks every 5 ms on
   the GUI thread for --seconds; each tick's lateness (actual interval - 5 ms) is a stall of
   the GUI thread: p99 < 16 ms, max < 50 ms. Process RSS (VmRSS) at the end < 400 MB.
2. Drop: a QDropEvent with 10,000 file URLs handed to MainWindow.dropEvent on an idle window
   (lanes paused, so nothing starts probing): time to return < 200 ms. Also reported: until
   the rows are committed (the `enqueued` signal) and until the tree has painted them.
   Median of --runs processes.
3. Launch: `python -c` with a script that does what `python -m reelforge` does (the CLI's
   main(["gui"]) -> run_gui), plus an application event filter that notes the main window's
   first paint. Measured from just before the process is spawned to the end of that first
   paint (the frame is complete): median of --runs < 1.5 s. One unmeasured launch first
   creates and migrates the data folder (reported as "first launch").
4. Idle memory: the same launched app, 3 s after its first frame, VmRSS < 250 MB (max of runs).

Also printed, without a budget, to tell the app's share from the machine's: the same stall
probe on the empty window before anything is queued (other processes' load alone), the other
processes' CPU during both probes (/proc/stat minus this process and its ffmpeg children),
Python + PySide6 + a QApplication with no Reelforge (the floor under the launch time), GC
pauses during the probe, the cost of one call of the GUI's periodic work with the 10,000 jobs
queued, and the same probe during the busy queue's drop (from the drop until its rows are
painted, while the rf-enqueue thread walks and commits them; the budgeted probe starts 1 s
after that).

--diagnose [LATE_MS] runs only the busy queue, with a watchdog thread that samples the GUI
thread whenever the probe is more than LATE_MS (12) late: its Python stack, its CPU time and
run-queue wait from /proc (CPU starvation versus work versus sleeping on the GIL), and the
other threads; it prints an aggregate per probe. The watchdog needs the GIL to look, so short
Python callbacks between C++ calls are under-sampled; its timings are perturbed, not for the
README.

Prints a table (value, budget, ratio) and exits 1 if any budget is exceeded.
Not a pytest module (pytest collects test_*.py only, and tests/benchmarks is --ignore'd).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "app"))
CACHE = ROOT / "bench-out" / "ui"

STALL_P99_MS = 16.0
STALL_MAX_MS = 50.0
BUSY_RSS_MB = 400.0
DROP_RETURN_MS = 200.0
VISIBLE_S = 1.5
IDLE_RSS_MB = 250.0
PROBE_INTERVAL_MS = 5
HEAVY_SECONDS = 60
IDLE_AFTER_S = 3.0


# -- helpers shared by the parent and the children ------------------------------------------------


def rss_mb() -> float:
    """This process's resident set (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ensure_media(files: int) -> tuple[list[Path], Path]:
    """The two heavy clips and a folder of `files` hard links to one small clip (cached)."""
    media = CACHE / "media"
    media.mkdir(parents=True, exist_ok=True)
    ff = ffmpeg_exe()
    heavy = []
    for i, tone in ((1, 440), (2, 660)):
        path = media / f"heavy-1080p25-{HEAVY_SECONDS}s-{i}.mp4"
        if not path.exists():
            print(f"making {path.relative_to(ROOT)} (once)…", flush=True)
            tmp = path.with_suffix(".part.mp4")
            argv = [
                ff, "-hide_banner", "-v", "error", "-nostdin", "-y",
                "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=25:d={HEAVY_SECONDS}",
                "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={HEAVY_SECONDS}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
                "-c:a", "aac", "-b:a", "128k", str(tmp),
            ]  # fmt: skip
            subprocess.run(
                argv,
                check=True,
                timeout=600,
            )
            tmp.rename(path)
        heavy.append(path)
    small = media / "small-320x240-1s.mp4"
    if not small.exists():
        argv = [
            ff, "-hide_banner", "-v", "error", "-nostdin", "-y", "-f", "lavfi",
            "-i", "testsrc2=s=320x240:r=25:d=1", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", str(small),
        ]  # fmt: skip
        subprocess.run(
            argv,
            check=True,
            timeout=120,
        )
    folder = media / f"drop-{files}"
    folder.mkdir(exist_ok=True)
    have = {p.name for p in folder.iterdir()}
    for i in range(files):
        name = f"clip-{i:05d}.mp4"
        if name not in have:
            try:
                os.link(small, folder / name)
            except OSError:  # a file system without hard links: a copy of 40 KB will do
                (folder / name).write_bytes(small.read_bytes())
    return heavy, folder


def drop_paths(folder: Path, files: int) -> list[str]:
    return [str(folder / f"clip-{i:05d}.mp4") for i in range(files)]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median_call_ms(fn: Callable[[], object], runs: int = 15) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds of this process and every
    live descendant: the ffmpeg children). Their difference between two calls is what the
    other processes on the machine took meanwhile."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4)) / tick
    parent_of: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        parent_of[int(entry.name)] = int(rest[1])
        used[int(entry.name)] = (int(rest[11]) + int(rest[12])) / tick
    me = os.getpid()
    tree = 0.0
    for pid in used:
        p = pid
        while p and p != me:
            p = parent_of.get(p, 0)
        if p == me:
            tree += used[pid]
    return busy, tree


# -- the in-process children ----------------------------------------------------------------------


class Harness:
    """The app as run_gui builds it (DesktopApp on bootstrap.build()), on a temporary home."""

    def __init__(self, settings: dict[str, object]) -> None:
        from PySide6.QtWidgets import QApplication

        from reelforge.__about__ import __version__
        from reelforge.bootstrap import build
        from reelforge.config import Paths, Settings, save_settings
        from reelforge.ui.app import DesktopApp
        from reelforge.ui.icons import app_icon

        QApplication.setApplicationName("Reelforge")
        QApplication.setApplicationVersion(__version__)
        self.qt = QApplication.instance() or QApplication(sys.argv[:1])
        self.qt.setWindowIcon(app_icon())
        self.qt.setQuitOnLastWindowClosed(False)
        paths = Paths.from_env().ensure()
        save_settings(paths.settings, Settings(**settings))  # type: ignore[arg-type]
        self.core = build()
        self.app = DesktopApp(self.qt, self.core)
        self.window = self.app.window
        self.app.start([])
        self.window.resize(1280, 800)
        self.wait(lambda: self.window.isVisible(), 5)
        self.enqueued: list[tuple[float, int]] = []
        self.window.enqueued.connect(lambda b: self.enqueued.append((time.perf_counter(), b)))

    def wait(self, cond: Callable[[], bool], timeout: float, interval_ms: int = 20) -> bool:
        from reelforge.ui.screenshots import wait_until

        return wait_until(cond, timeout, interval_ms)

    def drop(self, paths: list[str]) -> tuple[float, float, float]:
        """Drop `paths` on the window: ms until dropEvent returns, until `enqueued`, until the
        queue's tree has painted the new rows."""
        from PySide6.QtCore import QEvent, QMimeData, QObject, QPointF, Qt, QUrl
        from PySide6.QtGui import QDropEvent

        class Paints(QObject):
            count = 0

            def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
                if event.type() == QEvent.Type.Paint:
                    Paints.count += 1
                return False

        viewport = self.window.queue_view.tree.viewport()
        paints = Paints()
        viewport.installEventFilter(paints)
        mime = QMimeData()  # the drag source's work, not timed
        mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
        event = QDropEvent(
            QPointF(400, 300),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        before = len(self.enqueued)
        t0 = time.perf_counter()
        self.window.dropEvent(event)
        returned = time.perf_counter()
        if not self.wait(lambda: len(self.enqueued) > before, 120, interval_ms=1):
            raise RuntimeError("the drop was never committed")
        committed = self.enqueued[-1][0]
        painted_before = Paints.count
        if not self.wait(lambda: Paints.count > painted_before, 10, interval_ms=1):
            raise RuntimeError("the queue never painted the dropped rows")
        shown = time.perf_counter()
        viewport.removeEventFilter(paints)
        rows = self.window.model.rowCount()
        if rows < len(paths):
            raise RuntimeError(f"only {rows} rows after dropping {len(paths)} files")
        return (returned - t0) * 1000, (committed - t0) * 1000, (shown - t0) * 1000

    def close(self) -> None:
        self.app._tray_timer.stop()
        self.app.tray.hide()
        self.core.close(interrupt=True)


# -- diagnosis: what runs while the GUI thread is late ------------------------------------------


def _task_stat(tid: int) -> tuple[str, int, int]:
    """A thread's scheduler state (R running or runnable, S sleeping: a GIL wait is a futex
    sleep), and its CPU and run-queue wait in ns (/proc/self/task/<tid>/{stat,schedstat})."""
    try:
        stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        state = stat[stat.rindex(")") + 2]
        run_ns, wait_ns, _ = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
        return state, int(run_ns), int(wait_ns)
    except (OSError, ValueError):
        return "?", 0, 0


def _frame_label(frame: object) -> str:
    code = frame.f_code  # type: ignore[attr-defined]
    name = Path(code.co_filename)
    short = name.name if "reelforge" not in name.parts else "/".join(name.parts[-2:])
    return f"{short}:{code.co_name}:{frame.f_lineno}"  # type: ignore[attr-defined]


def _stack(frame: object | None, depth: int = 14) -> tuple[str, ...]:
    """Innermost first, `depth` frames at most."""
    out: list[str] = []
    while frame is not None and len(out) < depth:
        out.append(_frame_label(frame))
        frame = frame.f_back  # type: ignore[attr-defined]
    return tuple(out)


class StallWatchdog:
    """A thread that looks at the GUI thread whenever its 5 ms probe is late by more than
    `late_ms`, every ~2 ms while it stays late: the main thread's Python stack, its scheduler
    state and run-queue wait (CPU starvation), and what every other thread is doing (its
    innermost frame and state: one in R holding the GIL is why a sleeping main thread waits).

    Sampling needs the GIL, so a main thread running Python is seen at its next switch
    (sys.getswitchinterval(), 5 ms): samples are late, never wrong about who ran. This mode
    perturbs the timing; its numbers are for attribution, not for the README."""

    def __init__(self, state: dict[str, float], late_ms: float = 12.0) -> None:
        import threading

        self._state = state
        self._late_s = (PROBE_INTERVAL_MS + late_ms) / 1000
        self._main = threading.main_thread()
        self._stop = threading.Event()
        self.samples: dict[float, list[dict[str, object]]] = {}  # episode (tick) -> samples
        # episode -> (ms the main thread ran on a CPU, ms it waited for one) over the episode;
        # the rest of the stall it was asleep: on the GIL, a lock, or the event loop's poll
        self.totals: dict[float, tuple[float, float]] = {}
        self._thread = threading.Thread(target=self._run, name="stall-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import threading

        main_tid = self._main.native_id or 0
        names: dict[int | None, tuple[str, int]] = {}
        base: tuple[float, int, int] = (0.0, 0, 0)  # (tick, CPU ns, run-queue wait ns)
        sampled = 0.0
        while not self._stop.wait(0.002):
            last = self._state["last"]
            now = time.perf_counter()
            if sampled and sampled != last:  # the late episode just ended: its totals
                _, run_ns, wait_ns = _task_stat(main_tid)
                self.totals[sampled] = ((run_ns - base[1]) / 1e6, (wait_ns - base[2]) / 1e6)
                sampled = 0.0
            if not last or now - last < self._late_s:
                if base[0] != last:  # once per tick, not per look: the watchdog costs CPU too
                    _, run_ns, wait_ns = _task_stat(main_tid)
                    base = (last, run_ns, wait_ns)
                continue
            if base[0] != last:  # late before the first look at this tick: no baseline
                continue
            state, _, _ = _task_stat(main_tid)
            sampled = last
            frames = sys._current_frames()
            for t in threading.enumerate():
                names[t.ident] = (t.name, t.native_id or 0)
            others = []
            for ident, frame in frames.items():
                if ident in (self._main.ident, threading.get_ident()):
                    continue
                name, tid = names.get(ident, ("?", 0))
                ostate = _task_stat(tid)[0] if tid else "?"
                others.append((name, ostate, _stack(frame, 3)))
            self.samples.setdefault(last, []).append(
                {
                    "at_ms": (now - last) * 1000,
                    "state": state,
                    "main": _stack(frames.get(self._main.ident)),
                    "others": others,
                }
            )


def diagnosis_report(
    watchdog: StallWatchdog,
    ticks: list[float],
    stalls: list[float],
    gc_spans: list[tuple[float, float]],
    over_ms: float = 16.0,
) -> str:
    """Aggregate the samples of the late ticks: which Python code the GUI thread was in (or
    blocked under), and which other threads were running meanwhile."""
    from collections import Counter

    lines: list[str] = []
    late = [(s, t) for t, s in zip(ticks, stalls, strict=True) if s > over_ms]
    # the episode of a late tick is the tick before it (the watchdog keys samples on it)
    episodes = {t: s for s, t in late}
    lines.append(f"{len(late)} ticks over {over_ms:.0f} ms; samples in those episodes:")
    by_inner: Counter[str] = Counter()
    by_app: Counter[str] = Counter()
    by_state: Counter[str] = Counter()
    running_others: Counter[str] = Counter()
    whole: Counter[tuple[str, ...]] = Counter()
    detail = []
    total_cpu = total_rq = total_late = 0.0
    for t, stall in sorted(episodes.items(), key=lambda kv: -kv[1]):
        samples = watchdog.samples.get(t, [])
        on_cpu, rq = watchdog.totals.get(t, (float("nan"), float("nan")))
        total_cpu += 0.0 if on_cpu != on_cpu else on_cpu
        total_rq += 0.0 if rq != rq else rq
        total_late += stall + PROBE_INTERVAL_MS
        kinds: Counter[str] = Counter()
        for s in samples:
            main: tuple[str, ...] = s["main"]  # type: ignore[assignment]
            by_inner[main[0] if main else "?"] += 1
            app = next((f for f in main if "reelforge/" in f or "bench_ui" in f), "?")
            by_app[app] += 1
            by_state[str(s["state"])] += 1
            whole[main[:8]] += 1
            kinds[f"{s['state']} {main[0] if main else '?'}"] += 1
            for name, ostate, stack in s["others"]:  # type: ignore[attr-defined]
                if ostate == "R":
                    running_others[f"{name} in {stack[0] if stack else '?'}"] += 1
        detail.append(
            f"  {stall:6.1f} ms late, {len(samples):2d} samples, main on CPU {on_cpu:5.1f} ms, "
            f"waiting for a CPU {rq:5.1f} ms: "
            + "; ".join(f"{k} ×{n}" for k, n in kinds.most_common(3))
        )

    def top(title: str, counter: Counter[str], n: int = 12) -> None:
        lines.append(title)
        lines.extend(f"  {c:5d}  {k}" for k, c in counter.most_common(n))

    lines.append(
        f"over those ticks' {total_late:.0f} ms the main thread ran {total_cpu:.0f} ms on a "
        f"CPU, waited {total_rq:.0f} ms for one, and slept the rest (GIL, locks, poll)"
    )
    in_gc = 0.0
    hit = 0
    for t, stall in episodes.items():
        end = t + (stall + PROBE_INTERVAL_MS) / 1000
        overlap = sum(max(0.0, min(end, b) - max(t, a)) for a, b in gc_spans)
        in_gc += overlap * 1000
        hit += overlap > 0
    lines.append(
        f"cyclic GC: {len(gc_spans)} collections during the probe, "
        f"{sum(b - a for a, b in gc_spans) * 1000:.1f} ms in all; {hit} of the late ticks "
        f"overlap one, {in_gc:.1f} ms of them"
    )
    top("main thread state (R = running or waiting for a CPU, S = asleep, e.g. on the GIL):",
        by_state)  # fmt: skip
    top("main thread, innermost frame:", by_inner)
    top("main thread, innermost Reelforge (or bench) frame:", by_app)
    top("other threads in state R at the same samples:", running_others)
    lines.append("main thread, most common stacks (innermost first):")
    for stack, c in whole.most_common(6):
        lines.append(f"  {c:5d}  " + "\n         <- ".join(stack))
    lines.append("episodes, longest first:")
    lines.extend(detail[:30])
    return "\n".join(lines)


def probe_stalls(
    h: Harness,
    seconds: float,
    running: Callable[[], int],
    *,
    diagnose: float | None = None,
    during: Callable[[], object] | None = None,
) -> tuple[list[float], dict[str, Any]]:
    """A PreciseTimer every 5 ms on the GUI thread for `seconds`: each tick's lateness in ms.
    Every 100 ticks also samples the RSS and running() (cheap: no walk over the model).
    `diagnose` (ms): a StallWatchdog samples the ticks later than that; its report is in
    state["report"]. `during`: probe while it runs (it must spin the event loop) instead of
    for `seconds`; what it returns is in state["during"]."""
    from PySide6.QtCore import Qt, QTimer

    stalls: list[float] = []
    ticks: list[float] = []  # the tick each stall is measured from
    state: dict[str, Any] = {"last": 0.0, "ticks": 0, "min_running": 1e9, "rss_peak_mb": 0.0}

    def tick() -> None:
        now = time.perf_counter()
        if state["last"]:
            stalls.append(max(0.0, (now - state["last"]) * 1000 - PROBE_INTERVAL_MS))
            ticks.append(state["last"])
        state["last"] = now
        state["ticks"] += 1
        if state["ticks"] % 100 == 0:
            state["rss_peak_mb"] = max(state["rss_peak_mb"], rss_mb())
            state["min_running"] = min(state["min_running"], running())

    gc_started = {"t": 0.0}
    gc_pauses: list[float] = []
    gc_spans: list[tuple[float, float]] = []  # (start, end): a collection holds the GIL, so
    # the watchdog cannot see it; the late ticks are matched against these instead

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started["t"] = time.perf_counter()
        elif gc_started["t"]:
            end = time.perf_counter()
            gc_pauses.append((end - gc_started["t"]) * 1000)
            gc_spans.append((gc_started["t"], end))

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(PROBE_INTERVAL_MS)
    timer.timeout.connect(tick)
    gc.callbacks.append(on_gc)
    watchdog = StallWatchdog(state, diagnose) if diagnose else None
    if watchdog is not None:
        watchdog.start()
    timer.start()
    if during is None:
        h.wait(lambda: False, seconds, interval_ms=250)
    else:
        state["during"] = during()
    timer.stop()
    gc.callbacks.remove(on_gc)
    if watchdog is not None:
        watchdog.stop()
        state["report"] = diagnosis_report(watchdog, ticks, stalls, gc_spans, diagnose or 16.0)
    state["gc_count"] = len(gc_pauses)
    state["gc_max_ms"] = max(gc_pauses, default=0.0)
    state["gc_total_ms"] = sum(gc_pauses)
    return stalls, state


def child_drop(files_dir: Path, files: int) -> dict[str, object]:
    h = Harness({"output_dir": os.environ["RF_BENCH_OUT"], "presets": ("web",)})
    h.core.executor.pause(reason="paused by you")  # only the UI path: nothing starts probing
    h.wait(lambda: False, 0.5)  # let the fresh window settle (first paints, timers)
    returned, committed, shown = h.drop(drop_paths(files_dir, files))
    out = {"returned_ms": returned, "committed_ms": committed, "shown_ms": shown}
    h.close()
    return out


def child_busy(
    files_dir: Path, files: int, heavy: list[Path], seconds: float, diagnose: float | None = None
) -> dict[str, object]:
    from reelforge.domain.jobs import Lane

    h = Harness(
        {
            "output_dir": os.environ["RF_BENCH_OUT"],
            "presets": ("web",),
            "heavy_concurrency": 2,
            "light_concurrency": 2,
        }
    )
    model, executor = h.window.model, h.core.executor

    def encodes_running() -> int:
        ids = model.job_ids_with_status("running")
        return sum(1 for j in ids if (job := model.job(j)) and job.kind == "encode")

    # The same probe on the empty window first: what this machine's load alone costs.
    base_cpu = cpu_seconds()
    base_t0 = time.monotonic()
    baseline, _ = probe_stalls(h, min(seconds, 5.0), lambda: 0)
    base_cpu_end, base_wall = cpu_seconds(), time.monotonic() - base_t0
    h.window.enqueue_paths([str(p) for p in heavy])
    if not h.wait(lambda: encodes_running() == 2, 120):
        raise RuntimeError("the two encodes never ran together")
    executor.pause(Lane.LIGHT, reason="paused by you")  # what is dropped next stays queued
    # The drop itself under the same probe: walking, stat-ing and committing 10,000 rows on
    # the rf-enqueue thread competes with the GUI thread for the GIL (no budget; reported).
    paths = drop_paths(files_dir, files)
    drop_stalls, drop_extra = probe_stalls(
        h, 0, lambda: 2, diagnose=diagnose, during=lambda: h.drop(paths)
    )
    returned, committed, shown = drop_extra["during"]
    counts = model.counts()
    h.wait(lambda: False, 1.0)  # a second for the drop's aftermath (expanding, first paints)

    running_before = encodes_running()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    stalls, extra = probe_stalls(h, seconds, lambda: len(executor.running_ids()), diagnose=diagnose)
    cpu1, wall = cpu_seconds(), time.monotonic() - t0
    running_after = encodes_running()
    rss = rss_mb()
    # Where GUI-thread time goes with this queue: the periodic work, one call at a time.
    periodic = {
        "MainWindow.update_status": h.window.update_status,  # status + title, every 250 ms
        "DesktopApp._update_tray": h.app._update_tray,  # tray tooltip and menu, every 500 ms
        "QueueModel.counts": model.counts,
        "QueueModel.overall_percent": model.overall_percent,
    }
    costs = {name: median_call_ms(fn) for name, fn in periodic.items()}
    out = {
        "queued": counts["queued"],
        "running_before": running_before,
        "running_after": running_after,
        "min_running": extra["min_running"],
        "ticks": len(stalls),
        "baseline_p99_ms": percentile(baseline, 99),
        "baseline_max_ms": max(baseline) if baseline else float("nan"),
        "stall_p50_ms": percentile(stalls, 50),
        "stall_p99_ms": percentile(stalls, 99),
        "stall_max_ms": max(stalls) if stalls else float("nan"),
        "stalls_over_16ms": sum(1 for s in stalls if s > 16),
        "rss_mb": rss,
        "rss_peak_mb": max(rss, extra["rss_peak_mb"]),
        "drop_returned_ms": returned,
        "drop_committed_ms": committed,
        "drop_shown_ms": shown,
        "drop_stall_p99_ms": percentile(drop_stalls, 99),
        "drop_stall_max_ms": max(drop_stalls) if drop_stalls else float("nan"),
        "drop_stalls_over_16ms": sum(1 for s in drop_stalls if s > 16),
        "drop_ticks": len(drop_stalls),
        "gc_count": extra["gc_count"],
        "gc_max_ms": extra["gc_max_ms"],
        "gc_total_ms": extra["gc_total_ms"],
        "costs": costs,
        # Other processes' CPU in cores (average): what the machine took from the probe.
        "others_cores": ((cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / wall,
        "own_cores": (cpu1[1] - cpu0[1]) / wall,
        "baseline_others_cores": ((base_cpu_end[0] - base_cpu[0]) - (base_cpu_end[1] - base_cpu[1]))
        / base_wall,
        "report": extra.get("report", ""),
        "report_drop": drop_extra.get("report", ""),
    }
    h.close()
    return out


# The launch child: what `python -m reelforge` runs (cli.main -> run_gui), plus a filter that
# notes the first paint of the main window; 3 s later it reads its RSS and quits via SIGTERM,
# which run_gui handles like the Quit action.
LAUNCH_SCRIPT = r"""
import json, os, signal, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0

qt = QApplication(sys.argv[:1])  # run_gui's own line; it reuses this instance
seen = {}

def report():
    seen["rss_mb"] = rss()
    print("RFBENCH " + json.dumps(seen), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)  # run_gui quits on it like the Quit action does
    QTimer.singleShot(3000, stuck)

def stuck():  # the event loop outlived that quit (a visible window refused to close)
    print("RFBENCH-STUCK", flush=True)
    qt.exit(0)

def frame_done():
    seen["frame"] = time.time()
    QTimer.singleShot(int(float(os.environ["RF_IDLE_S"]) * 1000), report)

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow):
            seen["paint"] = time.time()
            qt.removeEventFilter(self)
            QTimer.singleShot(0, frame_done)  # runs once this paint has been flushed
        return False

first_paint = FirstPaint()
qt.installEventFilter(first_paint)
from reelforge.cli import main
sys.exit(main(["gui"]))
"""


def launch_once(home: Path, idle: float) -> dict[str, float]:
    env = {
        **os.environ,
        "REELFORGE_HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "RF_IDLE_S": str(idle),
        "PYTHONPATH": str(ROOT / "app"),
    }
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCH_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RFBENCH {")]
    if not lines:
        raise RuntimeError(f"launch failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    seen = json.loads(lines[-1].removeprefix("RFBENCH "))
    return {
        "visible_s": seen["frame"] - t0,
        "paint_s": seen["paint"] - t0,
        "rss_mb": seen["rss_mb"],
        "exit": proc.returncode,
        "quit_on_sigterm": "RFBENCH-STUCK" not in proc.stdout,
    }


def bare_import_s() -> float:
    """Process start to PySide6.QtWidgets imported and a QApplication made: no Reelforge."""
    code = (
        "import time, sys; from PySide6.QtWidgets import QApplication; "
        "app = QApplication(sys.argv[:1]); print(time.time())"
    )
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(proc.stdout.split()[-1]) - t0


def run_child(kind: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp))
    env = {
        **os.environ,
        "REELFORGE_HOME": str(home / "home"),
        "RF_BENCH_OUT": str(home / "out"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    argv = [sys.executable, __file__, "--child", kind, "--files", str(args.files)]
    argv += ["--seconds", str(args.seconds)]
    argv += ["--diagnose", str(args.diagnose)] if args.diagnose else []
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RFBENCH ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{kind} child failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return json.loads(lines[-1].removeprefix("RFBENCH "))


def load_1min() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the stall probe")
    parser.add_argument("--files", type=int, default=10_000, help="files dropped / queued")
    parser.add_argument("--runs", type=int, default=3, help="drop and launch repetitions")
    parser.add_argument(
        "--diagnose",
        type=float,
        nargs="?",
        const=12.0,
        metavar="LATE_MS",
        help="only the busy queue, with a watchdog that samples the GUI thread's stack while "
        "the probe is more than LATE_MS (12) late; prints where those stalls come from "
        "(timings perturbed)",
    )
    parser.add_argument("--child", choices=("drop", "busy"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    heavy, files_dir = ensure_media(args.files)
    if args.child:
        if args.child == "drop":
            result = child_drop(files_dir, args.files)
        else:
            result = child_busy(files_dir, args.files, heavy, args.seconds, args.diagnose)
        print("RFBENCH " + json.dumps(result), flush=True)
        return 0
    if args.diagnose:
        print(f"1-min load before: {load_1min()}; busy queue under the watchdog…", flush=True)
        with tempfile.TemporaryDirectory(prefix="reelforge-bench-ui-") as tmp_name:
            busy = run_child("busy", args, Path(tmp_name))
        print("== during the drop of the 10,000 files (from the drop to its rows painted):")
        print(busy["report_drop"])
        print(
            f"drop: stall p99 {busy['drop_stall_p99_ms']:.1f} ms, "
            f"max {busy['drop_stall_max_ms']:.1f} ms\n"
        )
        print("== the busy queue (the budgeted probe):")
        print(busy["report"])
        print(
            f"stall p99 {busy['stall_p99_ms']:.1f} ms, max {busy['stall_max_ms']:.1f} ms, "
            f"{busy['stalls_over_16ms']:.0f} of {busy['ticks']:.0f} ticks over 16 ms "
            f"(watchdog on); others' CPU {busy['others_cores']:.2f} cores, "
            f"this app's tree {busy['own_cores']:.2f}; 1-min load after: {load_1min()}"
        )
        return 0

    print(f"1-min load before: {load_1min()} on {os.cpu_count()} CPUs", flush=True)
    rows: list[tuple[str, float, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="reelforge-bench-ui-") as tmp_name:
        tmp = Path(tmp_name)

        print(f"busy queue: 2 encodes + {args.files:,} queued, stall probe…", flush=True)
        busy = run_child("busy", args, tmp)

        print(f"drop of {args.files:,} files on an idle window × {args.runs}…", flush=True)
        drops = [run_child("drop", args, tmp) for _ in range(args.runs)]

        print(f"launch × {args.runs} (+1 first launch)…", flush=True)
        home = tmp / "launch-home"
        first = launch_once(home, 0.0)
        launches = [launch_once(home, IDLE_AFTER_S) for _ in range(args.runs)]
        bare = [bare_import_s() for _ in range(args.runs)]

    def samples(values: list[float], fmt: str = "{:.0f}") -> str:
        return " ".join(fmt.format(v) for v in values)

    n = f"{args.files:,}"
    queued = f"{busy['queued']:,} queued, encodes running {busy['running_before']:.0f}"
    queued += f"→{busy['running_after']:.0f} (min {busy['min_running']:.0f})"
    rows += [
        ("busy: GUI stall p99 (ms)", busy["stall_p99_ms"], STALL_P99_MS, queued),
        (
            "busy: GUI stall max (ms)",
            busy["stall_max_ms"],
            STALL_MAX_MS,
            f"{busy['ticks']:.0f} of {args.seconds * 1000 / PROBE_INTERVAL_MS:.0f} ticks, "
            f"p50 {busy['stall_p50_ms']:.1f} ms, "
            f"{busy['stalls_over_16ms']:.0f} over 16 ms",
        ),
        ("busy: RSS (MB)", busy["rss_mb"], BUSY_RSS_MB, f"peak {busy['rss_peak_mb']:.0f} MB"),
        (
            "idle window: stall p99 (ms)",
            busy["baseline_p99_ms"],
            None,
            f"same probe before queuing anything: the machine's share; max "
            f"{busy['baseline_max_ms']:.1f} ms; others' CPU "
            f"{busy['baseline_others_cores']:.2f} cores",
        ),
        (
            "busy: others' CPU (cores)",
            busy["others_cores"],
            None,
            f"other processes during the probe; this app and its ffmpeg "
            f"{busy['own_cores']:.2f} cores",
        ),
        ("busy: drop returns (ms)", busy["drop_returned_ms"], None, f"{n} files, 2 encodes on"),
        ("busy: drop rows committed (ms)", busy["drop_committed_ms"], None, "enqueued signal"),
        ("busy: drop rows painted (ms)", busy["drop_shown_ms"], None, ""),
        (
            "busy: stall p99 during that drop (ms)",
            busy["drop_stall_p99_ms"],
            None,
            f"max {busy['drop_stall_max_ms']:.1f} ms, {busy['drop_stalls_over_16ms']:.0f} of "
            f"{busy['drop_ticks']:.0f} ticks over 16 ms, from the drop to its rows painted",
        ),
    ]
    ret = [d["returned_ms"] for d in drops]
    com = [d["committed_ms"] for d in drops]
    shown = [d["shown_ms"] for d in drops]
    rows += [
        ("drop: control back (ms)", statistics.median(ret), DROP_RETURN_MS, samples(ret)),
        ("drop: rows committed (ms)", statistics.median(com), None, samples(com)),
        ("drop: rows painted (ms)", statistics.median(shown), None, samples(shown)),
    ]
    vis = [x["visible_s"] for x in launches]
    rss = [x["rss_mb"] for x in launches]
    rows += [
        (
            "launch: window visible (s)",
            statistics.median(vis),
            VISIBLE_S,
            samples(vis, "{:.2f}") + f"; first launch {first['visible_s']:.2f}",
        ),
        ("idle: RSS 3 s after (MB)", max(rss), IDLE_RSS_MB, samples(rss)),
        (
            "  python + import QtWidgets (s)",
            statistics.median(bare),
            None,
            "the floor under the launch time on this machine now: " + samples(bare, "{:.2f}"),
        ),
        (
            "  GC pauses during probe (ms)",
            busy["gc_max_ms"],
            None,
            f"longest of {busy['gc_count']:.0f} collections, {busy['gc_total_ms']:.0f} ms in all",
        ),
    ]
    costs: dict[str, float] = busy["costs"]  # type: ignore[assignment]
    for name, ms in costs.items():
        rows.append((f"  {name}() (ms)", ms, None, f"one call, {n} queued, GUI thread"))

    print()
    print(f"{'measurement':<36}{'value':>9}{'budget':>8}{'ratio':>7}   notes")
    print("-" * 104)
    failed = False
    for name, value, budget, notes in rows:
        if budget is None:
            print(f"{name:<36}{value:>9.1f}{'':>8}{'':>7}   {notes}")
            continue
        ratio = value / budget
        over = ratio > 1
        failed |= over
        flag = "  OVER" if over else ""
        print(f"{name:<36}{value:>9.2f}{budget:>8.1f}{ratio:>7.2f}   {notes}{flag}")
    print()
    stuck = sum(1 for x in [first, *launches] if not x["quit_on_sigterm"])
    if stuck:
        print(
            f"note: {stuck} of {len(launches) + 1} launched apps kept running after SIGTERM "
            "(DesktopApp.quit -> QApplication.quit is refused while the window is visible); "
            "ended with QApplication.exit"
        )
    print(f"1-min load after: {load_1min()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
