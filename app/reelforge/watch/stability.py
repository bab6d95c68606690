"""When is a file in a watch folder ready? When its size and modification time have not changed
for `settle` seconds. A file still being copied keeps changing and is never taken half-written;
files already there when watching starts get the same rule. Pure; clock injected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class _State:
    size: int
    mtime: float
    since: float  # when this (size, mtime) was first seen


class StabilityTracker:
    def __init__(self, settle: float, clock: Callable[[], float]) -> None:
        self.settle = settle
        self._clock = clock
        self._seen: dict[str, _State] = {}

    def observe(self, path: str, size: int, mtime: float) -> bool:
        """Record what the file looks like now; True once it has looked the same for `settle`
        seconds. An empty file is never ready (a copy that has not begun writing)."""
        now = self._clock()
        prev = self._seen.get(path)
        if prev is None or (prev.size, prev.mtime) != (size, mtime):
            self._seen[path] = _State(size, mtime, now)
            return False
        return size > 0 and now - prev.since >= self.settle

    def forget(self, path: str) -> None:
        self._seen.pop(path, None)

    def pending(self) -> list[str]:
        return list(self._seen)
