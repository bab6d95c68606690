"""The ONE job function: (spec, report, cancel, context) -> result. Both executors call it.

No Qt and no database: a plain JSON spec comes in and a plain JSON result goes out, so a Celery
worker runs it exactly as the local pool does. It never raises: every failure becomes a result
with a one-line reason, and the details (ffmpeg's stderr, a traceback) go to the job's log file.

Outputs are written under a per-attempt temp name in the destination folder, verified, and only
then renamed into place, so nothing half-written ever sits at a final name.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reelforge.__about__ import __version__
from reelforge.domain.jobs import JobKind, JobStatus
from reelforge.domain.naming import temp_path
from reelforge.domain.spec import JobSpec, OutputTarget, SpecVersionError
from reelforge.domain.split import (
    JOIN,
    SEGMENT,
    SPLIT,
    choose_cuts,
    cut_targets,
    piece_path,
    segment_lengths,
    stage_of,
)
from reelforge.media import commands
from reelforge.media.binaries import find_ffmpeg, has_filter
from reelforge.media.errors import is_disk_full, reason_from_stderr
from reelforge.media.keyframes import MIN_DURATION as KEYFRAME_MIN_DURATION
from reelforge.media.keyframes import cut_index, keyframe_seekable, keyframes_before
from reelforge.media.probe import ProbeError, fingerprint, probe
from reelforge.media.process import (
    CancelToken,
    FFmpegLaunchError,
    Progress,
    RunResult,
    run_ffmpeg,
)
from reelforge.media.verify import VerificationError, verify_output, verify_seams

Report = Callable[[dict[str, Any]], None]
# Temp files being written right now, so a hard stop (second Ctrl-C) can remove them first.
_live_temps: set[Path] = set()
_live_lock = threading.Lock()
# ffmpeg keeps going past these; when it still exits 0 and the output verifies, it is a warning.
_DAMAGE_MARKS = ("error while decoding", "corrupt", "invalid nal", "concealing", "missing picture")


@dataclass(frozen=True)
class RunContext:
    """What a job needs from the machine it runs on; built once per executor or worker."""

    ffmpeg: str
    ffmpeg_version: str | None
    log_dir: str
    font: str
    stall_timeout: float | None = 120.0
    worker: str = ""
    tonemap: bool = False  # this ffmpeg build has zscale + tonemap

    @classmethod
    def create(
        cls,
        *,
        log_dir: Path,
        font: Path,
        ffmpeg_setting: str | None = None,
        stall_timeout: float | None = 120.0,
        worker: str | None = None,
    ) -> RunContext:
        """Resolves ffmpeg; raises FFmpegNotFound with a one-line reason."""
        binary = find_ffmpeg(ffmpeg_setting or None)
        tonemap = has_filter(binary.path, "zscale") and has_filter(binary.path, "tonemap")
        return cls(
            ffmpeg=binary.path,
            ffmpeg_version=binary.version,
            log_dir=str(log_dir),
            font=str(font),
            stall_timeout=stall_timeout,
            worker=worker or socket.gethostname(),
            tonemap=tonemap,
        )


class JobFailed(Exception):
    """A job that cannot finish; str() is the one-line reason a person sees."""


def log_path_for(log_dir: str | Path, job_id: str) -> Path:
    return Path(log_dir) / f"{job_id}.log"


def _append_log(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", errors="replace") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")


def run_job(
    spec_data: dict[str, Any], report: Report, cancel: CancelToken, ctx: RunContext
) -> dict[str, Any]:
    started = time.monotonic()
    job_id = str(spec_data.get("id", "unknown"))
    log_path = log_path_for(ctx.log_dir, job_id)
    result: dict[str, Any] = {
        "job": job_id,
        "status": JobStatus.FAILED.value,
        "error": None,
        "warning": None,
        "outputs": [],
    }
    try:
        Path(ctx.log_dir).mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        _append_log(
            log_path,
            f"=== {stamp} Reelforge {__version__} on {ctx.worker}, ffmpeg {ctx.ffmpeg_version} ===",
        )
        spec = JobSpec.from_dict(spec_data)
        _append_log(log_path, f"job {spec.kind.value} ({spec.label}) of {spec.source}")
        stage = stage_of(spec)
        if spec.kind is JobKind.PROBE:
            result.update(_probe_job(spec, log_path))
        elif stage is not None and stage["name"] == SPLIT:
            result.update(_split_job(spec, stage, log_path))
        else:
            result.update(_media_job(spec, report, cancel, ctx, log_path))
    except (JobFailed, SpecVersionError) as err:
        result["error"] = str(err)
    except Exception as err:  # a bug: one line for the person, the traceback for the log
        result["error"] = f"internal error: {type(err).__name__}: {err}".splitlines()[0][:200]
        with contextlib.suppress(OSError):
            _append_log(log_path, traceback.format_exc())
    result.update(
        seconds=round(time.monotonic() - started, 3),
        worker=ctx.worker,
        ffmpeg_version=ctx.ffmpeg_version,
        log_path=str(log_path),
    )
    if result.get("error"):
        with contextlib.suppress(OSError):
            _append_log(log_path, f"{result['status'].upper()}: {result['error']}")
    return result


def _probe_job(spec: JobSpec, log_path: Path) -> dict[str, Any]:
    try:
        info = probe(spec.source)
        stat = os.stat(spec.source)
        fp = fingerprint(spec.source)
    except ProbeError as err:
        _append_log(log_path, f"probe failed: {getattr(err, 'detail', '') or err}")
        raise JobFailed(str(err)) from None
    except OSError as err:
        raise JobFailed(f"cannot read source: {err.strerror}") from None
    if info.still_image:
        raise JobFailed(f"still image, not a video ({info.format_name})")
    v, a = info.main_video, info.default_audio
    _append_log(
        log_path,
        f"{info.format_name}, {info.duration:.3f} s, "
        + (f"video {v.codec} {v.width}x{v.height} rot {v.rotation}, " if v else "no video, ")
        + (f"audio {a.codec} {a.channels}ch" if a else "no audio"),
    )
    return {
        "status": JobStatus.SUCCEEDED.value,
        "media_info": info.to_dict(),
        "source": {"size": stat.st_size, "mtime": stat.st_mtime, "fingerprint": fp},
    }


def _split_job(spec: JobSpec, stage: dict[str, Any], log_path: Path) -> dict[str, Any]:
    """Where a long encode is cut (domain/split.py): keyframes from the index, no decoding."""
    if not os.path.isfile(spec.source):
        raise JobFailed("source file is gone")
    duration = spec.source_duration
    index = cut_index(
        spec.source, int(spec.params["video_index"]), cut_targets(duration, stage["segment"])
    )
    cuts = choose_cuts(index.keyframes, duration)
    _append_log(
        log_path,
        f"split at keyframes {', '.join(f'{c:.3f}' for c in cuts) or '(none usable)'} "
        f"into {len(cuts) + 1} segments",
    )
    return {
        "status": JobStatus.SUCCEEDED.value,
        "cuts": cuts,
        "half_frame": index.half_frame,
        "video_offset": index.video_offset,
    }


def _piece_targets(spec: JobSpec, stage: dict[str, Any]) -> tuple[OutputTarget, ...]:
    """A segment writes hidden pieces, one per rung, instead of the final outputs."""
    end = stage["end"] if stage["end"] is not None else spec.source_duration
    return tuple(
        OutputTarget(
            t.role,
            str(piece_path(t.path, spec.id, stage["index"], t.role)),
            "video",
            t.width,
            t.height,
            has_audio=False,
            duration=end - stage["first_frame"],
        )
        for t in spec.outputs
    )


def _pieces(spec: JobSpec, stage: dict[str, Any]) -> dict[str, list[Path]]:
    count = len(stage["cuts"]) + 1
    return {
        t.role: [piece_path(t.path, spec.id, i, t.role) for i in range(count)] for t in spec.outputs
    }


def _write_piece_lists(spec: JobSpec, stage: dict[str, Any], attempt: str) -> dict[str, Path]:
    lengths = segment_lengths(stage["cuts"], spec.source_duration, stage["video_offset"])
    lists = {}
    for role, pieces in _pieces(spec, stage).items():
        missing = [p for p in pieces if not p.is_file()]
        if missing:
            raise JobFailed(f"segment piece is missing: {missing[0]}")
        path = temp_path(pieces[0].with_suffix(".txt"), attempt)
        path.write_text(commands.concat_list(pieces, lengths), encoding="utf-8")
        lists[role] = path
    return lists


def _build_args(
    spec: JobSpec, temps: dict[str, Path], ctx: RunContext, lists: dict[str, Path]
) -> list[list[str]]:
    """The ffmpeg argv to run, then any fallbacks to try, in order, if it fails."""
    stage = stage_of(spec)
    if stage is not None and stage["name"] == SEGMENT:
        return [
            commands.segment_args(
                spec,
                temps,
                start=stage["start"],
                end=stage["end"],
                half_frame=stage["half_frame"],
                first_frame=stage["first_frame"],
                tonemap=ctx.tonemap,
            )
        ]
    if stage is not None and stage["name"] == JOIN:
        return [commands.join_args(spec, temps, lists, video_offset=stage["video_offset"])]
    if spec.kind is JobKind.THUMBNAILS:
        exact = commands.thumbnails_args(spec, temps, font=Path(ctx.font))
        times = commands.thumbnail_times(spec, temps.keys())
        index = spec.params.get("video_index")
        near = (
            keyframe_seekable(
                times,
                keyframes_before(spec.source, int(index), times),
                spec.source_duration or 0.0,
            )
            if index is not None and (spec.source_duration or 0.0) >= KEYFRAME_MIN_DURATION
            else set()
        )
        if not near:
            return [exact]
        fast = commands.thumbnails_args(spec, temps, font=Path(ctx.font), keyframe_times=near)
        return [fast, exact]  # a keyframe the index promised but the decoder refused: exact
    return [_build_single_args(spec, temps, ctx)]


def _build_single_args(spec: JobSpec, temps: dict[str, Path], ctx: RunContext) -> list[str]:
    if spec.kind is JobKind.ENCODE:
        return commands.encode_args(spec, temps, tonemap=ctx.tonemap)
    if spec.kind is JobKind.AUDIO:
        return commands.audio_args(spec, temps)
    if spec.kind is JobKind.PREVIEW:
        return commands.preview_args(spec, temps, tonemap=ctx.tonemap)
    if spec.kind is JobKind.REMUX:
        return commands.remux_args(spec, temps)
    raise JobFailed(f"unknown job kind {spec.kind}")


def _media_duration(spec: JobSpec) -> float | None:
    stage = stage_of(spec)
    if stage is not None and stage["name"] == SEGMENT:
        return (stage["end"] or spec.source_duration) - stage["first_frame"]
    if spec.kind is JobKind.PREVIEW:
        return float(spec.params.get("seconds") or 0) or None
    if spec.kind is JobKind.THUMBNAILS:
        return None
    return spec.source_duration or None


def _prepare_folders(spec: JobSpec) -> None:
    for target in spec.outputs:
        folder = Path(target.path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise JobFailed(f"cannot create output folder {folder}: {err.strerror}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise JobFailed(f"output folder is not writable: {folder}")


def _check_unchanged(spec: JobSpec) -> None:
    """The plan was made for the file as probed; a file replaced since is not what was asked."""
    state = spec.params.get("source_state")
    if not state:
        return
    st = os.stat(spec.source)
    if st.st_size != state.get("size") or abs(st.st_mtime - float(state.get("mtime", 0))) > 1e-3:
        raise JobFailed("source file changed after it was queued (add it again)")


def _media_job(
    spec: JobSpec, report: Report, cancel: CancelToken, ctx: RunContext, log_path: Path
) -> dict[str, Any]:
    if not os.path.isfile(spec.source):
        raise JobFailed("source file is gone")
    _check_unchanged(spec)
    _prepare_folders(spec)
    stage = stage_of(spec)
    if stage is not None and stage["name"] == SEGMENT:
        spec = spec.with_outputs(_piece_targets(spec, stage))
    attempt = uuid.uuid4().hex[:8]
    temps = {t.role: temp_path(Path(t.path), attempt) for t in spec.outputs}
    lists: dict[str, Path] = {}
    with _live_lock:
        _live_temps.update(temps.values())
    try:
        if stage is not None and stage["name"] == JOIN:
            lists = _write_piece_lists(spec, stage, attempt)
        result = _run_and_publish(spec, temps, lists, report, cancel, ctx, log_path)
        if stage is not None and stage["name"] == JOIN and result["status"] == "succeeded":
            for piece in (p for pieces in _pieces(spec, stage).values() for p in pieces):
                piece.unlink(missing_ok=True)
        return result
    finally:
        for tmp in (*temps.values(), *lists.values()):  # no temp file outlives its job
            tmp.unlink(missing_ok=True)
        with _live_lock:
            _live_temps.difference_update(temps.values())


def remove_live_temps() -> int:
    """For a hard stop: delete the temp files of every job still running in this process."""
    with _live_lock:
        live = list(_live_temps)
    for tmp in live:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return len(live)


def _check_run(
    spec: JobSpec, temps: dict[str, Path], run: RunResult, ctx: RunContext
) -> list[dict[str, Any]]:
    """The verified facts of every output of a finished run; JobFailed with the reason if not."""
    if run.stalled:
        raise JobFailed(f"stalled: no progress from ffmpeg for {ctx.stall_timeout:.0f} s")
    if run.returncode != 0:
        if is_disk_full(run.stderr_tail):
            raise JobFailed(f"disk full on {Path(spec.outputs[0].path).parent}")
        raise JobFailed(reason_from_stderr(run.stderr_tail, run.returncode))
    outputs = []
    for target in spec.outputs:
        try:
            facts = verify_output(temps[target.role], target)
        except VerificationError as err:
            raise JobFailed(str(err)) from None
        outputs.append({"role": target.role, "path": target.path, **asdict(facts)})
    stage = stage_of(spec)
    if stage is not None and stage["name"] == JOIN:
        audio = spec.params.get("audio_index")
        for target in spec.outputs:
            try:
                verify_seams(
                    temps[target.role],
                    spec.source,
                    role=target.role,
                    video_index=int(spec.params["video_index"]),
                    audio_index=None if audio is None else int(audio),
                    seams=stage["cuts"],
                )
            except VerificationError as err:
                raise JobFailed(str(err)) from None
    return outputs


def _run_and_publish(
    spec: JobSpec,
    temps: dict[str, Path],
    lists: dict[str, Path],
    report: Report,
    cancel: CancelToken,
    ctx: RunContext,
    log_path: Path,
) -> dict[str, Any]:
    attempts = _build_args(spec, temps, ctx, lists)

    def on_progress(p: Progress) -> None:
        report(
            {
                "type": "progress",
                "percent": p.percent,
                "speed": p.speed,
                "eta": p.eta,
                "out_time": p.out_time,
            }
        )

    def on_log(line: str) -> None:
        report({"type": "log", "line": line})

    for n, args in enumerate(attempts, start=1):
        last = n == len(attempts)  # run_ffmpeg logs the argv itself ("$ ..." line)
        try:
            run = run_ffmpeg(
                ctx.ffmpeg,
                args,
                duration=_media_duration(spec),
                cancel=cancel,
                log_path=str(log_path),
                on_progress=on_progress,
                on_log=on_log,
                stall_timeout=ctx.stall_timeout,
            )
        except FFmpegLaunchError as err:
            raise JobFailed(str(err)) from None
        if run.cancelled:
            return {"status": JobStatus.CANCELLED.value, "error": cancel.reason or "cancelled"}
        try:
            outputs = _check_run(spec, temps, run, ctx)
            break
        except JobFailed as err:
            if last or is_disk_full(run.stderr_tail):
                raise
            _append_log(log_path, f"# {err}; trying again with exact seeking")
            for tmp in temps.values():
                tmp.unlink(missing_ok=True)
    if cancel.cancelled:  # a cancel that arrived during verification still wins
        return {"status": JobStatus.CANCELLED.value, "error": cancel.reason or "cancelled"}
    for target in spec.outputs:
        os.replace(temps[target.role], target.path)  # atomic within one folder
    damaged = any(m in line.lower() for line in run.stderr_tail for m in _DAMAGE_MARKS)
    return {
        "status": JobStatus.SUCCEEDED.value,
        "outputs": outputs,
        "warning": "source has damaged frames; the output may show glitches (see log)"
        if damaged
        else None,
    }
