"""Reading what a media file contains, in-process with PyAV (no ffprobe subprocess).

probe() never lets a PyAV exception out: every failure is a ProbeError whose str() is one
short line for a person ("file not found", "not a media file" ...), with the library's own
words kept in ``detail`` for the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterable
from fractions import Fraction

import av
import av.error

from reelforge.domain.media_info import AudioStream, MediaInfo, VideoStream

# libavutil enum values (stable ABI): PyAV 18 exposes them as plain ints.
_TRC_SMPTE2084 = 16  # AVCOL_TRC_SMPTE2084, PQ
_TRC_ARIB_STD_B67 = 18  # AVCOL_TRC_ARIB_STD_B67, HLG
_FIELD_INTERLACED = {2, 3, 4, 5}  # AV_FIELD_TT, BB, TB, BT (0 unknown, 1 progressive)

# Demuxers that only ever hold one picture when given a single file path.
_IMAGE_FORMATS = {"image2", "webp_pipe", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe"}
# Codecs whose streams are pictures; a stream of them with a single frame is a still.
_IMAGE_CODECS = {
    "png",
    "mjpeg",
    "jpegls",
    "bmp",
    "tiff",
    "webp",
    "gif",
    "jpeg2000",
    "jpegxl",
    "dpx",
    "exr",
    "targa",
    "ppm",
    "pgm",
    "pbm",
    "pam",
    "sgi",
    "qoi",
    "hdr",
    "psd",
    "pcx",
    "xbm",
    "xpm",
    "xwd",
    "sunrast",
    "photocd",
    "pgx",
    "pictor",
    "avif",
}  # fmt: skip  (not apng: ffmpeg only picks the apng demuxer for animated PNGs)
_FIRST_FRAME_PACKET_BUDGET = 300  # demuxed packets before we give up on a first frame

FINGERPRINT_CHUNK = 1024 * 1024


class ProbeError(Exception):
    """A file we cannot use; str() is one human line, ``detail`` has the library's words."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[ProbeError], tuple[str, str]]:
        # Keeps detail when the error crosses a process boundary (process-pool executors).
        return type(self), (self.reason, self.detail)


