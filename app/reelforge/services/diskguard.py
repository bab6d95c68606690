"""Low-disk guard: a heavy job only starts when its output volume has room for it.

When the disk is nearly full the heavy lane pauses with a clear message instead of failing job
after job, and resumes by itself once space is back. (A disk that still fills mid-job fails that
job with "disk full on ..." and leaves no partial output: the runner's temp-file rule.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from reelforge.domain.jobs import JobKind
from reelforge.domain.spec import JobSpec
from reelforge.domain.units import human_size

MARGIN_BYTES = 512 * 1024 * 1024  # never run the output volume right down to zero
_FULL_HD = 1920 * 1080
_FULL_HD_BYTES_PER_S = 8_000_000 / 8  # a generous 8 Mbit/s for 1080p H.264 at CRF ~22


class Usage(NamedTuple):
    total: int
    used: int
    free: int


def estimate_output_bytes(spec: JobSpec, source_size: int = 0) -> int:
    """A deliberately high guess of what a job writes, from sizes and duration."""
    seconds = max(spec.source_duration, 1.0)
    if spec.kind is JobKind.REMUX:
        return max(source_size, int(seconds * _FULL_HD_BYTES_PER_S))
    if spec.kind is JobKind.ENCODE:
        total = 0.0
        for rung in spec.params.get("rungs", ()):
            share = (rung["width"] * rung["height"]) / _FULL_HD
            total += seconds * (_FULL_HD_BYTES_PER_S * max(share, 0.05) + 24_000)
        return int(total)
    return 50 * 1024 * 1024  # stills, previews, audio: small


def existing_parent(path: Path) -> Path:
    """The output folder may not exist yet: measure the volume it will be created on."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


class DiskGuard:
    def __init__(
        self,
        margin_bytes: int = MARGIN_BYTES,
        usage: Callable[[Path], Usage] = lambda p: Usage(*shutil.disk_usage(p)),
    ) -> None:
        self.margin = margin_bytes
        self._usage = usage

    def check(self, spec: JobSpec) -> str | None:
        """None when the job may start; otherwise the one-line reason to pause."""
        if not spec.outputs:
            return None
        folder = existing_parent(Path(spec.outputs[0].path).parent)
        try:
            free = self._usage(folder).free
        except OSError:
            return None  # cannot measure: let the job try, the runner reports a full disk
        need = estimate_output_bytes(spec) + self.margin
        if free >= need:
            return None
        return (
            f"low disk space on {folder}: {human_size(free)} free, the next job needs "
            f"about {human_size(need)}"
        )
