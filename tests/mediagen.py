"""Test media made on the spot with ffmpeg's lavfi sources: small, fast, deterministic."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", *args],
        check=True,
        timeout=120,
    )


def make_clip(
    path: Path,
    *,
    size: str = "640x360",
    seconds: float = 2.0,
    rate: int = 25,
    audio: bool = True,
    vcodec: str = "libx264",
    pix_fmt: str = "yuv420p",
    extra: tuple[str, ...] = (),
    rotation: int = 0,
) -> Path:
    """A testsrc2 clip with an optional sine tone; every size, codec and container on request."""
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-map", "0:v"]
    if audio:
        args += ["-map", "1:a", "-c:a", "aac", "-b:a", "96k"]
    args += ["-c:v", vcodec, "-pix_fmt", pix_fmt]
    if vcodec == "libx264":
        args += ["-preset", "ultrafast", "-g", str(rate)]
    if not rotation:
        ffmpeg(*args, *extra, str(path))
        return path
    # A display matrix is an input option: encode first, then stamp it on by stream copy.
    plain = path.with_name(f"unrotated-{path.name}")
    ffmpeg(*args, *extra, str(plain))
    ffmpeg("-display_rotation:v:0", str(rotation), "-i", str(plain), "-c", "copy", str(path))
    plain.unlink()
    return path


def make_audio(path: Path, *, seconds: float = 2.0, codec: str = "aac") -> Path:
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=330:sample_rate=44100:duration={seconds}",
        "-c:a",
        codec,
        str(path),
    )
    return path


def make_image(path: Path, *, size: str = "320x240") -> Path:
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:d=1", "-frames:v", "1", str(path))
    return path
