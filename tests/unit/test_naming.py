"""Output names: any unicode source name maps to a valid, unique path inside the output folder."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from reelforge.domain.naming import (
    first_free,
    is_temp_name,
    output_path,
    safe_stem,
    temp_path,
    with_counter,
)

OUT = Path("/data/out")
names = st.text(min_size=1, max_size=300).filter(lambda s: "\x00" not in s or True)


@given(
    names,
    st.sampled_from(["1080p", "poster", "audio", "preview"]),
    st.sampled_from(["mp4", "jpg", "m4a", "webp"]),
)
def test_any_name_lands_inside_the_output_folder(name: str, role: str, ext: str) -> None:
    path = output_path(OUT, Path("/src") / (name.replace("/", "_") or "_"), role, ext)
    assert path.parent.parent == OUT
    assert ".." not in path.parts and "." not in path.parts[3:]
    assert path.name.endswith(f".{role}.{ext}") or path.suffix == f".{ext}"
    assert len(path.name.encode()) <= 255
    assert len(temp_path(path, "abcd1234").name.encode()) <= 255
    assert "\n" not in str(path) and "\x00" not in str(path)


@given(names)
def test_safe_stem_is_a_single_plain_component(name: str) -> None:
    stem = safe_stem(name)
    assert stem and "/" not in stem and "\\" not in stem
    assert stem not in (".", "..")
    assert not any(ord(c) < 32 for c in stem)


def test_hostile_names_are_just_names() -> None:
    assert safe_stem("-rf") == "-rf"
    assert safe_stem("..") == "_"
    assert safe_stem("a\nb") == "a_b"
    assert safe_stem('say "hi"') == "say _hi_"
    assert safe_stem("日本 ünï 🎬") == "日本 ünï 🎬"


def test_counter_follows_the_desktop_convention() -> None:
    p = OUT / "clip" / "clip.720p.mp4"
    assert with_counter(p, 2).name == "clip.720p (2).mp4"
    taken = {p, with_counter(p, 2)}
    assert first_free(p, taken.__contains__) == with_counter(p, 3)
    assert first_free(OUT / "free.mp4", taken.__contains__) == OUT / "free.mp4"


def test_temp_names_keep_the_extension_and_are_recognised() -> None:
    t = temp_path(OUT / "clip" / "clip.720p.mp4", "deadbeef")
    assert t.parent == OUT / "clip" and t.suffix == ".mp4" and is_temp_name(t.name)
    assert not is_temp_name("clip.720p.mp4")
