"""Reads the shape of an animated WebP (RIFF chunks), since ffmpeg cannot decode those back."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WebpInfo:
    width: int
    height: int
    frames: int
    duration: float  # seconds, summed frame durations
    animated: bool


def _u24(b: bytes) -> int:
    return b[0] | b[1] << 8 | b[2] << 16


def _still_size(tag: bytes, body: bytes) -> tuple[int, int]:
    if tag == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        w, h = struct.unpack_from("<HH", body, 6)
        return w & 0x3FFF, h & 0x3FFF
    if tag == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return 0, 0


def read_webp(path: Path) -> WebpInfo:
    """Parse the chunk list; raise ValueError with a short reason on anything malformed."""
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    declared = struct.unpack_from("<I", data, 4)[0] + 8
    if declared > len(data):
        raise ValueError("WebP file is truncated")
    pos, width, height, frames, ms, animated = 12, 0, 0, 0, 0, False
    while pos + 8 <= declared:
        tag, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            raise ValueError("WebP chunk is truncated")
        if tag == b"VP8X" and size >= 10:
            animated = bool(body[0] & 0x02)
            width, height = _u24(body[4:7]) + 1, _u24(body[7:10]) + 1
        elif tag == b"ANMF" and size >= 16:
            frames += 1
            ms += _u24(body[12:15])
        elif tag in (b"VP8 ", b"VP8L") and not animated:
            frames = max(frames, 1)  # a still (or one-frame) WebP: the size is in the bitstream
            if not width:
                width, height = _still_size(tag, body)
        pos += 8 + size + (size & 1)  # chunks are padded to even sizes
    if frames == 0:
        raise ValueError("WebP file has no frames")
    return WebpInfo(width, height, frames, ms / 1000.0, animated)
