"""probe() and fingerprint() on media generated on the spot (lavfi), good files and bad."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import av
import av.error
import pytest

from mediagen import FFMPEG, ffmpeg, make_clip, make_image
from reelforge.domain.media_info import MediaInfo
from reelforge.media.binaries import has_encoder
from reelforge.media.probe import ProbeError, fingerprint, probe

FFPROBE = shutil.which("ffprobe")


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe-media")


def lavfi_video(seconds: float = 1.0, size: str = "160x120", rate: int = 10) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]


# --- good files: the shared fixtures --------------------------------------------------------


def test_landscape_clip(landscape_clip: Path) -> None:
    info = probe(landscape_clip)
    assert info.path == str(landscape_clip)
    assert "mp4" in info.format_name.split(",")
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.size == landscape_clip.stat().st_size
    assert info.bit_rate is not None
    assert info.bit_rate > 0
    assert info.tags.get("major_brand") == "isom"
    assert not info.still_image
    assert info.subtitles == 0

    (video,) = info.video
    assert (video.index, video.codec, video.width, video.height) == (0, "h264", 1280, 720)
    assert video.pix_fmt == "yuv420p"
    assert video.bit_depth == 8
    assert video.fps == pytest.approx(25.0)
    assert video.frames == 50
    assert video.rotation == 0
    assert video.display_size == (1280, 720)
    assert not video.interlaced
    assert not video.hdr
    assert not video.alpha
    assert not video.attached_pic

    (audio,) = info.audio
    assert (audio.index, audio.codec, audio.channels, audio.sample_rate) == (1, "aac", 1, 48000)
    assert audio.default
    assert audio.language is None  # "und" means "not set"
    assert info.default_audio == audio


def test_portrait_clip_rotation(portrait_clip: Path) -> None:
    video = probe(portrait_clip).main_video
    assert video is not None
    assert (video.width, video.height) == (1280, 720)  # stored landscape ...
    assert video.rotation == 90
    assert video.display_size == (720, 1280)  # ... shown portrait


@pytest.mark.parametrize("rotation", [180, 270])
def test_other_rotations_are_normalised(gen: Path, rotation: int) -> None:
    # PyAV reports counter-clockwise -180..180 (270 comes back as -90); we normalise.
    clip = make_clip(gen / f"rot{rotation}.mp4", size="320x240", seconds=0.4, audio=False,
                     rotation=rotation)  # fmt: skip
    video = probe(clip).main_video
    assert video is not None
    assert video.rotation == rotation
    assert video.display_size == ((240, 320) if rotation == 270 else (320, 240))


@pytest.mark.skipif(FFPROBE is None, reason="no ffprobe on PATH to cross-check against")
@pytest.mark.parametrize("name", ["portrait_clip", "landscape_clip", "tiny_clip"])
def test_agrees_with_ffprobe(name: str, request: pytest.FixtureRequest) -> None:
    clip: Path = request.getfixturevalue(name)
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-print_format", "json", "-show_streams", str(clip)],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    streams = json.loads(out.stdout)["streams"]
    ref = next(s for s in streams if s["codec_type"] == "video")
    rotation = 0
    for side in ref.get("side_data_list", []):
        if "rotation" in side:
            rotation = round(float(side["rotation"]) / 90) * 90 % 360
    video = probe(clip).video[0]
    assert (video.codec, video.width, video.height) == (ref["codec_name"], ref["width"],
                                                        ref["height"])  # fmt: skip
    assert video.rotation == rotation


def test_silent_clip(silent_clip: Path) -> None:
    info = probe(silent_clip)
    assert info.audio == ()
    assert info.default_audio is None
    assert info.main_video is not None
    assert info.main_video.display_size == (640, 360)


def test_tiny_clip(tiny_clip: Path) -> None:
    info = probe(tiny_clip)
    assert info.main_video is not None
    assert info.main_video.display_size == (318, 178)
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_audio_file(audio_file: Path) -> None:
    info = probe(audio_file)
    assert info.video == ()
    (audio,) = info.audio
    assert (audio.codec, audio.channels, audio.sample_rate) == ("aac", 1, 44100)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert not info.still_image


def test_still_image(still_image: Path) -> None:
    info = probe(still_image)
    assert info.still_image
    (video,) = info.video
    assert (video.codec, video.width, video.height) == ("png", 320, 240)
    assert video.fps is None  # the demuxer's made-up 25 fps is not reported
    assert info.duration == 0.0


def test_jpeg_is_a_still_image(gen: Path) -> None:
    info = probe(make_image(gen / "still.jpg"))
    assert info.still_image
    assert info.video[0].codec == "mjpeg"


def test_jpeg_exif_orientation_is_a_rotation(gen: Path) -> None:
    # Orientation 6 = "turn 90° clockwise to view": ffmpeg's decoder turns EXIF into a
    # display matrix on the frame (-90, counter-clockwise), which probe normalises to 270.
    tiff = b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0)
    app1 = b"Exif\x00\x00" + tiff + struct.pack(">I", 0)
    data = make_image(gen / "plain.jpg").read_bytes()
    path = gen / "exif-orientation-6.jpg"
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    info = probe(path)
    assert info.still_image
    assert info.video[0].rotation == 270
    assert info.video[0].display_size == (240, 320)


def test_to_dict_round_trip_is_json(landscape_clip: Path) -> None:
    info = probe(landscape_clip)
    again = MediaInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert again == info


# --- good files: special properties ---------------------------------------------------------


def test_two_audio_tracks_default_flag_and_language(gen: Path) -> None:
    path = gen / "two-audio.mp4"
    ffmpeg(
        *lavfi_video(),
        "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
        "-f", "lavfi", "-i", "sine=frequency=880:duration=1",
        "-map", "0:v", "-map", "1:a", "-map", "2:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
        "-disposition:a:0", "0", "-disposition:a:1", "default",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
        str(path),
    )  # fmt: skip
    info = probe(path)
    first, second = info.audio
    assert (first.index, first.default, first.language) == (1, False, "eng")
    assert (second.index, second.default, second.language) == (2, True, "fra")
    assert info.default_audio == second


def test_ten_bit(gen: Path) -> None:
    clip = make_clip(gen / "ten-bit.mp4", size="320x240", seconds=0.4, audio=False,
                     pix_fmt="yuv420p10le")  # fmt: skip
    video = probe(clip).video[0]
    assert video.pix_fmt == "yuv420p10le"
    assert video.bit_depth == 10


@pytest.mark.skipif(not has_encoder(FFMPEG, "libx265"), reason="this ffmpeg has no libx265")
def test_hevc_pq_is_hdr_and_ten_bit(gen: Path) -> None:
    path = gen / "pq.mp4"
    ffmpeg(
        *lavfi_video(0.4),
        "-vf", "setparams=color_trc=smpte2084:color_primaries=bt2020:colorspace=bt2020nc",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-pix_fmt", "yuv420p10le", str(path),
    )  # fmt: skip
    video = probe(path).video[0]
    assert video.codec == "hevc"
    assert video.hdr
    assert video.bit_depth == 10


def test_hlg_is_hdr(gen: Path) -> None:
    clip = make_clip(gen / "hlg.mp4", size="160x120", seconds=0.4, audio=False, extra=(
        "-vf", "setparams=color_trc=arib-std-b67:color_primaries=bt2020:colorspace=bt2020nc",
    ))  # fmt: skip
    assert probe(clip).video[0].hdr


def test_interlaced(gen: Path) -> None:
    clip = make_clip(gen / "interlaced.mp4", size="320x240", seconds=0.4, audio=False,
                     extra=("-vf", "setfield=tff", "-flags", "+ilme+ildct"))  # fmt: skip
    assert probe(clip).video[0].interlaced


def test_progressive_is_not_interlaced(silent_clip: Path) -> None:
    assert not probe(silent_clip).video[0].interlaced


@pytest.mark.parametrize(
    ("name", "codec_args", "codec", "min_depth"),
    [
        ("qtrle.mov", ("-c:v", "qtrle"), "qtrle", 8),
        ("prores4444.mov", ("-c:v", "prores_ks", "-pix_fmt", "yuva444p10le"), "prores", 10),
        ("png.mov", ("-c:v", "png"), "png", 8),
    ],
)
def test_alpha(gen: Path, name: str, codec_args: tuple[str, ...], codec: str,
               min_depth: int) -> None:  # fmt: skip
    path = gen / name
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=0.3,format=rgba", *codec_args,
           str(path))  # fmt: skip
    info = probe(path)
    video = info.video[0]
    assert video.codec == codec
    assert video.alpha
    assert video.bit_depth >= min_depth
    assert not info.still_image  # three frames of png in mov is a video


def test_opaque_png_has_no_alpha(still_image: Path) -> None:
    assert not probe(still_image).video[0].alpha


def test_animated_gif_is_not_a_still(gen: Path) -> None:
    path = gen / "animated.gif"
    ffmpeg(*lavfi_video(1.0), str(path))
    info = probe(path)
    assert not info.still_image
    assert info.video[0].codec == "gif"
    assert info.video[0].frames == 10
    assert info.duration == pytest.approx(1.0, abs=0.15)


def test_single_frame_gif_is_a_still(gen: Path) -> None:
    path = gen / "single.gif"
    ffmpeg(*lavfi_video(1.0), "-frames:v", "1", str(path))
    assert probe(path).still_image


def test_animated_png_is_not_a_still(gen: Path) -> None:
    path = gen / "animated.apng"
    ffmpeg(*lavfi_video(0.5), "-plays", "0", str(path))
    assert not probe(path).still_image


def test_cover_art_is_not_the_main_video(gen: Path, still_image: Path) -> None:
    path = gen / "with-cover.mp3"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=duration=1", "-i", str(still_image),
        "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "png",
        "-disposition:v", "attached_pic", str(path),
    )  # fmt: skip
    info = probe(path)
    assert info.audio[0].codec == "mp3"  # the codec, not the decoder ("mp3float")
    (cover,) = info.video
    assert cover.attached_pic
    assert cover.fps is None
    assert info.main_video is None
    assert not info.still_image


def test_subtitle_tracks_are_counted(gen: Path) -> None:
    srt = gen / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,500\nhello\n", encoding="utf-8")
    path = gen / "with-subs.mp4"
    ffmpeg(*lavfi_video(0.5), "-i", str(srt), "-map", "0", "-map", "1",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "mov_text", str(path))  # fmt: skip
    assert probe(path).subtitles == 1


# --- bad files ---------------------------------------------------------------------------


def reason_of(path: Path | str) -> ProbeError:
    with pytest.raises(ProbeError) as caught:
        probe(path)
    err = caught.value
    assert "\n" not in str(err)
    return err


def test_missing_file(tmp_path: Path) -> None:
    assert str(reason_of(tmp_path / "nope.mp4")) == "file not found"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert str(reason_of(path)) == "empty file"


def test_directory(tmp_path: Path) -> None:
    assert str(reason_of(tmp_path)) == "not a file"


@pytest.mark.timeout(10)
def test_fifo_is_not_a_file_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    assert str(reason_of(fifo)) == "not a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path, landscape_clip: Path) -> None:
    path = tmp_path / "locked.mp4"
    shutil.copy(landscape_clip, path)
    path.chmod(0)
    try:
        assert str(reason_of(path)) == "permission denied"
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_permission_error_from_av_is_mapped(
    landscape_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs as root too (CI containers): the error PyAV raises for EACCES, injected.
    def denied(*args: object, **kwargs: object) -> None:
        raise av.error.PermissionError(13, "Permission denied", str(landscape_clip))

    monkeypatch.setattr(av, "open", denied)
    err = reason_of(landscape_clip)
    assert str(err) == "permission denied"
    assert "Permission denied" in err.detail


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.mp4"
    path.write_bytes(os.urandom(200_000))
    err = reason_of(path)
    assert str(err) == "not a media file"
    assert "Invalid data found when processing input" in err.detail


def test_probe_error_survives_pickling() -> None:
    err = pickle.loads(pickle.dumps(ProbeError("not a media file", "InvalidDataError: ...")))
    assert isinstance(err, ProbeError)
    assert (str(err), err.detail) == ("not a media file", "InvalidDataError: ...")


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mov"
    path.write_text("hello, this is not a movie\n" * 20, encoding="utf-8")
    assert str(reason_of(path)) == "not a media file"


def test_mp4_cut_before_its_moov(tmp_path: Path, landscape_clip: Path) -> None:
    data = landscape_clip.read_bytes()
    assert data.rfind(b"moov") > len(data) // 2  # default muxing: the index is at the end
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    err = reason_of(path)
    assert str(err) == "file is truncated or damaged (moov atom not found)"
    assert err.detail


def test_mp4_cut_inside_its_moov(tmp_path: Path, landscape_clip: Path) -> None:
    data = landscape_clip.read_bytes()
    path = tmp_path / "cut-late.mp4"
    path.write_bytes(data[:-2000])
    assert str(reason_of(path)).startswith("file is truncated or damaged (")


def test_subtitles_only(tmp_path: Path) -> None:
    path = tmp_path / "only.srt"
    path.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    assert str(reason_of(path)) == "no audio or video streams"


@pytest.mark.parametrize("damage", ["head", "zeros-middle", "flip-bytes", "tail-only"])
def test_damaged_files_never_leak_av_errors(tmp_path: Path, landscape_clip: Path,
                                            damage: str) -> None:  # fmt: skip
    data = bytearray(landscape_clip.read_bytes())
    if damage == "head":
        data = data[:300]
    elif damage == "zeros-middle":
        mid = len(data) // 2
        data[mid : mid + 200_000] = bytes(200_000)
    elif damage == "flip-bytes":
        for i in range(0, len(data), 997):
            data[i] ^= 0xFF
    else:
        data = data[-100_000:]
    path = tmp_path / f"{damage}.mp4"
    path.write_bytes(bytes(data))
    outcome: MediaInfo | ProbeError
    try:
        outcome = probe(path)
    except ProbeError as exc:
        outcome = exc
    # Anything else (an av.error.*, ValueError ...) fails the test by propagating.
    if isinstance(outcome, ProbeError):
        assert str(outcome)
        assert "\n" not in str(outcome)
    else:
        assert isinstance(outcome, MediaInfo)


# --- fingerprint ---------------------------------------------------------------------------


def test_fingerprint_is_stable_and_follows_content(tmp_path: Path, landscape_clip: Path) -> None:
    first = fingerprint(landscape_clip)
    assert first == fingerprint(str(landscape_clip))
    int(first, 16)  # hex

    copy = tmp_path / "copy-with-another-name.mp4"
    shutil.copy(landscape_clip, copy)
    assert fingerprint(copy) == first

    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in a small file: hashed whole
    copy.write_bytes(bytes(data))
    assert fingerprint(copy) != first


def test_fingerprint_of_big_files_samples_head_middle_tail(tmp_path: Path) -> None:
    mib = 1024 * 1024
    data = bytearray(os.urandom(9 * mib))
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(data))
    base = fingerprint(path)

    for offset in (10, len(data) // 2, len(data) - 10):  # inside the three sampled MiB
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        path.write_bytes(bytes(changed))
        assert fingerprint(path) != base, offset

    path.write_bytes(bytes(data) + b"x")  # size is part of the key
    assert fingerprint(path) != base

    outside = bytearray(data)
    outside[2 * mib] ^= 0xFF  # between head and middle: deliberately not read
    path.write_bytes(bytes(outside))
    assert fingerprint(path) == base
