"""What `reelforge process` shows while it runs: bars on a terminal, lines otherwise, JSON lines.

JSON lines go to stdout (one per finished job, read from the history so they say exactly what
was recorded); everything meant for a person goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from reelforge.domain.events import JobFinished, JobProgressed, JobStarted
from reelforge.storage.repository import Repository

_MARK = {
    "succeeded": "ok",
    "failed": "FAILED",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "interrupted": "interrupted",
}


def _stderr_is_terminal() -> bool:
    """What rich's Console(stderr=True).is_terminal would say, without importing rich."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _PlainConsole:
    """Lines on stderr, as rich prints them when stderr is not a terminal (no markup, no
    highlighting, no wrapping); rich itself (~0.1 s to import) is only loaded for the bars."""

    def print(self, text: str, **_: Any) -> None:
        print(text, file=sys.stderr, flush=True)


class BatchReporter:
    def __init__(self, repo: Repository, *, json_lines: bool, stream: Any = None):
        self._repo = repo
        self._json = json_lines
        self._out = stream or sys.stdout
        self._console: Any = _PlainConsole()
        self._bars: Any = None
        if _stderr_is_terminal():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._console = Console(stderr=True, soft_wrap=True)
            if self._console.is_terminal:
                self._bars = Progress(
                    TextColumn("{task.description}", markup=False),
                    BarColumn(),
                    TextColumn("{task.percentage:>5.1f}%"),
                    TextColumn("{task.fields[speed]}", markup=False),
                    TimeRemainingColumn(),
                    console=self._console,
                    transient=True,
                )
        self._tasks: dict[str, Any] = {}  # job id -> rich TaskID
        self.counts: dict[str, int] = {}
        self.skipped_non_media = 0
        self._started = time.monotonic()

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    def __enter__(self) -> BatchReporter:
        if self._bars:
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars:
            self._bars.stop()

    def note(self, text: str) -> None:
        self._console.print(f"reelforge: {text}", markup=False, highlight=False)

    def job_started(self, event: JobStarted) -> None:
        if self._bars is None:
            return
        rec = self._repo.get_job(event.job_id)
        if rec is not None and rec.kind.value != "probe":
            desc = f"{Path(rec.source_path).name[:40]}  {rec.label}"
            self._tasks[event.job_id] = self._bars.add_task(desc, total=100, speed="")

    def job_progressed(self, event: JobProgressed) -> None:
        task = self._tasks.get(event.job_id)
        if task is not None and self._bars is not None and event.percent is not None:
            speed = f"{event.speed:.2f}x" if event.speed else ""
            self._bars.update(task, completed=event.percent, speed=speed)

    def job_finished(self, event: JobFinished) -> None:
        task = self._tasks.pop(event.job_id, None)
        if task is not None and self._bars is not None:
            self._bars.remove_task(task)
        rec = self._repo.get_job(event.job_id)
        if rec is None or (not rec.status.terminal and rec.status.value != "interrupted"):
            return
        status = rec.status.value
        self.counts[status] = self.counts.get(status, 0) + 1
        if self._json:
            print(json.dumps(rec.to_json_dict(), ensure_ascii=False), file=self._out, flush=True)
            return
        line = f"{_MARK.get(status, status):<9} {rec.label:<30} {Path(rec.source_path).name}"
        if rec.seconds:
            line += f"  ({rec.seconds:.1f} s)"
        if rec.error:
            line += f": {rec.error}"
        elif rec.warning:
            line += f"  [warning: {rec.warning}]"
        self._console.print(line, markup=False, highlight=False)

    def summary(self) -> None:
        order = ("succeeded", "skipped", "failed", "cancelled", "interrupted")
        parts = [f"{self.counts[s]} {s}" for s in order if self.counts.get(s)]
        text = ", ".join(parts) or "no jobs"
        text += f" in {time.monotonic() - self._started:.1f} s"
        if self.skipped_non_media:
            text += f"; {self.skipped_non_media} non-media file(s) in folders skipped"
        self._console.print(text, markup=False, highlight=False)
