"""Job spec -> ffmpeg argv, built with ffmpeg-python (it escapes filter graphs for us).

Argv lists only, never a shell. Every path goes in as `file:<absolute path>`, so a name that
starts with a dash or looks like a protocol ("http:x.mp4", "concat:a|b") is just a name.
The argv excludes the binary and the progress flags: media.process adds those.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import ffmpeg

from reelforge.domain.spec import JobSpec

X264_LIKE = {"h264": "libx264", "hevc": "libx265"}
# HDR (PQ/HLG) to SDR BT.709: linearise, tone-map, back to BT.709 limited range.
_TONEMAP = (
    ("zscale", {"t": "linear", "npl": 100}),
    ("format", {"pix_fmts": "gbrpf32le"}),
    ("zscale", {"p": "bt709"}),
    ("tonemap", {"tonemap": "hable", "desat": 0}),
    ("zscale", {"t": "bt709", "m": "bt709", "r": "tv"}),
)


def file_url(path: str | Path) -> str:
    return f"file:{Path(path).absolute()}"


def _input(spec: JobSpec, **options: Any) -> Any:
    return ffmpeg.input(file_url(spec.source), **options)


def _args(*outputs: Any) -> list[str]:
    stream = ffmpeg.merge_outputs(*outputs) if len(outputs) > 1 else outputs[0]
    return [*stream.global_args("-y").get_args()]


def _clean_video(stream: Any, params: Mapping[str, Any], tonemap: bool) -> Any:
    """Deinterlace, tone-map HDR when the build can, and land on 8-bit 4:2:0."""
    if params.get("deinterlace"):
        stream = stream.filter("bwdif", mode="send_frame", parity="auto", deint="interlaced")
    if params.get("hdr") and tonemap:
        for name, kwargs in _TONEMAP:
            stream = stream.filter(name, **kwargs)
    return stream


def encode_args(
    spec: JobSpec, temps: Mapping[str, Path], *, tonemap: bool, threads: int = 0
) -> list[str]:
    """The rendition ladder: decode once, split, scale and encode every rung."""
    return _ladder_args(spec, temps, _input(spec), tonemap=tonemap, threads=threads, audio=True)


def segment_args(
    spec: JobSpec,
    temps: Mapping[str, Path],
    *,
    start: float,
    end: float | None,
    half_frame: float,
    first_frame: float,
    tonemap: bool,
) -> list[str]:
    """One segment of the ladder, video only (domain/split.py): the frames from the keyframe
    at `start` up to the one at `end`. The window opens and closes half a frame early, so a
    frame on a cut belongs to exactly one segment however the times were rounded. ffmpeg counts
    an input's -t from the first frame it keeps (`first_frame`: the cut, or where the video
    starts for the first segment), not from the -ss point."""
    options: dict[str, Any] = {}
    read_from = start - half_frame if start > 0 else 0.0
    if read_from > 0:
        options["ss"] = f"{read_from:.6f}"
    if end is not None:
        options["t"] = f"{end - half_frame - first_frame:.6f}"
    src = _input(spec, **options)
    return _ladder_args(spec, temps, src, tonemap=tonemap, threads=0, audio=False, piece=True)


def join_args(
    spec: JobSpec,
    temps: Mapping[str, Path],
    piece_lists: Mapping[str, Path],
    *,
    video_offset: float,
) -> list[str]:
    """Each rung's pieces joined by stream copy; the audio encoded once, from the source."""
    p = spec.params
    src = _input(spec)
    outputs = []
    for rung in p["rungs"]:
        pieces = ffmpeg.input(
            file_url(piece_lists[rung["role"]]),
            f="concat",
            safe=0,
            **({"itsoffset": f"{video_offset:.6f}"} if video_offset > 0 else {}),
        )
        streams = [pieces["v"]]
        opts: dict[str, Any] = {"c:v": "copy", "map_metadata": -1, "map_chapters": -1}
        if p.get("audio_index") is not None:
            streams.append(src[str(p["audio_index"])])
            opts.update(_audio_opts(rung))
        if rung["codec"] != "vp9":
            opts["movflags"] = "+faststart"
        outputs.append(ffmpeg.output(*streams, file_url(temps[rung["role"]]), **opts))
    return _args(*outputs)


