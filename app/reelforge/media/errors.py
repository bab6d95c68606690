"""One short human line out of ffmpeg's stderr tail, for the job list and notifications."""

from __future__ import annotations

import re

MAX_REASON = 160

_DISK_FULL = re.compile(r"no space left on device|disk quota exceeded|not enough space", re.I)
_PERMISSION = re.compile(r"permission denied|access is denied", re.I)
_UNKNOWN_ENCODER = re.compile(r"unknown encoder '([^']+)'", re.I)
_ENCODER_NOT_FOUND = re.compile(r"encoder not found", re.I)
_NOT_FOUND = re.compile(r"no such file or directory", re.I)
_DAMAGED = re.compile(
    r"invalid data found when processing input|moov atom not found|corrupt"
    r"|error while decoding",
    re.I,
)
# "[libx264 @ 0x55c3173f5600] msg": the address means nothing to a person.
_CONTEXT_ADDR = re.compile(r"\s@\s0x[0-9a-f]+\]", re.I)
# Lines that close every failed run and never say why.
_NOISE = re.compile(
    r"^(conversion failed!?|exiting normally.*|received signal.*|press \[q\].*"
    r"|frame=.*|size=.*|video:.*|\[out#\d+/[^]]*\] video:.*)$",
    re.I,
)


def is_disk_full(lines: list[str]) -> bool:
    return any(_DISK_FULL.search(line) for line in lines)


def reason_from_stderr(lines: list[str], returncode: int | None) -> str:
    """Why ffmpeg failed, in a few words. "disk full" wants " on <folder>" from the caller."""
    if returncode is not None and returncode < 0:  # POSIX: killed by a signal, not an error
        return f"ffmpeg was killed (signal {-returncode})"
    # Checked in order of how actionable they are: a full disk beats the decode warnings
    # that a damaged-but-usable input prints all along the run.
    if is_disk_full(lines):
        return "disk full"
    if any(_PERMISSION.search(line) for line in lines):
        return "permission denied"
    for line in lines:
        m = _UNKNOWN_ENCODER.search(line)
        if m:
            return f"encoder not available in this ffmpeg build: {m.group(1)}"
    if any(_ENCODER_NOT_FOUND.search(line) for line in lines):
        return "encoder not available in this ffmpeg build"
    if any(_NOT_FOUND.search(line) for line in lines):
        return "file not found"
    if any(_DAMAGED.search(line) for line in lines):
        return "file is damaged"
    last = _last_meaningful(lines)
    if last:
        return last
    if returncode is None:
        return "ffmpeg failed"
    return f"ffmpeg failed (exit code {returncode})"


def _last_meaningful(lines: list[str]) -> str | None:
    parts = [part for raw in lines for part in raw.splitlines()]  # one entry may hold several
    for raw in reversed(parts):
        line = raw.strip()
        if not line or _NOISE.match(line):
            continue
        line = _CONTEXT_ADDR.sub("]", line)
        if len(line) > MAX_REASON:
            line = line[: MAX_REASON - 1].rstrip() + "…"
        return line
    return None
