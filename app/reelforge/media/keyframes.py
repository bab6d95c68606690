"""Where the keyframe before a time is, read from the container's index without decoding.

Thumbnails use it to choose, frame by frame, between two ways of seeking:
- keyframe: jump to the keyframe at or before the time and take it (nothing else is
  decoded; ffmpegthumbnailer's way). Fast on any file length, but the frame can be up to
  one GOP early: fine when that is small next to the spacing of the tiles.
- exact: decode from that keyframe up to the time. Always right, slow when GOPs are long.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import av

log = logging.getLogger(__name__)

MIN_DURATION = 10.0  # seconds: below it exact seeking decodes a few frames at most, and is
# cheaper than opening the file once more to read its index
MAX_DRIFT = 10.0  # seconds: never show a frame further than this from the time asked for
DRIFT_SHARE = 0.25  # ... nor more than this share of the spacing between frames


def keyframes_before(
    path: str | os.PathLike[str], stream_index: int, times: Iterable[float]
) -> dict[float, float]:
    """{time: the keyframe's time at or before it}, for each time the index answers.

    Times are from the video stream's start. Times the container cannot answer (no index, a
    first packet that is not a keyframe, any error) are simply missing; the caller seeks
    exactly for those.
    """
    found: dict[float, float] = {}
    with _opened(path) as container:
        if container is not None:
            stream = container.streams[stream_index]
            found = _lookup(container, stream, times, origin=stream.start_time or 0)
    return found


@dataclass(frozen=True)
class CutIndex:
    """What splitting a file at keyframes needs, in ffmpeg's -ss clock (from the file start)."""

    keyframes: dict[float, float]  # {wanted time: keyframe at or before it}
    half_frame: float  # seconds; read windows start this far before a cut
    video_offset: float  # where the video stream starts after the file start


def cut_index(path: str | os.PathLike[str], stream_index: int, times: Iterable[float]) -> CutIndex:
    """Keyframes at or before `times` on the file's clock; empty when there is no index."""
    with _opened(path) as container:
        if container is None:
            return CutIndex({}, 0.0, 0.0)
        stream = container.streams[stream_index]
        base = stream.time_base
        file_start = container.start_time or 0  # microseconds
        origin = int(file_start / 1_000_000 / base) if base else 0
        rate = stream.average_rate or stream.guessed_rate
        frame = 1.0 / float(rate) if rate else 1 / 25
        offset = float((stream.start_time or 0) * base) - file_start / 1_000_000 if base else 0.0
        return CutIndex(
            _lookup(container, stream, times, origin=origin),
            half_frame=min(0.5 * frame, 0.05),
            video_offset=max(0.0, offset),
        )


@contextlib.contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[Any]:
    try:
        container = av.open(os.fspath(path), metadata_errors="replace")
    except Exception as exc:  # PyAV raises its own and OS errors; either way: no answer
        log.debug("keyframe index unavailable for %s: %s", path, exc)
        yield None
        return
    try:
        yield container
    finally:
        with contextlib.suppress(Exception):
            container.close()


def _lookup(
    container: Any, stream: Any, times: Iterable[float], *, origin: int
) -> dict[float, float]:
    found: dict[float, float] = {}
    base = stream.time_base
    if base is None or stream.type != "video":
        return found
    try:
        start = stream.start_time or 0
        for t in times:
            with contextlib.suppress(Exception):
                container.seek(start + int(t / base), stream=stream, backward=True)
                for packet in container.demux(stream):
                    if packet.pts is not None and packet.is_keyframe:
                        found[t] = max(0.0, float((packet.pts - origin) * base))
                    break
    except Exception as exc:
        log.debug("keyframe lookup failed: %s", exc)
    return found


def keyframe_seekable(
    times: list[float], keyframes: dict[float, float], duration: float
) -> set[float]:
    """The times close enough to their keyframe to take the keyframe instead."""
    spacing = duration / max(1, len(set(times)))
    allowed = min(MAX_DRIFT, DRIFT_SHARE * spacing)
    return {t for t in times if t in keyframes and 0.0 <= t - keyframes[t] <= allowed}
