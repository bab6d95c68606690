"""Parsing ffmpeg's ``-progress pipe:1`` output and turning it into percent, speed and ETA.

Pure functions and small state machines: no I/O, no clocks (the caller passes ``now``), so
every quirk is unit-testable with recorded text. Nothing here raises on bad input: ffmpeg
prints ``N/A``, negative times before the first frame, and the pipe can tear lines apart.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressSample:
    out_time: float | None  # seconds of output written so far
    speed: float | None  # ffmpeg's own "1.53x", as 1.53
    fps: float | None
    frame: int | None
    total_size: int | None  # bytes
    done: bool  # progress=end: ffmpeg finished writing


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip()
    if text.endswith("x"):  # speed=1.53x
        text = text[:-1]
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) > 19:  # beyond int64, and float() of it would overflow: not a real reading
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def _clock(text: str | None) -> float | None:
    """ "HH:MM:SS.micro" (the out_time key) to seconds; None for N/A or a negative time."""
    if text is None:
        return None
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0].startswith("-") or max(map(len, parts)) > 19:
        return None
    try:
        hours, minutes = int(parts[0]), int(parts[1])
        seconds = float(parts[2])
    except ValueError:
        return None
    if hours < 0 or not 0 <= minutes < 60 or not math.isfinite(seconds) or seconds < 0:
        return None
    return hours * 3600 + minutes * 60 + seconds


class ProgressParser:
    """Feed it stdout lines one by one; it returns a sample each time a block is closed."""

    def __init__(self) -> None:
        self._block: dict[str, str] = {}

    def feed(self, line: str) -> ProgressSample | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None  # not a key=value line: ignore (torn line, stray text)
        key = key.strip()
        if key != "progress":
            # A stream of junk that never says progress= must not grow the block forever.
            if key in self._block or len(self._block) < 64:
                self._block[key] = value.strip()
            return None
        block, self._block = self._block, {}
        return ProgressSample(
            out_time=self._out_time(block),
            speed=_float(block.get("speed")),
            fps=_float(block.get("fps")),
            frame=_int(block.get("frame")),
            total_size=_int(block.get("total_size")),
            done=value.strip() == "end",
        )

    @staticmethod
    def _out_time(block: dict[str, str]) -> float | None:
        # out_time_ms is in MICROseconds too (an old ffmpeg bug kept for compatibility), so
        # it is only a fallback when out_time_us is missing, and never divided by 1000.
        for key in ("out_time_us", "out_time_ms"):
            if key in block:
                micros = _int(block[key])
                if micros is not None:
                    return micros / 1_000_000
                return _clock(block.get("out_time"))
        return _clock(block.get("out_time"))


def percent(out_time: float | None, duration: float | None) -> float | None:
    """How far along, 0..100; None when either side is unknown."""
    if out_time is None or duration is None:
        return None
    if not (math.isfinite(out_time) and math.isfinite(duration)) or duration <= 0:
        return None
    return min(100.0, max(0.0, out_time / duration * 100.0))


class EtaEstimator:
    """Speed (media seconds per wall second) over a recent window, and the ETA it implies.

    A window rather than the whole run: encodes speed up and slow down (scene complexity,
    a second job starting), and the ETA should follow what is happening now.
    """

    WINDOW = 8.0  # wall seconds of history used for the speed
    MIN_SPAN = 0.5  # wall seconds needed before a speed is worth showing

    def __init__(self, duration: float | None) -> None:
        self.duration: float | None = None
        if duration is not None and math.isfinite(duration) and duration > 0:
            self.duration = float(duration)
        self._history: deque[tuple[float, float]] = deque()  # (now, out_time)
        self._last_out: float | None = None

    def update(
        self, out_time: float | None, now: float
    ) -> tuple[float | None, float | None, float | None]:
        """(percent, eta_seconds, speed) after a new sample; None where unknowable."""
        if out_time is not None and math.isfinite(out_time) and out_time >= 0:
            if self._history and out_time < self._history[-1][1]:
                self._history.clear()  # time went backwards (a new pass): start over
            self._history.append((now, out_time))
            self._last_out = out_time
            while len(self._history) > 2 and now - self._history[0][0] > self.WINDOW:
                self._history.popleft()

        speed = self._speed()
        pct = percent(self._last_out, self.duration)
        eta = None
        if speed and self.duration is not None and self._last_out is not None:
            eta = max(0.0, self.duration - self._last_out) / speed
        return pct, eta, speed

    def _speed(self) -> float | None:
        if len(self._history) < 2:
            return None
        (t0, o0), (t1, o1) = self._history[0], self._history[-1]
        if t1 - t0 < self.MIN_SPAN:
            return None
        speed = (o1 - o0) / (t1 - t0)
        return speed if speed > 0 else None
