"""The pure parts of long encodes in segments: where cuts go, what stages run, how the job's
progress and result are folded from its stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.domain.jobs import JobKind, Lane
from reelforge.domain.naming import is_temp_name
from reelforge.domain.spec import JobSpec, OutputTarget
from reelforge.domain.split import (
    choose_cuts,
    cut_targets,
    is_split,
    mark_for_split,
    piece_path,
    segment_lengths,
)
from reelforge.executors.chunked import ChunkedRun


def encode_spec(duration: float, tmp: Path) -> JobSpec:
    target = OutputTarget("720p", str(tmp / "clip.720p.mp4"), "video", 1280, 720, True, duration)
    return JobSpec(
        id="job1",
        kind=JobKind.ENCODE,
        preset="web",
        source=str(tmp / "clip.mp4"),
        source_duration=duration,
        outputs=(target,),
        params={"video_index": 0, "audio_index": 1, "rungs": []},
    )


def test_only_long_encodes_are_marked(tmp_path: Path) -> None:
    assert not is_split(mark_for_split(encode_spec(599, tmp_path), after=600, segment=120))
    assert is_split(mark_for_split(encode_spec(600, tmp_path), after=600, segment=120))
    assert not is_split(mark_for_split(encode_spec(9999, tmp_path), after=0, segment=120))
    # Fewer than two segments' worth: splitting would only add a join.
    assert not is_split(mark_for_split(encode_spec(150, tmp_path), after=100, segment=120))
    thumbs = JobSpec("t", JobKind.THUMBNAILS, "web", "x", 9999.0)
    assert mark_for_split(thumbs, after=1, segment=60) is thumbs


def test_splitting_does_not_change_what_the_job_is(tmp_path: Path) -> None:
    plain = encode_spec(900, tmp_path)
    marked = mark_for_split(plain, after=600, segment=120)
    assert marked.content_hash("fp") == plain.content_hash("fp")  # "already done" still holds


def test_cut_targets_spread_evenly_and_never_leave_a_sliver() -> None:
    assert cut_targets(36, 10) == pytest.approx([9, 18, 27])
    assert cut_targets(125, 60) == pytest.approx([62.5])
    assert cut_targets(30, 60) == []


def test_choose_cuts_deduplicates_long_gops_and_avoids_the_ends() -> None:
    # A 20 s GOP answers two wanted times with the same keyframe; one at 2 s is a sliver.
    keyframes = {10.0: 0.0, 20.0: 20.0, 30.0: 20.0, 40.0: 40.0, 98.0: 97.0}
    assert choose_cuts(keyframes, 100.0) == [20.0, 40.0]
    assert choose_cuts({}, 100.0) == []


def test_pieces_are_hidden_temp_files_next_to_the_output_named_by_job_and_segment() -> None:
    piece = piece_path("/out/clip/clip.720p.mp4", "abcdef0123456789~s002", 2, "720p")
    assert piece.parent == Path("/out/clip") and piece.suffix == ".mp4"
    assert is_temp_name(piece.name) and "abcdef012345" in piece.name and "s002" in piece.name
    assert piece == piece_path("/out/clip/clip.720p.mp4", "abcdef0123456789~join", 2, "720p")
    # The rungs of one segment sit in one folder: each has its own piece (a shared name once
    # made every rung's piece the last rung written, found by the 1080p split benchmark).
    rungs = {piece_path(f"/out/clip/clip.{r}.mp4", "abcdef0123456789", 2, r) for r in
             ("1080p", "720p", "480p")}  # fmt: skip
    assert len(rungs) == 3


def test_segment_lengths_add_up() -> None:
    assert sum(segment_lengths([9, 18, 27], 36)) == pytest.approx(36)


def test_a_run_goes_split_then_segments_then_join(tmp_path: Path) -> None:
    run = ChunkedRun(mark_for_split(encode_spec(40, tmp_path), after=20, segment=10))
    [split] = run.first()
    assert split.lane is Lane.LIGHT and split.id == "job1~split"
    step = run.on_result(
        split.id,
        {
            "status": "succeeded",
            "cuts": [10.0, 20.0, 30.0],
            "half_frame": 0.02,
            "video_offset": 0.1,
        },
    )
    segments = step.next
    assert [s.id for s in segments] == [f"job1~s00{i}" for i in range(4)]
    assert all(s.lane is Lane.HEAVY and not is_split(s) for s in segments)
    assert segments[3].params["stage"]["end"] is None and segments[1].params["stage"]["start"] == 10
    # The first piece starts where the video does; the others on their cut (a keyframe).
    assert [s.params["stage"]["first_frame"] for s in segments] == [0.1, 10.0, 20.0, 30.0]
    assert run.progress(segments[0].id, 50, 2.0) == pytest.approx(11.9, abs=0.1)  # 50% of 95%/4
    assert run.speed() == 2.0
    for seg in segments[:3]:
        assert run.on_result(seg.id, {"status": "succeeded", "worker": "w1"}).next == []
    [join] = run.on_result(segments[3].id, {"status": "succeeded", "worker": "w2"}).next
    assert join.params["stage"]["cuts"] == [10.0, 20.0, 30.0]
    final = run.on_result(join.id, {"status": "succeeded", "outputs": ["o"], "worker": "w1"}).final
    assert final is not None and final["outputs"] == ["o"]
    assert final["worker"] == "w1, w2" and final["segments"] == 4 and final["job"] == "job1"


def test_a_failed_stage_finishes_the_job_with_a_tagged_reason(tmp_path: Path) -> None:
    run = ChunkedRun(mark_for_split(encode_spec(40, tmp_path), after=20, segment=10))
    [split] = run.first()
    segments = run.on_result(split.id, {"status": "succeeded", "cuts": [20.0]}).next
    final = run.on_result(segments[1].id, {"status": "failed", "error": "disk full on /out"}).final
    assert final is not None and final["status"] == "failed"
    assert final["error"] == "[2/2] disk full on /out"
    cancelled = run.on_result(segments[0].id, {"status": "cancelled", "error": "cancelled"}).final
    assert cancelled is not None and cancelled["error"] == "cancelled"  # a cancel is untagged


def test_no_usable_keyframes_runs_the_job_in_one_pass(tmp_path: Path) -> None:
    run = ChunkedRun(mark_for_split(encode_spec(40, tmp_path), after=20, segment=10))
    [split] = run.first()
    [whole] = run.on_result(split.id, {"status": "succeeded", "cuts": []}).next
    assert whole.id == "job1~whole" and not is_split(whole) and "stage" not in whole.params
    assert run.on_result(whole.id, {"status": "succeeded"}).final is not None
