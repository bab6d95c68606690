"""Reading the structured log back: rotated files in order, filters, and a readable line.

Used by `reelforge events`; pure file reading, no Qt, no database.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from reelforge.observability.jsonlog import BACKUPS, LOG_NAME

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def log_files(logs_dir: Path) -> list[Path]:
    """The current log and its rotated predecessors, oldest first."""
    base = logs_dir / LOG_NAME
    older = [base.with_name(f"{LOG_NAME}.{n}") for n in range(BACKUPS, 0, -1)]
    return [p for p in (*older, base) if p.is_file()]


def parse_since(text: str, now: float | None = None) -> float:
    """'90s', '10m', '2h', '3d', '1w' ago, or an ISO date/time (local time when no zone).

    Raises ValueError with a one-line message.
    """
    now = time.time() if now is None else now
    m = _SPAN.match(text)
    if m:
        return now - float(m.group(1)) * _UNIT[m.group(2).lower()]
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read time {text!r}: use e.g. 30m, 2h, 1d, 1w or 2026-11-23T08:00"
        ) from None
    return when.timestamp()  # naive: local time, as a person typing it means


def line_time(line: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(line["ts"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return None


def _parse(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None  # a torn last line (crash mid-write): skip, never stop reading
    return value if isinstance(value, dict) else None


def read_lines(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                for text in fh:
                    if (line := _parse(text)) is not None:
                        yield line
        except OSError:
            continue


@dataclass(frozen=True)
class Filter:
    job: str | None = None  # a job id or its first characters
    since: float | None = None

    def __call__(self, line: dict[str, Any]) -> bool:
        if self.since is not None:
            ts = line_time(line)
            if ts is None or ts < self.since:
                return False
        if self.job:
            if str(line.get("job_id") or "").startswith(self.job):
                return True
            ids = line.get("job_ids") or [j.get("job_id", "") for j in line.get("jobs") or ()]
            return any(str(i).startswith(self.job) for i in ids)
        return True


def _when(line: dict[str, Any]) -> str:
    ts = line_time(line)
    if ts is None:
        return "?" * 19
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _secs(value: Any) -> str:
    return f"{float(value):.1f} s" if isinstance(value, int | float) else ""


def describe(line: dict[str, Any]) -> str:
    """What happened, in a few words, for each kind of line."""
    name = line.get("event")
    if line.get("kind") == "log":
        text = f"{line.get('logger', '')}: {line.get('message', '')}"
        return text + (" (traceback in the log; --json shows it)" if line.get("traceback") else "")
    if name == "JobsQueued":
        jobs = line.get("job_ids") or line.get("jobs") or []
        return f"{len(jobs)} job(s) queued"
    if name == "JobStarted":
        return f"started on {line.get('worker') or '?'}"
    if name == "JobProgressed":
        parts = []
        if line.get("percent") is not None:
            parts.append(f"{float(line['percent']):.1f}%")
        if line.get("speed") is not None:
            parts.append(f"{float(line['speed']):.2f}x")
        if line.get("eta") is not None:
            parts.append(f"eta {_secs(line['eta'])}")
        return " ".join(parts) or "progress"
    if name == "JobLogged":
        return str(line.get("line", ""))
    if name == "JobFinished":
        text = str(line.get("status", ""))
        if line.get("seconds") is not None:
            text += f" in {_secs(line['seconds'])}"
        for key in ("error", "warning"):
            if line.get(key):
                text += f": {line[key]}"
        return text
    if name in ("AlertRaised", "AlertCleared"):
        text = f"[{line.get('rule')}] {line.get('message', '')}"
        return text + (f" -> {line['action']}" if line.get("action") else "")
    if name == "QueueStateChanged":
        state = "paused" if line.get("paused") else "resumed"
        return f"{line.get('lane')} lane {state}" + (
            f": {line['reason']}" if line.get("reason") else ""
        )
    if name == "BatchFinished":
        counts = line.get("counts") or {}
        done = ", ".join(f"{v} {k}" for k, v in counts.items())
        return f"{done} in {_secs(line.get('seconds'))}"
    skip = {"ts", "level", "kind", "event", "job_id", "batch_id", "result", "media_info"}
    return " ".join(f"{k}={v}" for k, v in line.items() if k not in skip)


def human(line: dict[str, Any]) -> str:
    """One readable line: local time, level, what, ids, and what happened."""
    ids = []
    if line.get("job_id"):
        ids.append(f"job {str(line['job_id'])[:8]}")
    if line.get("batch_id") is not None:
        ids.append(f"batch {line['batch_id']}")
    what = line.get("event") or "log"
    level = str(line.get("level", "info")).upper()
    head = f"{_when(line)}  {level:<7} {what:<17} {' '.join(ids):<22} "
    # A JobLogged carries a burst of ffmpeg's lines: the rest go under the first one.
    first, *more = describe(line).split("\n")
    return "\n".join([(head + first).rstrip(), *(" " * len(head) + m for m in more)])


def follow(
    logs_dir: Path,
    emit: Callable[[dict[str, Any]], None],
    *,
    interval: float = 0.5,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print lines appended from now on, across rotations, until `stop()` says so."""
    path = logs_dir / LOG_NAME
    fh: TextIO | None = None
    inode = None
    pending = ""
    if path.is_file():
        fh = path.open(encoding="utf-8", errors="replace")
        fh.seek(0, os.SEEK_END)
        inode = os.fstat(fh.fileno()).st_ino
    try:
        while not stop():
            if fh is None and path.is_file():
                fh = path.open(encoding="utf-8", errors="replace")
                inode = os.fstat(fh.fileno()).st_ino
            if fh is not None:
                chunk = fh.read()
                if chunk:
                    pending += chunk
                    *complete, pending = pending.split("\n")
                    for text in complete:
                        if (line := _parse(text)) is not None:
                            emit(line)
                    continue
                try:
                    rotated = os.stat(path).st_ino != inode
                except FileNotFoundError:
                    rotated = True
                if rotated:  # the old file is finished: continue with the new one
                    fh.close()
                    fh, pending = None, ""
                    continue
            sleep(interval)
    finally:
        if fh is not None:
            fh.close()