def probe(path: str | os.PathLike[str], *, decode_first_frame: bool = True) -> MediaInfo:
    """Everything MediaInfo holds about ``path``; raises only ProbeError.

    ``decode_first_frame=False`` skips decoding a frame per video stream: rotation then
    reads 0 and interlacing comes from the headers only. Right for our own outputs (never
    rotated, never interlaced), and it saves 5-30 ms an output.
    """
    fspath = os.fspath(path)
    size = _check_file(fspath)
    try:
        container = av.open(fspath, metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise _open_error(fspath, exc) from None
    except OSError as exc:  # something below PyAV, outside ffmpeg's error codes
        raise _os_error(exc) from None
    except Exception as exc:  # the contract: nothing raw escapes probe()
        raise ProbeError("not a media file", f"{type(exc).__name__}: {exc}") from None
    try:
        return _read(container, fspath, size, decode_first_frame)
    except ProbeError:
        raise
    except Exception as exc:
        raise ProbeError(
            "could not read the media information", f"{type(exc).__name__}: {exc}"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            container.close()


def _check_file(path: str) -> int:
    """Size of a readable regular file, or the ProbeError that says why not."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _os_error(exc) from None
    if not stat.S_ISREG(st.st_mode):  # folders, FIFOs, devices: av.open could block on them
        raise ProbeError("not a file", f"{path} is not a regular file (mode {st.st_mode:o})")
    if st.st_size == 0:
        raise ProbeError("empty file", f"{path} has 0 bytes")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise _os_error(exc) from None
    return st.st_size


def _os_error(exc: OSError) -> ProbeError:
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, FileNotFoundError):
        return ProbeError("file not found", detail)
    if isinstance(exc, PermissionError):
        return ProbeError("permission denied", detail)
    if isinstance(exc, IsADirectoryError):
        return ProbeError("not a file", detail)
    if isinstance(exc, NotADirectoryError):  # "clip.mp4/x": a file used as a folder
        return ProbeError("file not found", detail)
    return ProbeError(f"cannot read the file ({exc.strerror or exc})", detail)


def _open_error(path: str, exc: av.error.FFmpegError) -> ProbeError:
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError):  # av.error.FileNotFoundError etc. subclass OSError
        return _os_error(exc)
    log = getattr(exc, "log", None)  # only set when the app turned PyAV logging on
    log_msg = str(log[2]).strip().rstrip(".") if log and len(log) > 2 else ""
    if log_msg:
        detail += f"; ffmpeg log: {log_msg}"
    if isinstance(exc, av.error.EOFError):
        return ProbeError("file is truncated or damaged (unexpected end of file)", detail)
    if isinstance(exc, av.error.InvalidDataError):
        # PyAV keeps ffmpeg's log off by default (its log callback can deadlock threads),
        # so "moov atom not found" is rarely in the exception: read the mp4 boxes instead.
        boxes = _mp4_top_level(path)
        if "moov atom not found" in log_msg or boxes == "no moov":
            return ProbeError("file is truncated or damaged (moov atom not found)", detail)
        if boxes == "moov":  # an mp4/mov with its index, yet unreadable
            return ProbeError(
                f"file is truncated or damaged ({log_msg or 'invalid data in the mp4 index'})",
                detail,
            )
        return ProbeError("not a media file", detail)
    reason = log_msg or str(getattr(exc, "strerror", "") or "").strip() or type(exc).__name__
    return ProbeError(f"cannot open the file ({reason})", detail)


_MP4_BOX_TYPES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}


def _mp4_top_level(path: str) -> str | None:
    """ "moov" or "no moov" for an ISO-BMFF file (mp4/mov), None for anything else.

    A missing moov is the classic cut-off recording or download: mp4 writers put the index
    at the end. Random bytes do not start with a known box, so they stay "not a media file".
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if fh.read(8)[4:8] not in _MP4_BOX_TYPES:
                return None
            offset = 0
            for _ in range(10_000):  # a real file has a handful of top-level boxes
                fh.seek(offset)
                header = fh.read(16)
                if len(header) < 8:
                    break
                box_size = int.from_bytes(header[:4], "big")
                if header[4:8] == b"moov":
                    return "moov"
                if box_size == 1 and len(header) == 16:  # 64-bit "largesize"
                    box_size = int.from_bytes(header[8:16], "big")
                if box_size < 8:  # 0 = "to the end of the file", or a broken chain
                    break
                offset += box_size
                if offset >= size:
                    break
    except OSError:
        return None
    return "no moov"


def _read(
    container: av.container.InputContainer, path: str, size: int, decode_first_frame: bool
) -> MediaInfo:
    videos = [s for s in container.streams if s.type == "video"]
    audios = [s for s in container.streams if s.type == "audio"]
    if not videos and not audios:
        raise ProbeError(
            "no audio or video streams",
            f"streams: {[s.type for s in container.streams] or 'none'}",
        )
    duration = _duration(container)
    first_frames = (
        _first_frames(container, [v for v in videos if not _is_attached_pic(v)])
        if decode_first_frame
        else {}
    )
    format_name = container.format.name if container.format else ""

    still = _is_still(container, format_name, videos, audios, duration, path)
    video = tuple(_video_stream(v, first_frames.get(v.index), still=still) for v in videos)
    audio = tuple(_audio_stream(a) for a in audios)
    if not duration:  # streams without a container duration: frames / fps
        duration = max((v.frames / v.fps for v in video if v.frames and v.fps), default=0.0)

    bit_rate = container.bit_rate or None
    return MediaInfo(
        path=path,
        format_name=format_name,
        duration=0.0 if still else duration,
        size=size,
        video=video,
        audio=audio,
        subtitles=sum(1 for s in container.streams if s.type == "subtitle"),
        still_image=still,
        bit_rate=bit_rate if bit_rate and bit_rate > 0 else None,
        tags=_tags(container.metadata),
    )


def _duration(container: av.container.InputContainer) -> float:
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    best = 0.0
    for s in container.streams:
        if s.duration and s.time_base and s.duration > 0:
            best = max(best, float(s.duration * s.time_base))
    return best


def _is_attached_pic(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _codec_name(stream: av.stream.Stream) -> str:
    cc = stream.codec_context
    if cc is None:
        return "unknown"
    # canonical_name is the codec ("mp3"), name the decoder picked for it ("mp3float").
    return cc.codec.canonical_name or cc.name or "unknown"


def _first_frames(
    container: av.container.InputContainer, streams: list[av.video.stream.VideoStream]
) -> dict[int, av.VideoFrame]:
    """Decode the first frame of each stream: PyAV 18 reads rotation only from frames.

    The display matrix lives in the stream's coded side data, which PyAV does not expose;
    the decoder copies it onto every frame, where ``frame.rotation`` reads it. One frame per
    stream is cheap, and a damaged payload just leaves the defaults (rotation 0).
    """
    frames: dict[int, av.VideoFrame] = {}
    wanted = {s.index for s in streams if s.codec_context is not None}
    if not wanted:
        return frames
    try:
        for n, packet in enumerate(container.demux(*[s for s in streams if s.index in wanted])):
            if n >= _FIRST_FRAME_PACKET_BUDGET:
                break
            if packet.stream.index in frames:
                continue
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                continue  # a broken packet: try the next one
            for frame in decoded:
                if isinstance(frame, av.VideoFrame):
                    frames.setdefault(packet.stream.index, frame)
            if wanted <= frames.keys():
                break
    except (av.error.FFmpegError, OSError):
        pass  # the metadata is still good; rotation and field order stay at their defaults
    return frames


def _bit_depth(pix_fmt: str | None) -> int:
    if not pix_fmt:
        return 8
    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, av.error.FFmpegError):
        return 8
    bits = max((c.bits for c in fmt.components), default=8)
    # rgb565, bayer and palette formats report fewer bits per component: call them 8-bit.
    return max(8, bits)


def _has_alpha(pix_fmt: str | None) -> bool:
    if not pix_fmt:
        return False
    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
    except (ValueError, av.error.FFmpegError):
        return pix_fmt.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "gbrap", "ya"))


