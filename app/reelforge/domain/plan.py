"""The planner: source + preset + media info -> job specs. A pure function, no I/O.

Sizes: "1080p" means the short side, so a portrait source stays portrait; rotation is applied
before sizing (ffmpeg auto-rotates), nothing is ever upscaled and every size is even.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.domain.jobs import JobKind
from reelforge.domain.media_info import MediaInfo, VideoStream
from reelforge.domain.naming import output_path
from reelforge.domain.presets import Preset, Rendition
from reelforge.domain.spec import JobSpec, OutputTarget, new_job_id

# Codecs the MP4 muxer takes as they are (stream copy); anything else needs an encode.
MP4_VIDEO = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4", "mpeg2video", "mpeg1video"})
# mp2 is left out on purpose: MP4 has one type for all MPEG-1 audio and players read it as mp3.
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"})


@dataclass(frozen=True)
class PlannedJob:
    spec: JobSpec
    reject: str | None = None  # why this job cannot be done for this source (-> failed job)


def even(x: float, cap: float | None = None) -> int:
    """Nearest even size, but never above `cap` (the source): no upscaling, not even by 1 px."""
    v = round(x / 2.0) * 2
    if cap is not None:
        v = min(v, int(cap) // 2 * 2)
    return max(2, v)


def fit_short_side(display: tuple[int, int], short_side: int) -> tuple[int, int]:
    """Scale so the short side is `short_side` (never up), keeping aspect, both sides even."""
    w, h = display
    short = min(w, h)
    target = min(short_side, short)
    scale = target / short
    if w <= h:
        return even(target, w), even(h * scale, h)
    return even(w * scale, w), even(target, h)


def fit_width(display: tuple[int, int], width: int) -> tuple[int, int]:
    """Scale to at most `width` wide (never up), keeping aspect, even sizes."""
    w, h = display
    target = min(width, w)
    return even(target, w), even(h * target / w, h)


def ladder(display: tuple[int, int], renditions: tuple[Rendition, ...]) -> list[dict[str, Any]]:
    """The rungs that fit under the source; a source below every rung gets one at its own size."""
    short = min(display)
    fitting = [r for r in renditions if r.short_side <= short]
    rungs: list[tuple[str, Rendition, tuple[int, int]]] = []
    if fitting:
        rungs = [(r.name, r, fit_short_side(display, r.short_side)) for r in fitting]
    elif renditions:
        smallest = min(renditions, key=lambda r: r.short_side)
        size = fit_short_side(display, short)
        rungs = [(f"{min(size)}p", smallest, size)]
    seen: set[tuple[int, int, str]] = set()
    out = []
    for role, r, (w, h) in rungs:
        key = (w, h, r.codec)
        if key in seen:  # two rungs that land on the same size are one output
            continue
        seen.add(key)
        out.append(
            {
                "role": role,
                "width": w,
                "height": h,
                "codec": r.codec,
                "crf": r.crf,
                "speed": r.speed,
                "max_fps": r.max_fps,
                "audio_bitrate": r.audio_bitrate,
                "container": r.container,
            }
        )
    return out


def _clamp_time(t: float, duration: float, fps: float | None) -> float:
    """A seek target that still has a frame after it (two frames before the end at most)."""
    if duration <= 0:
        return 0.0
    return round(max(0.0, min(t, duration - 2.0 / (fps or 25.0))), 3)


def sheet_times(duration: float, count: int, fps: float | None) -> list[float]:
    """Evenly spread timestamps, centred in their slices, never past the last frame."""
    return [_clamp_time(duration * (i + 0.5) / count, duration, fps) for i in range(count)]


def _spec(
    kind: JobKind,
    info: MediaInfo,
    preset: Preset,
    outputs: list[OutputTarget],
    params: dict[str, Any],
) -> JobSpec:
    return JobSpec(
        id=new_job_id(),
        kind=kind,
        preset=preset.name,
        source=info.path,
        source_duration=info.duration,
        outputs=tuple(outputs),
        params=params,
    )


def probe_spec(source: str) -> JobSpec:
    return JobSpec(id=new_job_id(), kind=JobKind.PROBE, preset="probe", source=source)


def plan_jobs(info: MediaInfo, preset: Preset, out_root: Path) -> list[PlannedJob]:
    """Expand one preset for one probed source into jobs, with natural output names."""
    src = Path(info.path)
    video = info.main_video
    audio = info.default_audio
    jobs: list[PlannedJob] = []

    def reject(kind: JobKind, reason: str) -> None:
        jobs.append(PlannedJob(_spec(kind, info, preset, [], {}), reason))

    def out(role: str, ext: str) -> str:
        return str(output_path(out_root, src, role, ext))

    video_sections = [
        (JobKind.ENCODE, bool(preset.renditions)),
        (JobKind.THUMBNAILS, bool(preset.poster or preset.contact_sheet)),
        (JobKind.PREVIEW, preset.preview is not None),
        (JobKind.REMUX, preset.remux is not None),
    ]
    if video is None:
        for kind, wanted in video_sections:
            if wanted:
                reject(kind, "no video stream (audio-only file)")
    else:
        jobs.extend(_video_jobs(info, preset, video, out))

    if preset.audio is not None:
        if audio is None:
            reject(JobKind.AUDIO, "no audio track to extract")
        else:
            copy = preset.audio.copy_if_possible and audio.codec == preset.audio.codec
            target = OutputTarget(
                "audio", out("audio", "m4a"), "audio", has_audio=True, duration=info.duration
            )
            params = {
                "audio_index": audio.index,
                "codec": preset.audio.codec,
                "bitrate": preset.audio.bitrate,
                "copy": copy,
            }
            jobs.append(PlannedJob(_spec(JobKind.AUDIO, info, preset, [target], params)))
    return jobs


def _video_jobs(info: MediaInfo, preset: Preset, video: VideoStream, out: Any) -> list[PlannedJob]:
    display = video.display_size
    audio = info.default_audio
    jobs: list[PlannedJob] = []
    common = {
        "video_index": video.index,
        "deinterlace": video.interlaced,
        "hdr": video.hdr,
        "fps": video.fps,
    }

    if preset.renditions:
        rungs = ladder(display, preset.renditions)
        targets = [
            OutputTarget(
                r["role"],
                out(r["role"], r["container"]),
                "video",
                r["width"],
                r["height"],
                has_audio=audio is not None,
                duration=info.duration,
            )
            for r in rungs
        ]
        params = {**common, "audio_index": audio.index if audio else None, "rungs": rungs}
        jobs.append(PlannedJob(_spec(JobKind.ENCODE, info, preset, targets, params)))

    if preset.poster or preset.contact_sheet:
        targets, params = [], dict(common)
        if preset.poster:
            w, h = fit_width(display, preset.poster.width)
            at = _clamp_time(info.duration * preset.poster.at, info.duration, video.fps)
            params["poster"] = {"at": round(at, 3), "width": w, "height": h}
            targets.append(OutputTarget("poster", out("poster", "jpg"), "image", w, h))
        if preset.contact_sheet:
            cs = preset.contact_sheet
            tw, th = fit_width(display, cs.tile_width)
            params["sheet"] = {
                "columns": cs.columns,
                "rows": cs.rows,
                "tile_width": tw,
                "tile_height": th,
                "times": sheet_times(info.duration, cs.columns * cs.rows, video.fps),
                "timestamps": cs.timestamps,
            }
            targets.append(
                OutputTarget(
                    "contact", out("contact", "jpg"), "image", tw * cs.columns, th * cs.rows
                )
            )
        jobs.append(PlannedJob(_spec(JobKind.THUMBNAILS, info, preset, targets, params)))

    if preset.preview:
        pv = preset.preview
        length = min(pv.seconds, info.duration) if info.duration > 0 else pv.seconds
        start = min(info.duration * pv.start, max(0.0, info.duration - length))
        w, h = fit_width(display, pv.width)
        params = {
            **common,
            "start": round(start, 3),
            "seconds": round(length, 3),
            "width": w,
            "height": h,
            "rate": pv.fps,
            "format": pv.format,
        }
        target = OutputTarget(
            "preview",
            out("preview", pv.format),
            "animation",
            w,
            h,
            duration=length if info.duration > 0 else None,
        )
        jobs.append(PlannedJob(_spec(JobKind.PREVIEW, info, preset, [target], params)))

    if preset.remux:
        jobs.append(_remux_job(info, preset, video, out))
    return jobs


def _remux_job(info: MediaInfo, preset: Preset, video: VideoStream, out: Any) -> PlannedJob:
    target = OutputTarget(
        "remux",
        out("remux", "mp4"),
        "video",
        *video.display_size,
        has_audio=bool(info.audio),
        duration=info.duration,
    )
    spec = _spec(
        JobKind.REMUX,
        info,
        preset,
        [target],
        {
            "streams": [video.index, *(a.index for a in info.audio)],
            "dropped_subtitles": info.subtitles,
        },
    )
    if video.codec not in MP4_VIDEO:
        return PlannedJob(
            spec, f"cannot remux into MP4: {video.codec} video needs an encode (use the web preset)"
        )
    bad = sorted({a.codec for a in info.audio if a.codec not in MP4_AUDIO})
    if bad:
        return PlannedJob(
            spec,
            f"cannot remux into MP4: {', '.join(bad)} audio needs an encode "
            "(use the web or audio preset)",
        )
    return PlannedJob(spec)
