"""The planner: orientation, no upscale, even sizes, one job per section, clear rejections."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelforge.assets import resource
from reelforge.domain.jobs import JobKind, Lane
from reelforge.domain.media_info import AudioStream, MediaInfo, VideoStream
from reelforge.domain.plan import fit_short_side, ladder, plan_jobs, sheet_times
from reelforge.domain.presets import load_builtin_presets

PRESETS = load_builtin_presets(resource("presets"))
OUT = Path("/out")


def info(
    w: int,
    h: int,
    *,
    rotation: int = 0,
    audio: bool = True,
    duration: float = 10.0,
    codec: str = "h264",
    acodec: str = "aac",
    interlaced: bool = False,
) -> MediaInfo:
    return MediaInfo(
        path="/src/clip.mov",
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration=duration,
        size=1000,
        video=(
            VideoStream(
                0, codec, w, h, "yuv420p", fps=25.0, rotation=rotation, interlaced=interlaced
            ),
        ),
        audio=(AudioStream(1, acodec, 2, 48000, default=True),) if audio else (),
    )


def rungs(mi: MediaInfo) -> list[tuple[str, int, int]]:
    (enc,) = [j.spec for j in plan_jobs(mi, PRESETS["web"], OUT) if j.spec.kind is JobKind.ENCODE]
    return [(o.role, o.width, o.height) for o in enc.outputs]


def test_web_ladder_on_1080p_landscape() -> None:
    assert rungs(info(1920, 1080)) == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
    ]


def test_never_upscales_a_720p_source() -> None:
    assert rungs(info(1280, 720)) == [("720p", 1280, 720), ("480p", 854, 480)]


def test_portrait_stays_portrait_by_the_short_side() -> None:
    assert rungs(info(1080, 1920)) == [
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("480p", 480, 854),
    ]


def test_rotation_metadata_is_honoured() -> None:
    # Stored landscape with a 90 degree display matrix: people see portrait.
    assert rungs(info(1920, 1080, rotation=90))[0] == ("1080p", 1080, 1920)


def test_small_source_gets_one_rendition_at_its_own_even_size() -> None:
    assert rungs(info(319, 179)) == [("178p", 318, 178)]


def test_odd_sizes_come_out_even() -> None:
    for role, w, h in rungs(info(1917, 1083)):
        assert w % 2 == 0 and h % 2 == 0, role


@given(st.integers(16, 8000), st.integers(16, 8000), st.sampled_from([0, 90, 180, 270]))
def test_any_size_gives_even_non_upscaled_rungs(w: int, h: int, rot: int) -> None:
    mi = info(w, h, rotation=rot)
    display = mi.main_video.display_size
    for rung in ladder(display, PRESETS["web"].renditions):
        assert rung["width"] % 2 == 0 and rung["height"] % 2 == 0
        assert min(rung["width"], rung["height"]) <= max(2, min(display) + 1)
        # orientation preserved
        if display[0] > display[1] * 1.1:
            assert rung["width"] >= rung["height"]
        if display[1] > display[0] * 1.1:
            assert rung["height"] >= rung["width"]


def test_fit_short_side_keeps_aspect() -> None:
    w, h = fit_short_side((3840, 1600), 720)
    assert h == 720 and abs(w / h - 3840 / 1600) < 0.01


def test_outputs_are_named_by_stem_and_role() -> None:
    jobs = plan_jobs(info(1920, 1080), PRESETS["web"], OUT)
    paths = sorted(o.path for j in jobs for o in j.spec.outputs)
    assert paths == sorted(
        f"/out/clip/clip.{r}" for r in ("1080p.mp4", "720p.mp4", "480p.mp4", "poster.jpg")
    )


def test_lanes_keep_thumbnails_light_and_encodes_heavy() -> None:
    kinds = {j.spec.kind: j.spec.lane for j in plan_jobs(info(1920, 1080), PRESETS["web"], OUT)}
    assert kinds == {JobKind.ENCODE: Lane.HEAVY, JobKind.THUMBNAILS: Lane.LIGHT}


def test_audio_only_source_is_rejected_by_video_presets() -> None:
    mi = MediaInfo("/src/a.m4a", "mov", 3.0, 10, audio=(AudioStream(0, "aac", 2, 44100),))
    for name in ("web", "thumbnails", "preview", "remux"):
        jobs = plan_jobs(mi, PRESETS[name], OUT)
        assert jobs and all(j.reject == "no video stream (audio-only file)" for j in jobs)
    (audio,) = plan_jobs(mi, PRESETS["audio"], OUT)
    assert audio.reject is None and audio.spec.params["copy"] is True


def test_audio_preset_without_audio_track() -> None:
    (job,) = plan_jobs(info(640, 360, audio=False), PRESETS["audio"], OUT)
    assert job.reject == "no audio track to extract"


def test_web_without_audio_expects_no_audio_stream() -> None:
    jobs = plan_jobs(info(640, 360, audio=False), PRESETS["web"], OUT)
    enc = next(j.spec for j in jobs if j.spec.kind is JobKind.ENCODE)
    assert enc.params["audio_index"] is None
    assert not any(o.has_audio for o in enc.outputs)


def test_interlaced_source_is_deinterlaced() -> None:
    enc = plan_jobs(info(720, 576, interlaced=True), PRESETS["web"], OUT)[0].spec
    assert enc.params["deinterlace"] is True


@pytest.mark.parametrize(
    ("codec", "acodec", "reason"),
    [
        ("h264", "aac", None),
        ("prores", "aac", "cannot remux into MP4: prores video needs an encode"),
        ("h264", "pcm_s16le", "cannot remux into MP4: pcm_s16le audio needs an encode"),
    ],
)
def test_remux_only_when_mp4_takes_the_codecs(codec: str, acodec: str, reason: str | None) -> None:
    (job,) = plan_jobs(info(1280, 720, codec=codec, acodec=acodec), PRESETS["remux"], OUT)
    if reason is None:
        assert job.reject is None
    else:
        assert job.reject is not None and job.reject.startswith(reason)


def test_contact_sheet_times_are_spread_and_inside() -> None:
    times = sheet_times(90.0, 9, 25.0)
    assert times == sorted(times) and len(set(times)) == 9
    assert 0 < times[0] < 10 and 80 < times[-1] < 90
    assert sheet_times(0.0, 4, None) == [0.0] * 4
    assert all(t <= 0.12 for t in sheet_times(0.2, 9, 25.0))


def test_preview_is_short_and_small() -> None:
    (pv,) = plan_jobs(info(1920, 1080, duration=60), PRESETS["preview"], OUT)
    p = pv.spec.params
    assert p["seconds"] <= 5 and p["width"] <= 480 and p["start"] + p["seconds"] <= 60
    (short,) = plan_jobs(info(1920, 1080, duration=2), PRESETS["preview"], OUT)
    assert short.spec.params["seconds"] == 2 and short.spec.params["start"] == 0


def test_identical_posters_from_two_presets_are_made_once() -> None:
    from reelforge.services.queue import _without_duplicate_posters

    mi = info(1920, 1080)
    planned = [*plan_jobs(mi, PRESETS["web"], OUT), *plan_jobs(mi, PRESETS["thumbnails"], OUT)]
    kept = _without_duplicate_posters(planned)
    roles = sorted(o.role for j in kept for o in j.spec.outputs)
    assert roles == ["1080p", "480p", "720p", "contact", "poster"]
    sheet_job = next(j.spec for j in kept if any(o.role == "contact" for o in j.spec.outputs))
    assert "poster" not in sheet_job.params and "sheet" in sheet_job.params
    assert sheet_job.label == "thumbnails: contact"