def _rotation(frame: av.VideoFrame | None) -> int:
    if frame is None:
        return 0
    try:
        degrees = float(frame.rotation)  # counter-clockwise, -180..180, like ffprobe
    except (AttributeError, ValueError, TypeError):
        return 0
    return round(degrees / 90.0) * 90 % 360


def _fps(stream: av.video.stream.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate):
        if isinstance(rate, Fraction) and rate > 0:
            return float(rate)
    return None


def _video_stream(
    stream: av.video.stream.VideoStream, first: av.VideoFrame | None, *, still: bool
) -> VideoStream:
    cc = stream.codec_context
    attached = _is_attached_pic(stream)
    width = cc.width if cc is not None else 0
    height = cc.height if cc is not None else 0
    if first is not None and (not width or not height):
        width, height = first.width, first.height
    pix_fmt = cc.pix_fmt if cc is not None else None
    if not pix_fmt and first is not None:
        pix_fmt = first.format.name
    field_order = cc.field_order if cc is not None else 0
    interlaced = field_order in _FIELD_INTERLACED or bool(first and first.interlaced_frame)
    trc = cc.color_trc if cc is not None else None
    if first is not None and trc in (None, 2):  # 2: unspecified in the headers
        trc = first.color_trc
    return VideoStream(
        index=stream.index,
        codec=_codec_name(stream),
        width=width,
        height=height,
        pix_fmt=pix_fmt or None,
        bit_depth=_bit_depth(pix_fmt),
        # A picture has no frame rate; demuxers report a made-up 25 or 90000.
        fps=None if (attached or still) else _fps(stream),
        frames=stream.frames or None,
        rotation=_rotation(first),
        interlaced=interlaced,
        hdr=trc in (_TRC_SMPTE2084, _TRC_ARIB_STD_B67),
        alpha=_has_alpha(pix_fmt),
        attached_pic=attached,
    )


def _audio_stream(stream: av.audio.stream.AudioStream) -> AudioStream:
    cc = stream.codec_context
    language = (stream.metadata.get("language") or "").strip()
    return AudioStream(
        index=stream.index,
        codec=_codec_name(stream),
        channels=(cc.channels or 0) if cc is not None else 0,
        sample_rate=(cc.sample_rate or 0) if cc is not None else 0,
        default=bool(stream.disposition & av.stream.Disposition.default),
        # "und" is ISO 639 for "not set": the same as no tag for our purposes.
        language=language if language and language != "und" else None,
    )


def _is_still(
    container: av.container.InputContainer,
    format_name: str,
    videos: list[av.video.stream.VideoStream],
    audios: list[av.audio.stream.AudioStream],
    duration: float,
    path: str,
) -> bool:
    real = [v for v in videos if not _is_attached_pic(v)]
    if audios or len(real) != 1:
        return False
    stream = real[0]
    if format_name in _IMAGE_FORMATS or format_name.endswith("_pipe"):
        # One picture per file, except an animated WebP (the webp_pipe demuxer takes both).
        return not (format_name == "webp_pipe" and _is_animated_webp(path))
    if _codec_name(stream) not in _IMAGE_CODECS:
        return False
    frames = stream.frames
    if not frames:  # unknown count (mkv, gif without index ...): estimate from the duration
        fps = _fps(stream) or 25.0
        frames = round(duration * fps)
    return frames <= 1


def _is_animated_webp(path: str) -> bool:
    """The ANIM flag of a WebP's VP8X header (RIFF....WEBPVP8X <size> <flags>)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(21)
    except OSError:
        return False
    return (
        len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X"
        and bool(head[20] & 0x02)
    )  # fmt: skip


def _tags(metadata: object) -> dict[str, str]:
    if not isinstance(metadata, dict):
        try:
            metadata = dict(metadata)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return {}
    return {str(k): str(v) for k, v in metadata.items()}


def fingerprint(path: str | os.PathLike[str]) -> str:
    """Fast "same content?" key: blake2b of the size plus the first, middle and last MiB.

    Reads at most 3 MiB whatever the file size, so a 50 GB master costs the same as a clip.
    Files up to 3 MiB are hashed whole.
    """
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        h.update(size.to_bytes(8, "little"))
        if size <= 3 * FINGERPRINT_CHUNK:
            h.update(fh.read())
            return h.hexdigest()
        for offset in _chunk_offsets(size):
            fh.seek(offset)
            h.update(fh.read(FINGERPRINT_CHUNK))
    return h.hexdigest()


def _chunk_offsets(size: int) -> Iterable[int]:
    return (0, (size - FINGERPRINT_CHUNK) // 2, size - FINGERPRINT_CHUNK)
