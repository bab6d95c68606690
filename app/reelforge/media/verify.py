"""Checks a finished temp output before it may take its final name.

A file passes when it opens, has the streams its target promises, has the planned size, and its
duration is close to what was asked for. What it measured is returned for the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.domain.spec import OutputTarget
from reelforge.media.probe import ProbeError, probe
from reelforge.media.webp import read_webp


class VerificationError(Exception):
    """The output is not what was planned; str() is one line."""


@dataclass(frozen=True)
class OutputFacts:
    size: int
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    vcodec: str | None = None
    acodec: str | None = None


def duration_tolerance(expected: float) -> float:
    # Encoders pad or trim up to a frame or an audio packet per stream; containers round.
    # Half a second or 2 %, whichever is larger, catches a truncated output without false alarms.
    return max(0.5, 0.02 * expected)


def _check_duration(role: str, measured: float, expected: float | None) -> None:
    if expected and expected > 0 and measured > 0:
        if abs(measured - expected) > duration_tolerance(expected):
            raise VerificationError(
                f"{role} output is {measured:.2f} s long, expected {expected:.2f} s"
            )
    elif expected and expected > 0 and measured <= 0:
        raise VerificationError(f"{role} output has no duration")


def verify_output(path: Path, target: OutputTarget) -> OutputFacts:
    try:
        size = path.stat().st_size
    except OSError as err:
        raise VerificationError(f"{target.role} output is missing ({err.strerror})") from None
    if size == 0:
        raise VerificationError(f"{target.role} output is empty")
    if path.suffix.lower() == ".webp":
        return _verify_webp(path, target, size)
    try:
        # Rotation is read from a decoded frame. Only a stream copy (remux) keeps the source's
        # display matrix; every other output is rendered upright, so skip that decode.
        info = probe(path, decode_first_frame=target.role == "remux")
    except ProbeError as err:
        raise VerificationError(f"{target.role} output does not open: {err}") from None
    video, audio = info.main_video, info.default_audio
    if target.media in ("video", "image", "animation") and video is None:
        raise VerificationError(f"{target.role} output has no video stream")
    if target.has_audio and audio is None:
        raise VerificationError(f"{target.role} output has no audio stream")
    if target.media == "audio" and audio is None:
        raise VerificationError(f"{target.role} output has no audio stream")
    width = height = None
    if video is not None:
        width, height = video.display_size
        if target.width and (width, height) != (target.width, target.height):
            raise VerificationError(
                f"{target.role} output is {width}x{height}, expected {target.width}x{target.height}"
            )
    if target.media != "image":
        _check_duration(target.role, info.duration, target.duration)
    return OutputFacts(
        size=size,
        duration=info.duration or None,
        width=width,
        height=height,
        vcodec=video.codec if video else None,
        acodec=audio.codec if audio else None,
    )


def _verify_webp(path: Path, target: OutputTarget, size: int) -> OutputFacts:
    try:
        info = read_webp(path)
    except (OSError, ValueError) as err:
        raise VerificationError(f"{target.role} output does not open: {err}") from None
    if target.width and (info.width, info.height) != (target.width, target.height):
        raise VerificationError(
            f"{target.role} output is {info.width}x{info.height}, "
            f"expected {target.width}x{target.height}"
        )
    if target.media == "animation" and info.frames > 1:  # a 3-frame source makes one frame
        _check_duration(target.role, info.duration, target.duration)
    return OutputFacts(size, info.duration or None, info.width, info.height, "webp", None)


def verify_seams(
    path: Path,
    source: str,
    *,
    role: str,
    video_index: int,
    audio_index: int | None,
    seams: list[float],
) -> None:
    """A joined output (domain/split.py) against its source: the video lasts as long as the
    source's within one frame, audio and video start as far apart as in the source within one
    frame, and every seam decodes without errors."""
    import av  # PyAV, as probe uses; imported here so verify stays cheap to import

    try:
        with av.open(str(path)) as out, av.open(source) as src:
            ov, sv = out.streams.video[0], src.streams[video_index]
            frame = max(_frame_seconds(ov), _frame_seconds(sv))
            out_len, src_len = _video_length(out, ov), _video_length(src, sv)
            if out_len and src_len and abs(out_len - src_len) > frame + 0.002:
                raise VerificationError(
                    f"{role} output video is {out_len:.3f} s, the source's {src_len:.3f} s"
                )
            if audio_index is not None and out.streams.audio:
                oa, sa = out.streams.audio[0], src.streams[audio_index]
                lag = _seconds(ov.start_time, ov) - _seconds(oa.start_time, oa)
                src_lag = _seconds(sv.start_time, sv) - _seconds(sa.start_time, sa)
                if abs(lag - src_lag) > frame + 0.002:
                    raise VerificationError(
                        f"{role} output audio is {1000 * (lag - src_lag):+.0f} ms out of sync"
                    )
            for seam in seams:
                _decode_around(out, seam, frame)
    except VerificationError:
        raise
    except (av.FFmpegError, OSError, IndexError) as err:
        raise VerificationError(f"{role} output does not decode at a seam: {err}") from None


def _frame_seconds(stream: Any) -> float:
    rate = getattr(stream, "average_rate", None) or getattr(stream, "guessed_rate", None)
    return 1.0 / float(rate) if rate else 0.04


def _seconds(value: int | None, stream: Any) -> float:
    base = getattr(stream, "time_base", None)
    return float(value * base) if value is not None and base else 0.0


def _video_length(container: Any, stream: Any) -> float:
    """From the first frame's time to the end of the last frame, read from the packets (a
    container's duration fields disagree on whether a late start counts)."""
    base = stream.time_base
    start = stream.start_time or 0
    end = None
    length = (container.duration or 0) / 1_000_000
    container.seek(max(0, int((length - 3.0) / base)) + start, stream=stream, backward=True)
    for packet in container.demux(stream):
        if packet.pts is not None:
            tail = packet.pts + (packet.duration or 0)
            end = tail if end is None else max(end, tail)
    container.seek(start, stream=stream, backward=True)
    return float((end - start) * base) if end is not None else 0.0


def _decode_around(container: Any, seam: float, frame: float) -> None:
    """Decode from the keyframe before the seam to a few frames past it; errors raise."""
    stream = container.streams.video[0]
    base = stream.time_base
    container.seek(max(0, int((seam - 1.0) / base)), stream=stream, backward=True)
    for decoded in container.decode(stream):
        if decoded.pts is not None and float(decoded.pts * base) >= seam + 3 * frame:
            return
