"""Schedules as pure, clock-injected functions: heavy-lane hours and periodic tasks.

The desktop app and `reelforge watch` drive them from a QTimer (services/scheduler.py); a Celery
beat in the cluster can call the same functions: `beat_schedule()` gives its entries and
`heavy_allowed()` the decision a worker's heavy queue consumer asks before taking a job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Window:
    """Allowed from `start` up to (not including) `end`, local time; may wrap midnight."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start == self.end:
            return True  # "00:00-00:00": all day
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # wraps midnight, e.g. 22:00-07:00

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_hours(text: str) -> tuple[Window, ...]:
    """'22:00-07:00' or several, comma-separated; '' means any time (no windows).

    Raises ValueError with a one-line message naming the bad part.
    """
    windows = []
    for part in (p for p in text.split(",") if p.strip()):
        m = _WINDOW.match(part)
        if not m:
            raise ValueError(f"heavy_hours: cannot read {part.strip()!r}; write e.g. 22:00-07:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"heavy_hours: {part.strip()!r} is not a time of day")
        windows.append(Window(time(h1, m1), time(0, 0) if h2 == 24 else time(h2, m2)))
    return tuple(windows)


def heavy_allowed(windows: tuple[Window, ...], now: datetime) -> bool:
    """May a heavy job start at `now` (local time)? No windows: always."""
    return not windows or any(w.contains(now.time()) for w in windows)


def next_change(windows: tuple[Window, ...], now: datetime) -> datetime | None:
    """When heavy_allowed() next flips, to the minute; None when it never does."""
    if not windows:
        return None
    state = heavy_allowed(windows, now)
    t = now.replace(second=0, microsecond=0)
    for _ in range(7 * 24 * 60):  # a week of minutes covers any set of daily windows
        t += timedelta(minutes=1)
        if heavy_allowed(windows, t) != state:
            return t
    return None


def describe(windows: tuple[Window, ...]) -> str:
    return ", ".join(str(w) for w in windows) or "any time"


# -- periodic tasks --------------------------------------------------------------------------

HOUSEKEEPING = "reelforge.housekeeping"
PERIODS: dict[str, float] = {HOUSEKEEPING: 6 * 3600.0}  # task -> seconds between runs


def due(periods: Mapping[str, float], last_run: Mapping[str, float], now: float) -> list[str]:
    """Tasks whose period has passed since their last run (never run: due now)."""
    return [
        name for name, every in periods.items() if now - last_run.get(name, float("-inf")) >= every
    ]


def beat_schedule(periods: Mapping[str, float] = PERIODS) -> dict[str, dict[str, object]]:
    """The same periodic tasks as Celery beat entries (task name -> seconds)."""
    return {name: {"task": name, "schedule": float(every)} for name, every in periods.items()}
