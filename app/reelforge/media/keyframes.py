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
from collections.abc import Iterable

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

    Times the container cannot answer (no index, a first packet that is not a keyframe,
    any error) are simply missing; the caller seeks exactly for those.
    """
    found: dict[float, float] = {}
    try:
        container = av.open(os.fspath(path), metadata_errors="replace")
    except Exception as exc:  # PyAV raises its own and OS errors; either way: no answer
        log.debug("keyframe index unavailable for %s: %s", path, exc)
        return found
    try:
        stream = container.streams[stream_index]
        base = stream.time_base
        if base is None or stream.type != "video":
            return found
        start = stream.start_time or 0
        for t in times:
            with contextlib.suppress(Exception):
                container.seek(start + int(t / base), stream=stream, backward=True)
                for packet in container.demux(stream):
                    if packet.pts is not None and packet.is_keyframe:
                        found[t] = max(0.0, float((packet.pts - start) * base))
                    break
    except Exception as exc:
        log.debug("keyframe lookup failed for %s: %s", path, exc)
    finally:
        with contextlib.suppress(Exception):
            container.close()
    return found


def keyframe_seekable(
    times: list[float], keyframes: dict[float, float], duration: float
) -> set[float]:
    """The times close enough to their keyframe to take the keyframe instead."""
    spacing = duration / max(1, len(set(times)))
    allowed = min(MAX_DRIFT, DRIFT_SHARE * spacing)
    return {t for t in times if t in keyframes and 0.0 <= t - keyframes[t] <= allowed}
