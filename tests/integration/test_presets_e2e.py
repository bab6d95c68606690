"""Every built-in preset, end to end through the CLI, every output checked with Debian's ffprobe.

Batches run once per module (one `reelforge process` per preset over all the fixture sources,
plus one batch over a zoo of containers and codecs); each test then checks one job's outputs.
Expected sizes are written out by hand, not recomputed with the planner's own functions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checkers import (
    CliRun,
    assert_faststart,
    assert_no_temp_files,
    assert_one_line,
    audio_stream,
    display_size,
    duration,
    ffprobe,
    ffprobe_json,
    is_animated_webp,
    jpeg_size,
    packet_hashes,
    run_cli,
    streams,
    video_stream,
)
from mediagen import ffmpeg, make_clip
from reelforge.domain.naming import safe_stem
from reelforge.media.webp import read_webp

pytestmark = pytest.mark.usefixtures("ffprobe")
_ = ffprobe  # the fixture, imported so pytestmark can use it

BUILTINS = ("web", "thumbnails", "audio", "preview", "remux")
AUDIO_ONLY = "no video stream (audio-only file)"
DURATION_SLACK = 0.5


@pytest.fixture(scope="module", autouse=True)
def _qt(qapp: Any) -> None:
    """A QApplication before main() makes its QCoreApplication (pytest-qt tests need one)."""


@functools.cache
def probe_cached(path: str) -> dict[str, Any]:
    return ffprobe_json(path)


@dataclass
class Batch:
    run: CliRun
    out: Path

    def job(self, source: Path, kind: str, preset: str | None = None) -> dict[str, Any]:
        match = {"kind": kind} if preset is None else {"kind": kind, "preset": preset}
        return self.run.one(source, **match)

    def succeeded(self, source: Path, kind: str, preset: str | None = None) -> dict[str, Path]:
        job = self.job(source, kind, preset)
        assert job["status"] == "succeeded", job
        assert job["error"] is None, job
        return roles(job, self.out)

    def failed(self, source: Path, kind: str, preset: str | None = None) -> str:
        job = self.job(source, kind, preset)
        assert job["status"] == "failed", job
        assert job["outputs"] == [], job
        assert_one_line(job["error"])
        return job["error"]


_COUNTER = re.compile(r" \(\d+\)$")


def roles(job: dict[str, Any], out: Path) -> dict[str, Path]:
    """Outputs by role, checking the `<out>/<stem>/<stem>.<role>.<ext>` layout on the way."""
    stem = safe_stem(Path(job["source"]).stem)
    found: dict[str, Path] = {}
    for raw in job["outputs"]:
        path = Path(raw)
        assert path.is_absolute(), path
        assert path.is_file(), f"{path} is recorded but missing"
        assert path.parent == out / stem, f"{path} is not in {out / stem}"
        assert path.name.startswith(f"{stem}."), path.name
        role, _ext = path.name[len(stem) + 1 :].rsplit(".", 1)
        found[_COUNTER.sub("", role)] = path
    return found


def make_batch(
    tmp_path_factory: pytest.TempPathFactory, name: str, sources: list[Path], presets: list[str]
) -> Batch:
    home = tmp_path_factory.mktemp(f"home-{name}")
    out = tmp_path_factory.mktemp(f"out-{name}")
    args = ["process", *map(str, sources), "-o", str(out), "--json", "-j", "2"]
    for preset in presets:
        args += ["-p", preset]
    run = run_cli(args, home=home)
    assert run.rc in (0, 1), run.stderr
    assert_no_temp_files(out)
    # Every source is probed once, and every job of the batch reports exactly once.
    ids = [j["job"] for j in run.jobs]
    assert len(ids) == len(set(ids))
    assert len([j for j in run.jobs if j["kind"] == "probe"]) == len(sources)
    return Batch(run, out)


# --- the fixture sources through every built-in ----------------------------------------------


@pytest.fixture(scope="module")
def src(
    landscape_clip: Path,
    portrait_clip: Path,
    silent_clip: Path,
    tiny_clip: Path,
    audio_file: Path,
) -> dict[str, Path]:
    return {
        "landscape": landscape_clip,
        "portrait": portrait_clip,
        "silent": silent_clip,
        "tiny": tiny_clip,
        "audio": audio_file,
    }


@pytest.fixture(scope="module")
def builtin(
    src: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Batch]:
    """preset -> the batch of that preset over all fixture sources (run on first use)."""
    cache: dict[str, Batch] = {}

    def get(preset: str) -> Batch:
        if preset not in cache:
            cache[preset] = make_batch(tmp_path_factory, preset, list(src.values()), [preset])
        return cache[preset]

    return get


def check_rendition(path: Path, source: Path, size: tuple[int, int], *, audio: bool) -> None:
    info = ffprobe_json(path)
    src_info = probe_cached(str(source))
    v = video_stream(info)
    assert v is not None, f"{path}: no video"
    assert v["codec_name"] == "h264", v["codec_name"]
    assert v["pix_fmt"] == "yuv420p", v["pix_fmt"]  # 8-bit 4:2:0, plays everywhere
    assert int(v["width"]) % 2 == 0
    assert int(v["height"]) % 2 == 0
    assert display_size(v) == size
    assert v.get("field_order", "progressive") in ("progressive", "unknown")
    assert len(streams(info, "video")) == 1
    a = streams(info, "audio")
    if audio:
        assert len(a) == 1, f"{path}: audio streams {a}"
        assert a[0]["codec_name"] == "aac"
    else:
        assert a == [], f"{path}: audio from a silent source"
    assert streams(info, "subtitle") == []
    assert_faststart(path)
    assert duration(info) == pytest.approx(duration(src_info), abs=DURATION_SLACK)


WEB_LADDER = {
    "landscape": {"720p": (1280, 720), "480p": (854, 480)},
    "portrait": {"720p": (720, 1280), "480p": (480, 854)},
    "silent": {"360p": (640, 360)},
    "tiny": {"178p": (318, 178)},  # below every rung: one rendition at its own size
}
POSTER = {
    "landscape": (1280, 720),
    "portrait": (720, 1280),
    "silent": (640, 360),
    "tiny": (318, 178),
}
CONTACT = {  # 3 x 3 tiles, each at most 480 wide
    "landscape": (3 * 480, 3 * 270),
    "portrait": (3 * 480, 3 * 854),
    "silent": (3 * 480, 3 * 270),
    "tiny": (3 * 318, 3 * 178),
}
PREVIEW = {
    "landscape": (480, 270),
    "portrait": (480, 854),
    "silent": (480, 270),
    "tiny": (318, 178),
}
VIDEO_SOURCES = tuple(WEB_LADDER)


def test_fixture_sources_are_what_they_claim(src: dict[str, Path]) -> None:
    """Guards the checker and the fixtures: the expectations below rest on these facts."""
    shown = {}
    for name in VIDEO_SOURCES:
        v = video_stream(probe_cached(str(src[name])))
        assert v is not None
        shown[name] = display_size(v)
    assert shown == {
        "landscape": (1280, 720),
        "portrait": (720, 1280),  # stored 1280x720 with a 90 degree display matrix
        "silent": (640, 360),
        "tiny": (318, 178),
    }
    assert audio_stream(probe_cached(str(src["silent"]))) is None
    audio_only = probe_cached(str(src["audio"]))
    assert streams(audio_only, "video") == []
    assert audio_stream(audio_only)["codec_name"] == "aac"  # type: ignore[index]


@pytest.mark.parametrize("name", VIDEO_SOURCES)
def test_web_renditions(builtin: Callable[[str], Batch], src: dict[str, Path], name: str) -> None:
    batch = builtin("web")
    outs = batch.succeeded(src[name], "encode")
    ladder = WEB_LADDER[name]
    assert set(outs) == set(ladder), f"never above the source: got {sorted(outs)}"
    has_audio = audio_stream(probe_cached(str(src[name]))) is not None
    assert has_audio == (name != "silent")
    for role, size in ladder.items():
        assert outs[role].name == f"{src[name].stem}.{role}.mp4"
        check_rendition(outs[role], src[name], size, audio=has_audio)


@pytest.mark.parametrize("name", VIDEO_SOURCES)
def test_web_poster(builtin: Callable[[str], Batch], src: dict[str, Path], name: str) -> None:
    outs = builtin("web").succeeded(src[name], "thumbnails")
    assert set(outs) == {"poster"}
    assert jpeg_size(outs["poster"]) == POSTER[name]


def test_web_on_a_720p_source_never_makes_1080p(
    builtin: Callable[[str], Batch], src: dict[str, Path]
) -> None:
    batch = builtin("web")
    assert not list(batch.out.rglob("*1080p*"))
    job = batch.job(src["landscape"], "encode")
    assert job["label"] == "web: 720p, 480p"


def test_web_on_audio_only_fails_with_a_reason(
    builtin: Callable[[str], Batch], src: dict[str, Path]
) -> None:
    batch = builtin("web")
    assert batch.run.rc == 1  # the audio-only file fails; everything else succeeded
    assert batch.failed(src["audio"], "encode") == AUDIO_ONLY
    assert batch.failed(src["audio"], "thumbnails") == AUDIO_ONLY
    assert not (batch.out / src["audio"].stem).exists()
    failed = [j for j in batch.run.jobs if j["status"] != "succeeded"]
    assert {Path(j["source"]).name for j in failed} == {src["audio"].name}


@pytest.mark.parametrize("name", VIDEO_SOURCES)
def test_thumbnails(builtin: Callable[[str], Batch], src: dict[str, Path], name: str) -> None:
    outs = builtin("thumbnails").succeeded(src[name], "thumbnails")
    assert set(outs) == {"poster", "contact"}
    assert jpeg_size(outs["poster"]) == POSTER[name]
    assert jpeg_size(outs["contact"]) == CONTACT[name]


def check_audio_extract(path: Path, source: Path, *, copied: bool) -> None:
    info = ffprobe_json(path)
    assert path.suffix == ".m4a"
    assert streams(info, "video") == []
    (a,) = streams(info, "audio")
    assert a["codec_name"] == "aac"
    assert duration(info) == pytest.approx(duration(probe_cached(str(source))), abs=DURATION_SLACK)
    assert_faststart(path)
    if copied:  # bit for bit: same packets, so same rate, channels and about the same bit rate
        s = default_audio(probe_cached(str(source)))
        assert s["codec_name"] == "aac"
        assert a["sample_rate"] == s["sample_rate"]
        assert a["channels"] == s["channels"]
        if s.get("bit_rate"):  # mkv keeps no per-stream bit rate
            assert int(a["bit_rate"]) == pytest.approx(int(s["bit_rate"]), rel=0.25)
        assert packet_hashes(path, a["index"]) == packet_hashes(source, s["index"])


def default_audio(info: dict[str, Any]) -> dict[str, Any]:
    """The audio stream flagged default, else the first (what the audio preset must take)."""
    found = streams(info, "audio")
    assert found, "no audio"
    return next((a for a in found if a.get("disposition", {}).get("default")), found[0])


@pytest.mark.parametrize("name", ["landscape", "portrait", "tiny", "audio"])
def test_audio_extract_copies_aac(
    builtin: Callable[[str], Batch], src: dict[str, Path], name: str
) -> None:
    outs = builtin("audio").succeeded(src[name], "audio")
    assert set(outs) == {"audio"}
    check_audio_extract(outs["audio"], src[name], copied=True)


def test_audio_extract_of_a_silent_clip_fails(
    builtin: Callable[[str], Batch], src: dict[str, Path]
) -> None:
    batch = builtin("audio")
    assert batch.failed(src["silent"], "audio") == "no audio track to extract"
    assert batch.run.rc == 1
    assert not (batch.out / src["silent"].stem).exists()


def check_preview(path: Path, size: tuple[int, int], expected_seconds: float) -> None:
    data = path.read_bytes()
    assert is_animated_webp(data), f"{path} is not an animated WebP"
    info = read_webp(path)
    assert info.animated
    assert info.frames >= 2
    assert (info.width, info.height) == size
    assert info.width <= 480
    assert info.duration <= 5.0 + 0.1
    assert info.duration == pytest.approx(expected_seconds, abs=DURATION_SLACK)


@pytest.mark.parametrize("name", VIDEO_SOURCES)
def test_preview(builtin: Callable[[str], Batch], src: dict[str, Path], name: str) -> None:
    outs = builtin("preview").succeeded(src[name], "preview")
    assert set(outs) == {"preview"}
    assert outs["preview"].suffix == ".webp"
    expected = min(5.0, duration(probe_cached(str(src[name]))))
    check_preview(outs["preview"], PREVIEW[name], expected)


def _label(key: str, value: Any) -> Any:
    # MP4 has one object type (0x6B) for every MPEG-1 audio layer, so copied mp2 packets read
    # back as "mp3". The packet hashes below prove the bytes are the same either way.
    if key == "codec_name" and value == "mp2":
        return "mp3"
    return value


def check_remux(path: Path, source: Path) -> None:
    """Stream copy: the same streams, codecs and sizes, and bit-identical packets."""
    info, src_info = ffprobe_json(path), probe_cached(str(source))
    assert "mp4" in info["format"]["format_name"]
    assert_faststart(path)
    for kind in ("video", "audio"):
        got, want = streams(info, kind), streams(src_info, kind)
        assert len(got) == len(want), f"{kind}: {len(got)} streams, source has {len(want)}"
        for g, w in zip(got, want, strict=True):
            for key in ("codec_name", "profile", "pix_fmt", "width", "height", "sample_rate",
                        "channels"):  # fmt: skip
                got_v, want_v = _label(key, g.get(key)), _label(key, w.get(key))
                assert got_v == want_v, f"{kind} {key}: {got_v} != {want_v}"
        for g, w in zip(got, want, strict=True):  # bit-exact packets: a copy, not an encode
            copied = packet_hashes(path, g["index"])
            assert copied, f"{kind}: no packets"
            assert copied == packet_hashes(source, w["index"])
    v, w = video_stream(info), video_stream(src_info)
    if v is not None and w is not None:
        assert display_size(v) == display_size(w)  # the display matrix survives the copy
    assert duration(info) == pytest.approx(duration(src_info), abs=DURATION_SLACK)


@pytest.mark.parametrize("name", VIDEO_SOURCES)
def test_remux(builtin: Callable[[str], Batch], src: dict[str, Path], name: str) -> None:
    outs = builtin("remux").succeeded(src[name], "remux")
    assert set(outs) == {"remux"}
    assert outs["remux"].suffix == ".mp4"
    check_remux(outs["remux"], src[name])


@pytest.mark.parametrize("preset", ["thumbnails", "preview", "remux"])
def test_video_presets_on_audio_only_fail(
    builtin: Callable[[str], Batch], src: dict[str, Path], preset: str
) -> None:
    batch = builtin(preset)
    kind = "thumbnails" if preset == "thumbnails" else preset
    assert batch.failed(src["audio"], kind) == AUDIO_ONLY
    assert batch.run.rc == 1
    assert not (batch.out / src["audio"].stem).exists()


# --- a zoo of containers, codecs and oddities ------------------------------------------------

LAVFI_V = ["-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=1"]


def _two_audio(path: Path) -> None:
    # Track 0: stereo 48 kHz, not default. Track 1: mono 22.05 kHz, flagged default.
    ffmpeg(
        *LAVFI_V,
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1"),
        *("-f", "lavfi", "-i", "sine=frequency=880:sample_rate=22050:duration=1"),
        *("-map", "0:v", "-map", "1:a", "-map", "2:a"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-ac:a:0", "2", "-ac:a:1", "1"),
        *("-disposition:a:0", "0", "-disposition:a:1", "default"),
        str(path),
    )


def _subtitles(path: Path) -> None:
    srt = path.with_suffix(".srt")
    srt.write_text("1\n00:00:00,000 --> 00:00:00,900\nhello\n", encoding="utf-8")
    ffmpeg(
        *LAVFI_V,
        *("-f", "lavfi", "-i", "sine=duration=1", "-i", str(srt)),
        *("-map", "0:v", "-map", "1:a", "-map", "2:s"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-c:s", "mov_text"),
        str(path),
    )
    srt.unlink()


def _vfr(path: Path) -> None:
    # 12 frames at 25 fps, then 13 at 12.5 fps: a real variable frame rate.
    make_clip(
        path,
        size="320x180",
        seconds=1,
        extra=(
            *("-vf", "setpts='if(lt(N,12),N/25,12/25+(N-12)*2/25)/TB'"),
            *("-fps_mode", "vfr"),
        ),
    )


def _clip(**kw: Any) -> Callable[[Path], Any]:
    return lambda p: make_clip(p, **{"size": "320x180", "seconds": 1, **kw})


X265 = ("-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1")
ZOO: dict[str, Callable[[Path], Any]] = {
    "mkv_h264.mkv": _clip(),
    "webm_vp9.webm": _clip(
        vcodec="libvpx-vp9", extra=("-c:a", "libopus", "-deadline", "realtime", "-cpu-used", "8")
    ),
    "ts_mpeg2.ts": _clip(vcodec="mpeg2video", extra=("-c:a", "mp2")),
    "avi_mpeg4.avi": _clip(vcodec="mpeg4", extra=("-c:a", "libmp3lame")),
    "prores422_10bit.mov": _clip(
        vcodec="prores_ks", pix_fmt="yuv422p10le", extra=("-profile:v", "2", "-c:a", "pcm_s16le")
    ),
    "pcm_audio.mkv": _clip(extra=("-c:a", "pcm_s16le")),
    "hevc_10bit.mp4": _clip(vcodec="libx265", pix_fmt="yuv420p10le", extra=X265),
    "interlaced.mp4": _clip(extra=("-flags", "+ilme+ildct", "-vf", "setfield=tff")),
    "yuv444.mp4": _clip(pix_fmt="yuv444p"),
    # testsrc2 rounds sizes to even: scale after it for a truly odd frame (4:4:4 allows it).
    "odd_size_444.mp4": _clip(pix_fmt="yuv444p", extra=("-vf", "scale=317:179")),
    "alpha_qtrle.mov": _clip(vcodec="qtrle", pix_fmt="argb", audio=False),
    "alpha_prores4444.mov": _clip(
        vcodec="prores_ks", pix_fmt="yuva444p10le", audio=False, extra=("-profile:v", "4444")
    ),
    "animated.gif": _clip(size="160x90", rate=10, vcodec="gif", pix_fmt="rgb8", audio=False),
    "three_frames.mp4": _clip(seconds=0.12, audio=False),
    "vfr.mp4": _vfr,
    "two_audio.mp4": _two_audio,
    "subtitles.mp4": _subtitles,
    "eight_seconds.mp4": _clip(size="160x90", seconds=8),  # longer than a preview may be
}
REMUX_REFUSED = {  # source -> what the reason must name
    "prores422_10bit.mov": "prores video",
    "alpha_qtrle.mov": "qtrle video",
    "alpha_prores4444.mov": "prores video",
    "animated.gif": "gif video",
    "pcm_audio.mkv": "pcm_s16le audio",
    # MP4 has one type for all MPEG-1 audio and players read mp2 as mp3: re-encode it instead.
    "ts_mpeg2.ts": "mp2 audio",
}
# Thumbnails and previews go through a smaller set: they cost more per source than they teach.
SHEET_SOURCES = (
    "hevc_10bit.mp4",
    "interlaced.mp4",
    "alpha_prores4444.mov",
    "vfr.mp4",
    "eight_seconds.mp4",
)


@pytest.fixture(scope="module")
def zoo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("zoo")
    files = {}
    for name, make in ZOO.items():
        make(folder / name)
        files[name] = folder / name
    return files


@pytest.fixture(scope="module")
def zoo(zoo_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """web + audio + remux over every zoo source, in one batch."""
    return make_batch(tmp_path_factory, "zoo", list(zoo_files.values()), ["web", "audio", "remux"])


@pytest.fixture(scope="module")
def zoo_sheets(zoo_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Batch:
    files = [zoo_files[n] for n in SHEET_SOURCES]
    return make_batch(tmp_path_factory, "zoo-sheets", files, ["thumbnails", "preview"])


def _even_size_near(size: tuple[int, int], source: tuple[int, int]) -> None:
    assert size[0] % 2 == 0
    assert size[1] % 2 == 0
    assert abs(size[0] - source[0]) <= 2
    assert abs(size[1] - source[1]) <= 2


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_web(zoo: Batch, zoo_files: dict[str, Path], name: str) -> None:
    source = zoo_files[name]
    src_info = probe_cached(str(source))
    sv = video_stream(src_info)
    assert sv is not None
    outs = zoo.succeeded(source, "encode")
    assert len(outs) == 1, f"a source under 480p makes one rendition: {sorted(outs)}"
    ((role, path),) = outs.items()
    info = ffprobe_json(path)
    v = video_stream(info)
    assert v is not None
    size = display_size(v)
    _even_size_near(size, display_size(sv))
    assert role == f"{size[1]}p"
    check_rendition(path, source, size, audio=audio_stream(src_info) is not None)
    poster = zoo.succeeded(source, "thumbnails", "web")["poster"]
    _even_size_near(jpeg_size(poster), display_size(sv))


@pytest.mark.slow
def test_zoo_sources_are_what_they_claim(zoo_files: dict[str, Path]) -> None:
    """Guards the generators: a test of "10-bit HEVC" must really get 10-bit HEVC."""

    def v(name: str) -> dict[str, Any]:
        stream = video_stream(probe_cached(str(zoo_files[name])))
        assert stream is not None
        return stream

    assert v("hevc_10bit.mp4")["codec_name"] == "hevc"
    assert v("hevc_10bit.mp4")["pix_fmt"] == "yuv420p10le"
    assert v("prores422_10bit.mov")["pix_fmt"] == "yuv422p10le"
    assert v("interlaced.mp4")["field_order"] in ("tt", "tb")
    assert v("yuv444.mp4")["pix_fmt"] == "yuv444p"
    assert (v("odd_size_444.mp4")["width"], v("odd_size_444.mp4")["height"]) == (317, 179)
    assert v("alpha_qtrle.mov")["pix_fmt"] == "argb"
    assert v("alpha_prores4444.mov")["pix_fmt"].startswith("yuva444p")
    assert v("animated.gif")["codec_name"] == "gif"
    assert int(v("three_frames.mp4")["nb_frames"]) == 3
    assert v("vfr.mp4")["avg_frame_rate"] != v("vfr.mp4")["r_frame_rate"]
    assert v("webm_vp9.webm")["codec_name"] == "vp9"
    assert v("ts_mpeg2.ts")["codec_name"] == "mpeg2video"
    assert v("avi_mpeg4.avi")["codec_name"] == "mpeg4"
    two = streams(probe_cached(str(zoo_files["two_audio.mp4"])), "audio")
    assert [a["disposition"]["default"] for a in two] == [0, 1]
    subs = streams(probe_cached(str(zoo_files["subtitles.mp4"])), "subtitle")
    assert [s["codec_name"] for s in subs] == ["mov_text"]


@pytest.mark.slow
def test_zoo_interlaced_source_is_deinterlaced(zoo: Batch, zoo_files: dict[str, Path]) -> None:
    (path,) = zoo.succeeded(zoo_files["interlaced.mp4"], "encode").values()
    v = video_stream(path)
    assert v is not None
    assert v.get("field_order") == "progressive"


@pytest.mark.slow
def test_zoo_two_audio_tracks_use_the_default_one(zoo: Batch, zoo_files: dict[str, Path]) -> None:
    source = zoo_files["two_audio.mp4"]
    extract = zoo.succeeded(source, "audio")["audio"]
    (a,) = streams(extract, "audio")
    assert (a["channels"], a["sample_rate"]) == (1, "22050")  # track 1, the default
    check_audio_extract(extract, source, copied=True)  # AAC already: copied, not re-encoded
    (rendition,) = zoo.succeeded(source, "encode").values()
    (ra,) = streams(rendition, "audio")
    assert ra["sample_rate"] == "22050"  # the rendition follows the default track too


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["mkv_h264.mkv", "webm_vp9.webm", "ts_mpeg2.ts", "avi_mpeg4.avi", "prores422_10bit.mov"],
)
def test_zoo_audio_extract(zoo: Batch, zoo_files: dict[str, Path], name: str) -> None:
    source = zoo_files[name]
    extract = zoo.succeeded(source, "audio")["audio"]
    copied = default_audio(probe_cached(str(source)))["codec_name"] == "aac"
    check_audio_extract(extract, source, copied=copied)
    if not copied:  # encoded to AAC at the preset's 192k (mono here: libfdk-less aac undershoots)
        (a,) = streams(extract, "audio")
        assert 64_000 < int(a["bit_rate"]) <= 200_000


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["alpha_qtrle.mov", "alpha_prores4444.mov", "animated.gif", "three_frames.mp4"],
)
def test_zoo_audio_extract_without_audio_fails(
    zoo: Batch, zoo_files: dict[str, Path], name: str
) -> None:
    assert zoo.failed(zoo_files[name], "audio") == "no audio track to extract"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [n for n in ZOO if n not in REMUX_REFUSED],
)
def test_zoo_remux(zoo: Batch, zoo_files: dict[str, Path], name: str) -> None:
    (path,) = zoo.succeeded(zoo_files[name], "remux").values()
    check_remux(path, zoo_files[name])
    assert streams(path, "subtitle") == []  # MP4 remux keeps audio and video only


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REMUX_REFUSED))
def test_zoo_remux_refuses_codecs_mp4_cannot_take(
    zoo: Batch, zoo_files: dict[str, Path], name: str
) -> None:
    reason = zoo.failed(zoo_files[name], "remux")
    assert reason.startswith("cannot remux into MP4"), reason
    assert REMUX_REFUSED[name] in reason, reason
    assert not list((zoo.out / zoo_files[name].stem).glob("*.remux*"))


@pytest.mark.slow
def test_zoo_batch_fails_only_where_expected(zoo: Batch, zoo_files: dict[str, Path]) -> None:
    assert zoo.run.rc == 1
    failed = {(Path(j["source"]).name, j["kind"]) for j in zoo.run.jobs if j["status"] == "failed"}
    no_audio = {"alpha_qtrle.mov", "alpha_prores4444.mov", "animated.gif", "three_frames.mp4"}
    expected = {(n, "remux") for n in REMUX_REFUSED} | {(n, "audio") for n in no_audio}
    assert failed == expected
    assert_no_temp_files(zoo.out)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHEET_SOURCES)
def test_zoo_thumbnails_and_preview(
    zoo_sheets: Batch, zoo_files: dict[str, Path], name: str
) -> None:
    source = zoo_files[name]
    sv = video_stream(probe_cached(str(source)))
    assert sv is not None
    w, h = display_size(sv)
    outs = zoo_sheets.succeeded(source, "thumbnails")
    assert jpeg_size(outs["poster"]) == (w, h)  # 320x180 sources: under the poster width
    assert jpeg_size(outs["contact"]) == (3 * w, 3 * h)
    preview = zoo_sheets.succeeded(source, "preview")["preview"]
    check_preview(preview, (w, h), min(5.0, duration(probe_cached(str(source)))))


@pytest.mark.parametrize("name", ["animated.gif", "three_frames.mp4"])
def test_zoo_thumbnails_of_very_short_clips(
    zoo_files: dict[str, Path], tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    run = run_cli(["process", zoo_files[name], "-p", "thumbnails", "-o", out, "--json"])
    job = run.one(zoo_files[name], kind="thumbnails")
    assert job["status"] == "succeeded", job["error"]
    outs = roles(job, out)
    assert set(outs) == {"poster", "contact"}
    sv = video_stream(probe_cached(str(zoo_files[name])))
    assert sv is not None
    w, h = display_size(sv)
    assert jpeg_size(outs["contact"]) == (3 * w, 3 * h)


def test_zoo_preview_of_a_three_frame_clip(zoo_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    source = zoo_files["three_frames.mp4"]
    run = run_cli(["process", source, "-p", "preview", "-o", out, "--json"])
    job = run.one(source, kind="preview")
    assert job["status"] == "succeeded", job["error"]
    (path,) = roles(job, out).values()
    info = read_webp(path)
    assert (info.width, info.height) == (320, 180)
    assert info.frames >= 1
