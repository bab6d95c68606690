"""One batch through an already-running Reelforge engine, timed from drop to verified outputs.

This is what a person waits for in the desktop app, where Python, Qt, the database and ffmpeg
are loaded once when the window opens: the drop is handed to the same QueueService the window
uses, and the clock stops at BatchFinished (every job recorded, outputs verified and renamed).
Used by run.py next to the cold `reelforge process` run, never instead of it.

    python tests/benchmarks/warm_engine.py WARMUP_FILE SOURCE OUT -p PRESET

REELFORGE_HOME must point at a fresh data folder. The warm-up file is processed first with the
same preset, untimed (a different file, so nothing of it can be reused). Prints one JSON line:
{"seconds": ..., "cpu": ..., "jobs": [{kind, status, seconds}, ...]}.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("warmup")
    ap.add_argument("source")
    ap.add_argument("out")
    ap.add_argument("-p", "--preset", action="append", required=True)
    args = ap.parse_args(argv)

    from PySide6.QtCore import QCoreApplication

    from reelforge.bootstrap import build
    from reelforge.domain.commands import Enqueue
    from reelforge.domain.events import BatchFinished, JobFinished

    loop = QCoreApplication.instance() or QCoreApplication(["reelforge-bench"])
    app = build()
    finished: list[JobFinished] = []
    app.bus.subscribe(JobFinished, finished.append)
    app.bus.subscribe(BatchFinished, lambda _e: loop.quit())

    def batch(path: str, out: str) -> tuple[float, float, list[JobFinished]]:
        finished.clear()
        c0, t0 = _cpu(), time.perf_counter()
        res = app.queue.enqueue(Enqueue((path,), tuple(args.preset), Path(out), origin="bench"))
        if res.batch_id is None:
            raise SystemExit(f"nothing to do for {path}")
        loop.exec()
        return time.perf_counter() - t0, _cpu() - c0, list(finished)

    try:
        batch(args.warmup, str(Path(args.out) / "warmup"))
        seconds, cpu, events = batch(args.source, args.out)
        jobs: list[dict[str, Any]] = []
        for e in events:
            rec = app.repo.get_job(e.job_id)
            jobs.append({"kind": rec.kind.value if rec else "?", "status": e.status,
                         "seconds": rec.seconds if rec else None, "error": e.error})  # fmt: skip
    finally:
        app.close(interrupt=False)
    print(json.dumps({"seconds": round(seconds, 4), "cpu": round(cpu, 3), "jobs": jobs}))
    return 0 if all(j["status"] == "succeeded" for j in jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
