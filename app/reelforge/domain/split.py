"""Long encodes split across heavy slots or cluster workers: the pure part.

A long encode runs as stages, each one an ordinary call of the job function (runner.run_job):
  split    reads the keyframe index and picks cut points (light lane, nothing written)
  segment  encodes the video of [cut i, cut i+1) for every rung into a hidden piece file
  join     concatenates each rung's pieces by stream copy and encodes the audio once over the
           whole file, writes the final outputs under temp names, verifies, renames them
Cuts sit on keyframes and each segment reads from half a frame before its cut up to half a
frame before the next one, so every frame lands in exactly one segment whatever the rounding
of the times. The join declares each piece's duration as the distance between its cuts, so a
piece that came out a hair long or short never shifts the ones after it.

The stages are specs derived from the job's own spec: same id prefix, same output names, a
"stage" entry in params. The executors (local pool, Celery) only run them in order; the
history keeps the one job.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from reelforge.domain.jobs import JobKind
from reelforge.domain.naming import TEMP_PREFIX
from reelforge.domain.spec import JobSpec

SPLIT = "split"
SEGMENT = "segment"
JOIN = "join"
MIN_SEGMENT = 10.0  # seconds: shorter pieces cost more in encoder start-up than they save
_STAGE_SEP = "~"  # stage ids: "<job id>~split", "<job id>~s003", "<job id>~join"


def mark_for_split(spec: JobSpec, *, after: float, segment: float) -> JobSpec:
    """The spec, flagged to run in segments when it is a long enough encode (after=0: never)."""
    if spec.kind is not JobKind.ENCODE or after <= 0 or spec.source_duration < after:
        return spec
    segment = max(MIN_SEGMENT, segment)
    if spec.source_duration < 2 * segment:
        return spec
    return replace(spec, params={**spec.params, "split": {"segment": float(segment)}})


def is_split(spec: JobSpec) -> bool:
    return bool(spec.params.get("split")) and "stage" not in spec.params


def stage_of(spec: JobSpec) -> dict[str, Any] | None:
    stage = spec.params.get("stage")
    return stage if isinstance(stage, dict) else None


def parent_id(stage_id: str) -> str:
    return stage_id.split(_STAGE_SEP, 1)[0]


def cut_targets(duration: float, segment: float) -> list[float]:
    """Where cuts are wanted: every `segment` seconds, the last piece at least half as long."""
    count = max(1, math.floor(duration / segment + 0.5))
    step = duration / count
    return [step * i for i in range(1, count)]


def choose_cuts(keyframes: dict[float, float], duration: float) -> list[float]:
    """The keyframes found before each wanted time, deduplicated, in order, away from the ends.

    A GOP longer than a segment gives the same keyframe twice; a keyframe at 0 or within
    MIN_SEGMENT/2 of either end would make a useless sliver."""
    margin = MIN_SEGMENT / 2
    cuts = sorted({k for k in keyframes.values() if margin <= k <= duration - margin})
    kept: list[float] = []
    for k in cuts:
        if not kept or k - kept[-1] >= margin:
            kept.append(k)
    return kept


def split_stage(spec: JobSpec) -> JobSpec:
    return _stage(spec, "split", {"name": SPLIT, "segment": spec.params["split"]["segment"]})


def segment_stages(
    spec: JobSpec, cuts: list[float], half_frame: float, video_offset: float = 0.0
) -> list[JobSpec]:
    """`video_offset`: where the video's first frame is, after the file start; the first
    segment begins there, every other one on its cut (a keyframe, so a frame sits there)."""
    bounds: list[float | None] = [0.0, *cuts, None]
    count = len(bounds) - 1
    return [
        _stage(
            spec,
            f"s{i:03d}",
            {
                "name": SEGMENT,
                "index": i,
                "count": count,
                "start": bounds[i],
                "end": bounds[i + 1],
                "half_frame": half_frame,
                "first_frame": bounds[i] if i else video_offset,
            },
        )
        for i in range(count)
    ]


def join_stage(spec: JobSpec, cuts: list[float], offset: float) -> JobSpec:
    """`offset`: where the source's video starts after its file start (B-frame delay)."""
    return _stage(spec, "join", {"name": JOIN, "cuts": list(cuts), "video_offset": offset})


def piece_path(final: str, job_id: str, index: int, role: str) -> Path:
    """A segment's encoded piece of one rung, hidden next to its final output (a temp name:
    swept if lost). Named by job, segment and rung, not by attempt: a repeated segment
    replaces its own pieces, and the rungs of one segment never share a name."""
    path = Path(final)
    job = parent_id(job_id)[:12]
    return path.with_name(f"{TEMP_PREFIX}{job}-s{index:03d}-{safe_role(role)}{path.suffix}")


def safe_role(role: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in role)[:32]


def segment_lengths(cuts: list[float], duration: float, start: float = 0.0) -> list[float]:
    """How long each piece is: the first from where the video starts (`start`, after the file
    start), the others from cut to cut, the last to the end."""
    bounds = [start, *cuts, duration]
    return [b - a for a, b in itertools.pairwise(bounds)]


def _stage(spec: JobSpec, suffix: str, stage: dict[str, Any]) -> JobSpec:
    params = {k: v for k, v in spec.params.items() if k != "split"}
    return replace(spec, id=f"{spec.id}{_STAGE_SEP}{suffix}", params={**params, "stage": stage})
