"""Benchmark of the History tab over a 100,000-job history.

Run: .venv/bin/python tests/benchmarks/bench_history.py [--jobs N] [--runs 5] [--keep DIR]

Builds the history by bulk insert (one transaction, executemany straight into the migrated
tables), then measures, offscreen, the median of several runs of:

- open: construct HistoryTab, show it and process events until the first paint is done;
- each filter change (status, preset, date, search): re-query and repaint.

Not a pytest module (pytest collects test_*.py only, and tests/benchmarks is --ignore'd).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "app"))

from PySide6.QtCore import QEvent, QEventLoop, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from reelforge.storage.engine import open_database  # noqa: E402
from reelforge.storage.models import search_key  # noqa: E402
from reelforge.storage.repository import Repository  # noqa: E402
from reelforge.ui.history_view import HistoryTab  # noqa: E402

OPEN_BUDGET_MS = 300.0
FILTER_BUDGET_MS = 100.0
PRESETS = ("web", "archive", "social", "audio-only", "proxy", "probe")
ROLES = {
    "web": ("1080p", "720p", "480p"),
    "archive": ("master",),
    "social": ("square", "vertical"),
    "audio-only": ("audio",),
    "proxy": ("proxy",),
}
# Weights roughly like a real history: mostly succeeded, some failures and skips.
STATUSES = (
    ("succeeded", 80),
    ("failed", 6),
    ("skipped", 5),
    ("cancelled", 4),
    ("interrupted", 2),
    ("queued", 2),
    ("running", 1),
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how UTCDateTime stores values on SQLite
WORDS = ("holiday", "wedding", "interview", "drone", "concert", "lecture", "timelapse", "demo")


def build_history(db_path: Path, jobs: int, seed: int = 7) -> float:
    """Fill a fresh, migrated database with `jobs` jobs; returns the seconds it took."""
    t0 = time.perf_counter()
    engine = open_database(db_path)
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    status_names = [s for s, _ in STATUSES]
    status_weights = [w for _, w in STATUSES]
    per_batch = 50
    batches, job_rows, outputs, transitions = [], [], [], []
    for b in range(jobs // per_batch + 1):
        n = min(per_batch, jobs - b * per_batch)
        if n <= 0:
            break
        # Spread over a year, newest batch last (rowid order follows time, as in real use).
        created = now - timedelta(days=365 * (1 - b * per_batch / jobs), seconds=rng.random())
        stamp = created.strftime(TIME_FORMAT)
        batch_id = b + 1
        preset = rng.choice(PRESETS[:-1])
        batches.append((batch_id, stamp, stamp, preset, "/media/out", "gui"))
        for _ in range(n):
            job_id = uuid.uuid4().hex
            word = rng.choice(WORDS)
            source = f"/media/footage/{created:%Y}/{word}/{word}_{rng.randrange(100000):05d}.mp4"
            status = rng.choices(status_names, status_weights)[0]
            roles = ROLES.get(preset, ())
            spec = {
                "id": job_id,
                "kind": "encode",
                "preset": preset,
                "source": source,
                "source_duration": 60.0,
                "outputs": [
                    {"role": r, "path": f"/media/out/{word}-{r}.mp4", "media": "video"}
                    for r in roles
                ],
                "params": {"crf": 23},
                "v": 1,
            }
            label = f"{preset}: {', '.join(roles)}"
            seconds = round(rng.uniform(2, 600), 2) if status == "succeeded" else None
            error = "ffmpeg exited with code 1: Invalid data found" if status == "failed" else None
            warning = "audio track missing, output is silent" if rng.random() < 0.03 else None
            job_rows.append(
                (
                    job_id, batch_id, None, source, search_key(source), "encode", "heavy", preset,
                    label, status,
                    json.dumps(spec, separators=(",", ":")), 1, None, 1, error, warning,
                    f"/media/logs/{job_id}.log", "0.1.0", "n9.0.2", "studio-1",
                    stamp, stamp, stamp, stamp if status == "succeeded" else None, seconds,
                )
            )  # fmt: skip
            transitions.append((job_id, None, "queued", stamp, None))
            if status == "succeeded":
                for r in roles:
                    outputs.append(
                        (job_id, r, f"/media/out/{word}-{r}.mp4", rng.randrange(10**6, 10**9))
                    )
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "INSERT INTO batches (id, created_at, finished_at, presets, out_dir, origin) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            batches,
        )
        cur.executemany(
            "INSERT INTO jobs (id, batch_id, source_id, source_path, search_key, kind, lane, "
            "preset, label, status, spec_json, spec_version, spec_hash, attempt, error, warning, "
            "log_path, app_version, ffmpeg_version, worker, created_at, queued_at, started_at, "
            "finished_at, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?)",
            job_rows,
        )
        cur.executemany(
            "INSERT INTO outputs (job_id, role, path, size) VALUES (?, ?, ?, ?)", outputs
        )
        cur.executemany(
            "INSERT INTO transitions (job_id, from_status, to_status, at, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            transitions,
        )
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()
    engine.dispose()
    return time.perf_counter() - t0


def settle(app: QApplication) -> None:
    """Process events until the queue is empty: layouts, the fetchMore timer, paints."""
    for _ in range(3):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)


class PaintProbe(QObject):
    """Counts paint events of a widget, to time "until the new rows are on screen"."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def until_painted(app: QApplication, probe: PaintProbe, before: int) -> None:
    """Process events until the probed widget painted again (the paint runs inside the
    processEvents call that delivers it, so it is finished when this returns)."""
    deadline = time.perf_counter() + 5
    while probe.paints == before and time.perf_counter() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
    if probe.paints == before:
        raise RuntimeError("the table never repainted")
    app.processEvents()  # whatever the paint queued (the fetchMore timer, ...)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def median_ms(fn: Callable[[], None], runs: int) -> tuple[float, list[float]]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(ms(time.perf_counter() - t0))
    return statistics.median(samples), samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the database in this folder and keep it")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    tmp = None
    if args.keep:
        folder = args.keep
        folder.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="reelforge-bench-")
        folder = Path(tmp.name)
    db_path = folder / "history.db"
    if db_path.exists() and args.keep:
        print(f"reusing {db_path}")
    else:
        took = build_history(db_path, args.jobs)
        print(f"built {args.jobs:,} jobs in {took:.1f} s")

    engine = open_database(db_path)
    repo = Repository(engine)
    total = repo.count_history()
    rows: list[tuple[str, float, float, list[float]]] = []

    # -- open: construct + show + first paint ----------------------------------------------
    tabs: list[HistoryTab] = []

    def open_tab() -> None:
        tab = HistoryTab(repo)
        tab.set_presets(list(PRESETS))
        tab.resize(1200, 700)
        probe = PaintProbe(tab.table.viewport())
        tab.show()
        until_painted(app, probe, 0)
        tabs.append(tab)

    t0 = time.perf_counter()
    open_tab()  # warm-up: imports, icon cache, font database, SQLite page cache
    cold = ms(time.perf_counter() - t0)
    rows.append(("open, first time (cold caches)", cold, OPEN_BUDGET_MS, [cold]))
    tabs.pop().deleteLater()
    settle(app)
    med, samples = median_ms(open_tab, args.runs)
    rows.append(("open (construct + show + paint)", med, OPEN_BUDGET_MS, samples))
    loaded = tabs[-1].model.rowCount()
    for t in tabs[:-1]:
        t.deleteLater()
    tab = tabs[-1]
    settle(app)
    probe = PaintProbe(tab.table.viewport())

    # -- filter changes ---------------------------------------------------------------------
    def combo_change(combo_name: str, values: list[int]) -> Callable[[], None]:
        state = {"i": 0}

        def run() -> None:
            combo = getattr(tab, combo_name)
            before = probe.paints
            combo.setCurrentIndex(values[state["i"] % len(values)])
            state["i"] += 1
            until_painted(app, probe, before)

        return run

    def search_change(texts: list[str]) -> Callable[[], None]:
        state = {"i": 0}

        def run() -> None:
            before = probe.paints
            tab.search.setText(texts[state["i"] % len(texts)])
            state["i"] += 1
            tab.apply_search_now()  # the 150 ms debounce is UI policy, not query cost
            until_painted(app, probe, before)

        return run

    status_idx = [tab.status_combo.findData(s) for s in ("failed", "succeeded", "skipped")]
    preset_idx = [tab.preset_combo.findData(p) for p in ("archive", "social", "web")]
    cases: list[tuple[str, Callable[[], None]]] = [
        ("filter: status", combo_change("status_combo", [*status_idx, 0])),
        ("filter: preset", combo_change("preset_combo", [*preset_idx, 0])),
        ("filter: date (today / 7 / 30 days)", combo_change("date_combo", [2, 3, 1, 0])),
        ("filter: search, common word", search_change(["drone", "holiday", "concert"])),
        ("filter: search, rare (scan)", search_change(["_04242", "_17171", "_31337"])),
        ("filter: search, no match", search_change(["zzzz-nothing", "qqqq-nothing"])),
        ("filter: search, non-ASCII", search_change(["drône", "café"])),
        ("filter: status=failed + search", search_change(["interview", "lecture"])),
    ]
    for name, run in cases:
        if name == "filter: status=failed + search":
            tab.status_combo.setCurrentIndex(tab.status_combo.findData("failed"))
            settle(app)
        run()  # warm-up
        med, samples = median_ms(run, args.runs)
        rows.append((name, med, FILTER_BUDGET_MS, samples))
        tab.search.clear()
        tab.apply_search_now()
        tab.status_combo.setCurrentIndex(0)
        tab.preset_combo.setCurrentIndex(0)
        tab.date_combo.setCurrentIndex(0)
        settle(app)

    def scroll_page() -> None:
        """Scroll to the end of the loaded rows: the view fetches the next page and paints."""
        before = probe.paints
        tab.table.scrollToBottom()
        until_painted(app, probe, before)

    med, samples = median_ms(scroll_page, args.runs)
    rows.append(("scroll to end: fetchMore + paint", med, FILTER_BUDGET_MS, samples))

    # -- where the time goes: the repository reads alone -----------------------------------
    queries = [
        ("repo.history(limit=100)", lambda: repo.history(limit=100)),
        ("repo.count_history()", lambda: repo.count_history()),
        ("repo.history(search=rare, limit=100)", lambda: repo.history(search="_04242", limit=100)),
        ("repo.count_history(search=rare)", lambda: repo.count_history(search="_04242")),
        ("repo.history(search=non-ASCII, 100)", lambda: repo.history(search="drône", limit=100)),
        ("repo.history(limit=200, offset=50000)", lambda: repo.history(limit=200, offset=50_000)),
    ]
    breakdown = []
    for name, query in queries:
        query()
        med, samples = median_ms(query, args.runs)
        breakdown.append((name, med, samples))

    print()
    print(f"history: {total:,} jobs; rows loaded after open: {loaded}; runs: {args.runs}")
    print(f"{'measurement':<36}{'median ms':>10}{'budget':>8}{'ratio':>7}   samples ms")
    print("-" * 96)
    failed = False
    for name, med, budget, samples in rows:
        ratio = med / budget
        failed |= ratio > 1
        flag = "" if ratio <= 1 else "  OVER"
        sample_text = " ".join(f"{s:.0f}" for s in samples)
        print(f"{name:<36}{med:>10.1f}{budget:>8.0f}{ratio:>7.2f}   {sample_text}{flag}")
    print()
    print(f"{'repository read (GUI thread)':<36}{'median ms':>10}   samples ms")
    print("-" * 96)
    for name, med, samples in breakdown:
        print(f"{name:<36}{med:>10.1f}   {' '.join(f'{s:.0f}' for s in samples)}")
    tab.deleteLater()
    settle(app)
    engine.dispose()
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
