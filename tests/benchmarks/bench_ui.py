"""Benchmark of the desktop UI's budgets: a busy queue, a big drop, start-up and idle memory.

Run: .venv/bin/python tests/benchmarks/bench_ui.py [--seconds 10] [--files 10000] [--runs 3]

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
probe on the empty window before anything is queued (other processes' load alone), Python +
PySide6 + a QApplication with no Reelforge (the floor under the launch time), GC pauses during
the probe, and the cost of one call of the GUI's periodic work with the 10,000 jobs queued.

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


def probe_stalls(
    h: Harness, seconds: float, running: Callable[[], int]
) -> tuple[list[float], dict[str, float]]:
    """A PreciseTimer every 5 ms on the GUI thread for `seconds`: each tick's lateness in ms.
    Every 100 ticks also samples the RSS and running() (cheap: no walk over the model)."""
    from PySide6.QtCore import Qt, QTimer

    stalls: list[float] = []
    state = {"last": 0.0, "ticks": 0, "min_running": 1e9, "rss_peak_mb": 0.0}

    def tick() -> None:
        now = time.perf_counter()
        if state["last"]:
            stalls.append(max(0.0, (now - state["last"]) * 1000 - PROBE_INTERVAL_MS))
        state["last"] = now
        state["ticks"] += 1
        if state["ticks"] % 100 == 0:
            state["rss_peak_mb"] = max(state["rss_peak_mb"], rss_mb())
            state["min_running"] = min(state["min_running"], running())

    gc_started = {"t": 0.0}
    gc_pauses: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started["t"] = time.perf_counter()
        elif gc_started["t"]:
            gc_pauses.append((time.perf_counter() - gc_started["t"]) * 1000)

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(PROBE_INTERVAL_MS)
    timer.timeout.connect(tick)
    gc.callbacks.append(on_gc)
    timer.start()
    h.wait(lambda: False, seconds, interval_ms=250)
    timer.stop()
    gc.callbacks.remove(on_gc)
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


def child_busy(files_dir: Path, files: int, heavy: list[Path], seconds: float) -> dict[str, object]:
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
    baseline, _ = probe_stalls(h, min(seconds, 5.0), lambda: 0)
    h.window.enqueue_paths([str(p) for p in heavy])
    if not h.wait(lambda: encodes_running() == 2, 120):
        raise RuntimeError("the two encodes never ran together")
    executor.pause(Lane.LIGHT, reason="paused by you")  # what is dropped next stays queued
    returned, committed, shown = h.drop(drop_paths(files_dir, files))
    counts = model.counts()
    h.wait(lambda: False, 1.0)  # a second for the drop's aftermath (expanding, first paints)

    running_before = encodes_running()
    stalls, extra = probe_stalls(h, seconds, lambda: len(executor.running_ids()))
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
        "gc_count": extra["gc_count"],
        "gc_max_ms": extra["gc_max_ms"],
        "gc_total_ms": extra["gc_total_ms"],
        "costs": costs,
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
    parser.add_argument("--child", choices=("drop", "busy"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    heavy, files_dir = ensure_media(args.files)
    if args.child:
        if args.child == "drop":
            result = child_drop(files_dir, args.files)
        else:
            result = child_busy(files_dir, args.files, heavy, args.seconds)
        print("RFBENCH " + json.dumps(result), flush=True)
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
            f"{busy['baseline_max_ms']:.1f} ms",
        ),
        ("busy: drop returns (ms)", busy["drop_returned_ms"], None, f"{n} files, 2 encodes on"),
        ("busy: drop rows committed (ms)", busy["drop_committed_ms"], None, "enqueued signal"),
        ("busy: drop rows painted (ms)", busy["drop_shown_ms"], None, ""),
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
