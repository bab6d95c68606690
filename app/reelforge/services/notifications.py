"""What to tell a person when a batch ends: one notice per batch, worded here, shown elsewhere.

Pure policy, no Qt: summarize() turns a BatchFinished into a Notice, and BatchNotifier hands
exactly one Notice per finished batch to whatever shows it (the desktop notifier, a test double)
while the "notifications" setting is on.
"""

from __future__ import annotations

import logging
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reelforge.domain.events import BatchFinished

if TYPE_CHECKING:
    from reelforge.bus import Bus

log = logging.getLogger("reelforge.notifications")

TITLE_DONE = "Reelforge: batch done"
TITLE_FAILED = "Reelforge: batch finished with failures"
_REASON_MAX = 160


@dataclass(frozen=True)
class Notice:
    title: str
    body: str
    failed: bool
    batch_id: int


def humanize_seconds(seconds: float) -> str:
    """12 s, 4 min, 1 h 5 min: as precise as a glance at a notification needs."""
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    if round(seconds) < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _file_name(path: str) -> str:
    """The last component of a POSIX or Windows path (the history may hold either)."""
    name = re.split(r"[\\/]", path.rstrip("\\/"))[-1]
    return name or path


def _reason(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    first = lines[0] if lines else "failed"
    return first if len(first) <= _REASON_MAX else first[: _REASON_MAX - 1] + "…"


def summarize(event: BatchFinished) -> Notice:
    """'12 done, 1 failed - 4 min' and, when something failed, the first failure by name."""
    counts = event.counts
    done = counts.get("succeeded", 0) + counts.get("skipped", 0)
    failed = max(counts.get("failed", 0), len(event.failures))
    parts = [f"{done} done"]
    if failed:
        parts.append(f"{failed} failed")
    for status in ("cancelled", "interrupted"):
        if counts.get(status, 0):
            parts.append(f"{counts[status]} {status}")
    lines = [f"{', '.join(parts)} - {humanize_seconds(event.seconds)}"]
    if event.failures:
        path, reason = event.failures[0]
        line = f"{_file_name(path)}: {_reason(reason)}"
        if failed > 1:
            line += f" (+{failed - 1} more)"
        lines.append(line)
    return Notice(
        title=TITLE_FAILED if failed else TITLE_DONE,
        body="\n".join(lines),
        failed=bool(failed),
        batch_id=event.batch_id,
    )


class BatchNotifier:
    """Subscribes to BatchFinished and delivers one Notice per batch while `enabled`.

    The same BatchFinished published twice (a replay, a second subscriber path) is told once;
    a batch that finishes again later with other results (its failures retried) is told again.
    A batch that finishes while notifications are off is not told later.
    """

    _REMEMBERED = 256  # batches whose last outcome is kept to recognise repeats

    def __init__(
        self, bus: Bus, deliver: Callable[[Notice], object], *, enabled: bool = True
    ) -> None:
        self.enabled = enabled
        self._deliver = deliver
        self._told: OrderedDict[int, BatchFinished] = OrderedDict()
        bus.subscribe(BatchFinished, self._on_batch_finished)

    def _on_batch_finished(self, event: BatchFinished) -> None:
        if self._told.get(event.batch_id) == event:
            return
        self._told[event.batch_id] = event
        self._told.move_to_end(event.batch_id)
        while len(self._told) > self._REMEMBERED:
            self._told.popitem(last=False)
        if not self.enabled:
            return
        self._deliver(summarize(event))
