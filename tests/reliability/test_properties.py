"""Properties of the pure parts that take outside input: presets, output names, ffmpeg progress.

tests/unit/test_progress.py already fuzzes ProgressParser with text lines; the extension here
covers the gap between ffmpeg's bytes and that parser: the reader threads of run_ffmpeg
(decoding, "\\r" splitting, the log file, the per-sample progress and ETA maths), which swallow
exceptions and would hide one.
"""

from __future__ import annotations

import io
import math
import os
import re
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reelforge.config import Settings, load_settings
from reelforge.domain.naming import first_free, is_temp_name, output_path, temp_path, with_counter
from reelforge.domain.presets import (
    NAME_PATTERN,
    Preset,
    PresetError,
    load_preset_file,
    load_user_presets,
    parse_preset,
)
from reelforge.media import process as process_module
from reelforge.media.process import Progress
from reelforge.media.progress import ProgressParser

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- presets ------------------------------------------------------------------------------------

# Keys with a line break are left to test_preset_error_is_one_line_whatever_the_key_holds.
keys = st.text(max_size=12).filter(lambda k: "\n" not in k and "\r" not in k)
wild_scalars = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, 2, -1, 15, 16, 17, 51, 52, 63, 64, 240, 241, 4320, 4322, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.5, 1e308, 5.0, 5.000001]),
    st.text(max_size=20),
    st.sampled_from(["h264", "vp9", "fast", "128k", "0k", "99999k", "webp", "", "nan", "-1"]),
    st.booleans(),
)
wild_values = st.recursive(
    wild_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def near(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly values around the field's own range (so presets do get accepted and checked),
    sometimes anything at all."""
    return st.one_of(valid, valid, valid, wild_values)


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    edges = st.sampled_from([lo, hi, math.nan, math.inf, -math.inf, lo - 1e-9, hi + 1e-9])
    return st.one_of(st.floats(lo - 1, hi + 1, allow_nan=False), edges)


bitrates = st.one_of(st.from_regex(r"[0-9]{1,5}k?", fullmatch=True), st.just("128k"))
even_sides = st.integers(7, 2161).map(lambda x: 2 * x)  # 14 .. 4322: both ends just outside
FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "renditions": {
        "name": st.one_of(st.from_regex(NAME_PATTERN, fullmatch=True), st.text(max_size=40)),
        "short_side": st.one_of(even_sides, st.integers(-2, 4400)),
        "codec": st.sampled_from(["h264", "hevc", "vp9", "h264", "vp9", "av1"]),
        "crf": st.integers(-1, 64),
        "speed": st.sampled_from(["ultrafast", "fast", "medium", "veryslow", "fast", "warp"]),
        "max_fps": floats(0, 240),
        "audio_bitrate": bitrates,
    },
    "poster": {"width": st.integers(0, 8000), "at": floats(0, 1)},
    "contact_sheet": {
        "columns": st.integers(-1, 12),
        "rows": st.integers(-1, 12),
        "tile_width": st.integers(0, 2500),
        "timestamps": st.booleans(),
    },
    "audio": {
        "codec": st.sampled_from(["aac", "mp3"]),
        "bitrate": bitrates,
        "copy_if_possible": st.booleans(),
    },
    "preview": {
        "seconds": floats(0, 5),
        "width": st.integers(0, 600),
        "fps": st.integers(-1, 40),
        "format": st.sampled_from(["webp", "gif", "png"]),
        "start": floats(0, 0.9),
    },
    "remux": {"container": st.sampled_from(["mp4", "mkv"])},
}


VALID: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "renditions": {
        "name": st.from_regex(NAME_PATTERN, fullmatch=True),
        "short_side": st.integers(8, 2160).map(lambda x: 2 * x),
        "codec": st.sampled_from(["h264", "hevc", "vp9"]),
        "crf": st.integers(0, 51),
        "speed": st.sampled_from(["ultrafast", "veryfast", "fast", "medium", "slow"]),
        "max_fps": st.floats(0.5, 240),
        "audio_bitrate": st.from_regex(r"[1-9][0-9]{1,3}k", fullmatch=True),
    },
    "poster": {"width": st.integers(16, 7680), "at": st.floats(0, 1)},
    "contact_sheet": {
        "columns": st.integers(1, 10),
        "rows": st.integers(1, 10),
        "tile_width": st.integers(64, 1920),
        "timestamps": st.booleans(),
    },
    "audio": {
        "codec": st.just("aac"),
        "bitrate": st.from_regex(r"[1-9][0-9]{1,3}k", fullmatch=True),
        "copy_if_possible": st.booleans(),
    },
    "preview": {
        "seconds": st.floats(0.1, 5),
        "width": st.integers(16, 480),
        "fps": st.integers(1, 30),
        "format": st.sampled_from(["webp", "gif"]),
        "start": st.floats(0, 0.9),
    },
    "remux": {"container": st.just("mp4")},
}


def plain(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy


def section(name: str, value: Any) -> st.SearchStrategy[Any]:
    """A section table: its real fields with `value(...)` values, sometimes a stray key.
    `plain` sections mostly hold valid values and now and then one just out of range."""
    if value is plain:
        fields = {
            f: st.one_of(VALID[name][f], VALID[name][f], VALID[name][f], VALID[name][f], edge)
            for f, edge in FIELDS[name].items()
        }
    else:
        fields = {f: value(v) for f, v in FIELDS[name].items()}
    must = ("name", "short_side") if name == "renditions" and value is plain else ()
    real = st.fixed_dictionaries(
        {f: fields[f] for f in must}, optional={f: fields[f] for f in fields if f not in must}
    )
    if value is plain:
        table = real
    else:
        extra = st.dictionaries(keys, wild_values, max_size=1)
        table = st.one_of(real, real, real, st.builds(lambda a, b: {**a, **b}, real, extra))
    if name == "renditions":
        return value(st.lists(table, min_size=value is plain, max_size=3 if value is plain else 9))
    return value(table)


def presets(value: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Preset tables; `plain` ones always have a rendition ladder, so many are accepted."""
    required = {"name": value(st.from_regex(NAME_PATTERN, fullmatch=True))}
    if value is plain:
        required["renditions"] = section("renditions", plain)
    optional = {
        "description": value(st.text(max_size=210)),
        "builtin": value(st.booleans()),
        **{s: section(s, value) for s in FIELDS if s not in required},
    }
    extra = st.dictionaries(keys, wild_values, max_size=2) if value is near else st.just({})
    return st.builds(
        lambda top, more: {**more, **top},
        st.fixed_dictionaries(required, optional=optional),
        st.one_of(st.just({}), extra),
    )


# Wild: any field may hold anything. Plain: every value in or just outside its field's range,
# so that many presets are accepted and the accepted ones get checked.
preset_dicts = st.one_of(presets(near), presets(plain))


def assert_sane(preset: Preset) -> None:
    """What an accepted preset promises the planner and ffmpeg."""
    assert re.fullmatch(NAME_PATTERN, preset.name)
    assert not preset.builtin
    assert (
        sum(
            bool(x)
            for x in (
                preset.renditions,
                preset.poster,
                preset.contact_sheet,
                preset.audio,
                preset.preview,
                preset.remux,
            )
        )
        >= 1
    )
    assert len(preset.renditions) <= 8
    assert len({r.name for r in preset.renditions}) == len(preset.renditions)
    for r in preset.renditions:
        assert isinstance(r.short_side, int) and r.short_side % 2 == 0
        assert 16 <= r.short_side <= 4320
        assert isinstance(r.crf, int) and 0 <= r.crf <= (63 if r.codec == "vp9" else 51)
        assert r.max_fps is None or (math.isfinite(r.max_fps) and 0 < r.max_fps <= 240)
        assert re.fullmatch(r"[1-9][0-9]{1,3}k", r.audio_bitrate)
    if preset.poster:
        assert 16 <= preset.poster.width <= 7680 and 0.0 <= preset.poster.at <= 1.0
    if preset.preview:
        p = preset.preview
        assert 0 < p.seconds <= 5 and 16 <= p.width <= 480 and 1 <= p.fps <= 30
        assert 0.0 <= p.start <= 0.9
    if preset.contact_sheet:
        cs = preset.contact_sheet
        assert 1 <= cs.columns <= 10 and 1 <= cs.rows <= 10 and 64 <= cs.tile_width <= 1920


def assert_one_line_from(err: PresetError, source: str) -> None:
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg, f"not one line: {msg!r}"
    assert msg.startswith(f"{source}: "), msg


@FAST
@given(preset_dicts)
@example({"name": "x", "renditions": [{"name": "a", "short_side": 241}]})
@example({"name": "x", "renditions": [{"name": "a", "short_side": 240, "crf": 52}]})
@example({"name": "x", "renditions": [{"name": "a", "short_side": 240, "max_fps": math.nan}]})
@example({"name": "x", "poster": {"at": math.nan}, "preview": {"seconds": math.inf}})
@example({"name": "x", "renditions": [{"name": "a", "short_side": 2**63}]})
@example({"name": "x", "builtin": True, "remux": {}})
@example({"name": "x", "renditions": [{"name": "a", "short_side": 16, "codec": "vp9", "crf": 63}]})
@example({"name": "x", "renditions": [{"name": "a", "short_side": 4320, "crf": 51}]})
@example(
    {"name": "x", "renditions": [{"name": "a", "short_side": 4320, "codec": "hevc", "crf": 52}]}
)
def test_parse_preset_raises_only_one_line_preset_errors(data: dict[str, Any]) -> None:
    try:
        preset = parse_preset(data, source="mine.toml")
    except PresetError as err:
        assert_one_line_from(err, "mine.toml")
    else:
        assert_sane(preset)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzed-presets")


@FAST
@given(data=preset_dicts)
def test_preset_files_load_or_fail_with_one_line_naming_the_file(
    files: Path, data: dict[str, Any]
) -> None:
    """The same through the real file loader: TOML written by tomli_w, read by tomllib."""
    path = files / "fuzzed.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    try:
        preset = load_preset_file(path)
    except PresetError as err:
        assert_one_line_from(err, "fuzzed.toml")
    else:
        assert_sane(preset)


@FAST
@given(raw=st.binary(max_size=200))
@example(raw=b"\xff\xfe")
@example(raw=b"name = 'x'\n[poster]\nwidth = 1e400\n")
@example(raw=b"[[renditions]]\n[renditions]\n")
def test_any_bytes_in_a_preset_file_give_a_preset_or_a_preset_error(
    files: Path, raw: bytes
) -> None:
    path = files / "bytes.toml"
    path.write_bytes(raw)
    try:
        load_preset_file(path)
    except PresetError as err:
        assert_one_line_from(err, "bytes.toml")


@pytest.mark.parametrize("key", ["a\nb", "x\ry", "evil\n[poster]"])
def test_preset_error_is_one_line_whatever_the_key_holds(key: str, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(tomli_w.dumps({"name": "mine", "poster": {}, key: 1}), encoding="utf-8")
    with pytest.raises(PresetError) as err:
        load_preset_file(path)
    assert_one_line_from(err.value, "mine.toml")


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return "{a = " * depth + "1" + "}" * depth


@pytest.mark.parametrize("kind", ["array", "table"])
def test_a_deeply_nested_preset_file_is_a_preset_error_not_a_crash(
    kind: str, tmp_path: Path
) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "deep.toml").write_text(f"x = {_nested(1000, kind)}\n", encoding="utf-8")
    (folder / "fine.toml").write_text("[poster]\nwidth = 320\n", encoding="utf-8")
    presets, errors = load_user_presets(folder, ["web"])
    assert list(presets) == ["fine"]
    assert len(errors) == 1
    assert errors[0].startswith("deep.toml: ")


def test_a_deeply_nested_settings_file_never_stops_the_app(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(f"stall_timeout = 30.0\nx = {_nested(1000, 'array')}\n", encoding="utf-8")
    assert load_settings(path) == Settings()


# --- output names -------------------------------------------------------------------------------

OUT = Path("/data/out")
ROLES = st.one_of(
    st.sampled_from(["1080p", "720p", "480p", "poster", "contact", "audio", "preview", "remux"]),
    st.from_regex(NAME_PATTERN, fullmatch=True),  # a user rendition name is a role too
)
EXTS = st.sampled_from(["mp4", "webm", "jpg", "m4a", "webp", "gif"])
# Any unicode name a file can have: no "/" (a path separator, not a name character) and no
# NUL; lone surrogates excluded (QueueService.prepare rejects non-UTF-8 names before planning).
file_names = st.text(min_size=1, max_size=300).map(lambda s: s.replace("/", "_").replace("\0", "_"))


def assert_inside(path: Path) -> None:
    assert path.is_relative_to(OUT), path
    rel = path.relative_to(OUT).parts
    assert len(rel) == 2, rel
    assert not {".", ".."} & set(rel), rel
    for part in rel:
        assert part and "\0" not in part
        assert len(part.encode("utf-8")) <= 255, part


@FAST
@given(st.lists(st.tuples(file_names, ROLES, EXTS), min_size=1, max_size=30, unique=True))
@example([(".rftmp-1234abcd-clip.mp4", "720p", "mp4"), ("..", "poster", "jpg")])
@example([("clip.mp4", "720p", "mp4"), ("clip.mov", "720p", "mp4"), ("clip", "720p", "mp4")])
@example([("e\u0301.mp4", "poster", "jpg"), ("\u00e9.mp4", "poster", "jpg")])  # NFD vs NFC
@example([("a" * 255, "abcdefghijklmnopqrstuvwxyz012345", "webm")])
def test_output_names_stay_inside_and_are_unique_after_first_free(
    inputs: list[tuple[str, str, str]],
) -> None:
    """What QueueService._resolve_names does: natural name, then the first free counter."""
    taken: set[Path] = set()
    chosen = []
    for name, role, ext in inputs:
        natural = output_path(OUT, Path("/media/in") / name, role, ext)
        path = first_free(natural, taken.__contains__)
        assert path not in taken
        taken.add(path)
        chosen.append(path)
        assert_inside(path)
        assert_inside(temp_path(path, "0123abcd"))
        assert_inside(temp_path(with_counter(natural, 9999), "0123abcd"))
        # A start-up sweep deletes temp-named files: an output must never look like one.
        assert not is_temp_name(path.name), path.name
        assert path.suffix == f".{ext}"
    assert len(set(chosen)) == len(inputs)


# --- ffmpeg's progress and log pipes, as run_ffmpeg's reader threads see them -------------------

lines = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.builds(
        lambda k, v: k + b"=" + v,
        st.sampled_from(
            [
                b"out_time_us",
                b"out_time_ms",
                b"out_time",
                b"speed",
                b"fps",
                b"frame",
                b"total_size",
                b"progress",
            ]
        ),
        st.one_of(
            st.binary(max_size=30),
            # Up to 1e300: beyond a float's range is test_progress_numbers_too_big_for_a_float.
            st.integers(-(10**300), 10**300).map(lambda i: str(i).encode()),
            st.sampled_from(
                [
                    b"9" * 5000,
                    b"-" + b"9" * 5000,
                    b"1e400",
                    b"nan",
                    b"N/A",
                    b"end",
                    b"continue",
                    b"1_000",
                    b"\xd9\xa1\xd9\xa2",
                    b"99999999999:59:59.999",
                    b"00:00:01.5\r",
                ]
            ),
        ),
    ),
)


@FAST
@given(st.lists(lines, max_size=60), st.one_of(st.none(), st.floats(allow_nan=True)))
@example([b"out_time_us=" + b"9" * 300, b"progress=continue"] * 3, 10.0)
@example([b"frame=1\rspeed=2x\r", b"progress=end"], None)
def test_ffmpeg_reader_threads_never_fail_on_any_bytes(
    raw: list[bytes], duration: float | None
) -> None:
    seen: list[Progress] = []
    logged: list[str] = []
    log_file = io.StringIO()
    run = process_module._Run(duration, seen.append, logged.append, log_file)
    pipe = b"\n".join(raw) + b"\n"
    # The readers swallow exceptions (a dead reader would stall ffmpeg on a full pipe) and
    # log them: here a swallowed exception fails the test instead.
    with mock.patch.object(process_module.log, "exception", side_effect=AssertionError):
        run.read_progress(io.BytesIO(pipe))
        _read_stderr_through_a_pipe(run, pipe)
    for p in [*seen, *([run.last_progress] if run.last_progress else [])]:
        assert p.percent is None or 0.0 <= p.percent <= 100.0, p
        assert p.eta is None or p.eta >= 0, p
        assert p.out_time is None or p.out_time >= 0, p
        assert p.speed is None or p.speed > 0, p
    # on_log gets a burst at a time: non-empty lines joined by newlines, no carriage returns.
    lines = [line for burst in logged for line in burst.split("\n")]
    assert all("\r" not in line and line.rstrip() == line and line for line in lines)
    assert len(run.tail) <= process_module.STDERR_TAIL
    assert log_file.getvalue().count("\n") == len(lines)


def _read_stderr_through_a_pipe(run: process_module._Run, data: bytes) -> None:
    """read_stderr gathers bursts with select() on the pipe's descriptor, as on ffmpeg's
    stderr: feed it through a real pipe (a writer thread, since data may exceed its buffer)."""
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb") as pipe:
        run.read_stderr(pipe)
    thread.join()


@pytest.mark.parametrize(
    "line",
    ["out_time_us=" + "9" * 400, "out_time_ms=" + "9" * 400, "out_time=" + "9" * 400 + ":00:00.0"],
    ids=["out_time_us", "out_time_ms", "out_time"],
)
def test_progress_numbers_too_big_for_a_float(line: str) -> None:
    parser = ProgressParser()
    parser.feed(line)
    sample = parser.feed("progress=continue")
    assert sample is not None
    assert sample.out_time is None or math.isfinite(sample.out_time)
