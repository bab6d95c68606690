"""What a probe learns about a file: plain, frozen, JSON-able, no library types inside."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class VideoStream:
    index: int  # absolute stream index in the container (what ffmpeg's -map 0:N wants)
    codec: str  # ffmpeg codec name: h264, hevc, prores, gif, png ...
    width: int  # coded width, before rotation
    height: int
    pix_fmt: str | None = None
    bit_depth: int = 8
    fps: float | None = None
    frames: int | None = None
    rotation: int = 0  # degrees from the display matrix, normalised to 0/90/180/270
    interlaced: bool = False
    hdr: bool = False  # PQ or HLG transfer
    alpha: bool = False
    attached_pic: bool = False  # cover art, not a real video track

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as a person sees them (rotation applied)."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    channels: int = 0
    sample_rate: int = 0
    default: bool = False
    language: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    path: str
    format_name: str  # e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float  # seconds; 0.0 when unknown
    size: int  # bytes
    video: tuple[VideoStream, ...] = ()
    audio: tuple[AudioStream, ...] = ()
    subtitles: int = 0
    still_image: bool = False  # a single picture (png, jpeg ...), not a moving video
    bit_rate: int | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def main_video(self) -> VideoStream | None:
        """The first real video track (cover art does not count)."""
        return next((v for v in self.video if not v.attached_pic), None)

    @property
    def default_audio(self) -> AudioStream | None:
        """The track flagged default, else the first audio track."""
        return next((a for a in self.audio if a.default), self.audio[0] if self.audio else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        d = dict(data)
        d["video"] = tuple(VideoStream(**v) for v in d.get("video", ()))
        d["audio"] = tuple(AudioStream(**a) for a in d.get("audio", ()))
        d["tags"] = dict(d.get("tags") or {})
        return cls(**d)