def concat_list(pieces: list[Path], lengths: list[float]) -> str:
    """A concat demuxer list. Each piece's duration is declared as the distance between its
    cuts (the last is left to the file), so the next piece starts exactly at its cut."""
    lines = []
    for i, piece in enumerate(pieces):
        quoted = str(piece.absolute()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
        if i < len(pieces) - 1:
            lines.append(f"duration {lengths[i]:.6f}")
    return "\n".join(lines) + "\n"


def _audio_opts(rung: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "c:a": "libopus" if rung["codec"] == "vp9" else "aac",
        "b:a": rung["audio_bitrate"],
        "ac": 2,
    }


def _ladder_args(
    spec: JobSpec,
    temps: Mapping[str, Path],
    src: Any,
    *,
    tonemap: bool,
    threads: int,
    audio: bool,
    piece: bool = False,
) -> list[str]:
    p = spec.params
    rungs = p["rungs"]
    video = _clean_video(src[str(p["video_index"])], p, tonemap)
    branches = video.filter_multi_output("split", len(rungs)) if len(rungs) > 1 else None
    outputs = []
    for i, rung in enumerate(rungs):
        v = branches[i] if branches is not None else video
        if rung.get("max_fps") and (p.get("fps") or 0) > rung["max_fps"]:
            v = v.filter("fps", fps=rung["max_fps"])
        v = v.filter("scale", rung["width"], rung["height"], flags="bicubic")
        v = v.filter("setsar", "1").filter("format", "yuv420p")
        streams = [v]
        opts: dict[str, Any] = {"map_metadata": -1, "map_chapters": -1}
        if rung["codec"] == "vp9":
            opts.update(
                {
                    "c:v": "libvpx-vp9",
                    "crf": rung["crf"],
                    "b:v": 0,
                    "row-mt": 1,
                    "deadline": "good",
                    "cpu-used": 4,
                }
            )
        else:
            opts.update(
                {"c:v": X264_LIKE[rung["codec"]], "crf": rung["crf"], "preset": rung["speed"]}
            )
            if rung["codec"] == "hevc":
                opts["tag:v"] = "hvc1"  # plays in Apple players
            if not piece:  # a piece is read once by the join: no second pass to move the index
                opts["movflags"] = "+faststart"
        if threads:
            opts["threads"] = threads
        if audio and p.get("audio_index") is not None:
            streams.append(src[str(p["audio_index"])])
            opts.update(_audio_opts(rung))
        outputs.append(ffmpeg.output(*streams, file_url(temps[rung["role"]]), **opts))
    return _args(*outputs)


def _drawtext(stream: Any, text: str, font: Path, size: int) -> Any:
    return stream.filter(
        "drawtext",
        text=text,
        fontfile=str(font),
        fontsize=size,
        fontcolor="white",
        x="w-tw-8",
        y="h-th-8",
        box=1,
        boxcolor="black@0.55",
        boxborderw=4,
    )


def timestamp(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def frame_timestamp(seek: float) -> str:
    """A drawtext label of the frame's own time, HH:MM:SS, for a frame seeked to ``seek``.

    With input seeking, ffmpeg gives the first frame pts = its time - the seek time, so
    t + seek is where the frame sits in the file: for a keyframe seek, that is the keyframe
    actually shown, not the time asked for. No commas: they would split the filter graph.
    A frame ffmpeg cannot time (t is NAN) makes drawtext fail, and the job falls back.
    """
    x = f"(t+{seek:g}+0.0005)"  # + half a millisecond: 164 - 166.667 + 166.667 is 163.99999
    h = f"floor({x}/3600)"
    m = f"floor({x}/60)-60*floor({x}/3600)"
    sec = f"floor({x})-60*floor({x}/60)"
    return ":".join(f"%{{eif:{part}:d:2}}" for part in (h, m, sec))


class _FramePool:
    """One seeked input per distinct time; a time wanted twice is split, not opened twice.

    (ffmpeg-python merges identical input nodes, so two inputs at one time would otherwise feed
    two chains from a single stream, which ffmpeg refuses.)
    """

    def __init__(
        self, spec: JobSpec, times: list[float], keyframe_times: AbstractSet[float]
    ) -> None:
        p = spec.params
        idx = str(p["video_index"])
        wanted: dict[float, int] = {}
        for t in times:
            wanted[t] = wanted.get(t, 0) + 1
        self._streams: dict[float, list[Any]] = {}
        for t, n in wanted.items():
            # One thread: frame threading would hold the frame back until several packets
            # are in, and ffmpeg's input threads go on decoding until the outputs close.
            seek = _KEYFRAME_SEEK if t in keyframe_times else _EXACT_SEEK
            v = _clean_video(_input(spec, ss=t, **seek)[idx], p, tonemap=False)
            self._streams[t] = (
                [v] if n == 1 else list(_outputs(v.filter_multi_output("split", n), n))
            )

    def take(self, t: float) -> Any:
        return self._streams[t].pop()


def _outputs(node: Any, n: int) -> list[Any]:
    return [node[i] for i in range(n)]


# Keyframe seek: land on the keyframe at or before the time and decode nothing else.
_KEYFRAME_SEEK: dict[str, Any] = {"noaccurate_seek": None, "skip_frame": "nokey", "threads": 1}
_EXACT_SEEK: dict[str, Any] = {"threads": 1}

# image2 writes one picture; "update" stops it reading "%d" in a file name as a sequence pattern.
_STILL = {"frames:v": 1, "q:v": 3, "update": 1}


def thumbnail_times(spec: JobSpec, roles: AbstractSet[str]) -> list[float]:
    p = spec.params
    times = [p["poster"]["at"]] if "poster" in roles else []
    if "contact" in roles:
        times += p["sheet"]["times"]
    return times


def thumbnails_args(
    spec: JobSpec,
    temps: Mapping[str, Path],
    *,
    font: Path,
    keyframe_times: AbstractSet[float] = frozenset(),
) -> list[str]:
    """Poster and contact sheet from one process: one input seek per frame, no full decode.

    Times in ``keyframe_times`` take the keyframe at or before them (see media.keyframes);
    the others decode up to the exact time.
    """
    p = spec.params
    pool = _FramePool(spec, thumbnail_times(spec, temps.keys()), keyframe_times)
    outputs = []
    if "poster" in temps:
        po = p["poster"]
        v = pool.take(po["at"]).filter("scale", po["width"], po["height"])
        outputs.append(
            ffmpeg.output(v.filter("format", "yuvj420p"), file_url(temps["poster"]), **_STILL)
        )
    if "contact" in temps:
        sh = p["sheet"]
        tiles = []
        for t in sh["times"]:
            v = pool.take(t).filter("scale", sh["tile_width"], sh["tile_height"])
            v = v.filter("setsar", "1")
            if sh.get("timestamps"):
                label = frame_timestamp(t) if t in keyframe_times else timestamp(t)
                v = _drawtext(v, label, font, max(12, sh["tile_height"] // 9))
            tiles.append(v.filter("format", "yuv420p"))
        grid = f"{sh['columns']}x{sh['rows']}"
        sheet = (
            tiles[0]
            if len(tiles) == 1
            else ffmpeg.filter(tiles, "xstack", inputs=len(tiles), grid=grid, fill="black")
        )
        outputs.append(
            ffmpeg.output(sheet.filter("format", "yuvj420p"), file_url(temps["contact"]), **_STILL)
        )
    return _args(*outputs)


def audio_args(spec: JobSpec, temps: Mapping[str, Path]) -> list[str]:
    p = spec.params
    a = _input(spec)[str(p["audio_index"])]
    opts: dict[str, Any] = {
        "vn": None,
        "sn": None,
        "dn": None,
        "movflags": "+faststart",
        "map_metadata": -1,
    }
    opts.update({"c:a": "copy"} if p.get("copy") else {"c:a": "aac", "b:a": p["bitrate"]})
    return _args(ffmpeg.output(a, file_url(temps["audio"]), **opts))


def preview_args(spec: JobSpec, temps: Mapping[str, Path], *, tonemap: bool) -> list[str]:
    p = spec.params
    v = _clean_video(_input(spec, ss=p["start"], t=p["seconds"])[str(p["video_index"])], p, tonemap)
    v = v.filter("fps", p["rate"]).filter("scale", p["width"], p["height"], flags="lanczos")
    target = file_url(temps["preview"])
    if p["format"] == "gif":
        split = v.filter_multi_output("split")
        palette = split[0].filter("palettegen", stats_mode="diff")
        v = ffmpeg.filter([split[1], palette], "paletteuse", dither="bayer", bayer_scale=4)
        return _args(ffmpeg.output(v, target, loop=0, an=None))
    v = v.filter("format", "yuva420p")
    return _args(
        ffmpeg.output(
            v,
            target,
            **{"c:v": "libwebp_anim", "quality": 60, "compression_level": 4, "loop": 0, "an": None},
        )
    )


def remux_args(spec: JobSpec, temps: Mapping[str, Path]) -> list[str]:
    src = _input(spec)
    streams = [src[str(i)] for i in spec.params["streams"]]
    opts = {"c": "copy", "movflags": "+faststart", "sn": None, "dn": None, "f": "mp4"}
    return _args(ffmpeg.output(*streams, file_url(temps["remux"]), **opts))
