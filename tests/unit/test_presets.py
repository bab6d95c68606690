"""Preset validation: built-ins load, bad user files are named with field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.assets import resource
from reelforge.domain.presets import (
    PresetError,
    load_builtin_presets,
    load_preset_file,
    load_user_presets,
    parse_preset,
)
from reelforge.services.presets import PresetCatalog


def test_builtins_are_valid_and_complete() -> None:
    presets = load_builtin_presets(resource("presets"))
    assert set(presets) == {"web", "thumbnails", "audio", "preview", "remux"}
    assert all(p.builtin for p in presets.values())
    web = presets["web"]
    assert [r.short_side for r in web.renditions] == [1080, 720, 480]
    assert web.poster is not None
    assert presets["thumbnails"].contact_sheet.columns == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = [", "bad.toml: not valid TOML"),
        ('[[renditions]]\nname = "x"\nshort_side = 720\ncodec = "divx"', "renditions[0].codec"),
        ('[[renditions]]\nname = "x"\nshort_side = -720', "renditions[0].short_side"),
        ('[[renditions]]\nname = "x"\nshort_side = 721', "must be even"),
        ('[[renditions]]\nname = "x"\nshort_side = 720\ncrf = 60', "crf 60 is out of range"),
        ("[preview]\nseconds = 50", "preview.seconds"),
        ("[contact_sheet]\ncolumns = 1000", "contact_sheet.columns"),
        ('description = "nothing"', "makes nothing"),
        ("[audio]\nbitrate = 'loud'", "audio.bitrate"),
        ("[poster]\nwidht = 100", "poster.widht"),
        ('[[renditions]]\nname = "x"\nshort_side = 720\ncrf = true', "not true or false"),
        ("[contact_sheet]\ncolumns = true", "contact_sheet.columns"),
    ],
)
def test_bad_presets_name_file_field_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(PresetError) as err:
        load_preset_file(f)
    msg = str(err.value)
    assert msg.startswith("bad.toml: ") and expected in msg and "\n" not in msg


def test_duplicate_rendition_names_rejected() -> None:
    r = {"name": "a", "short_side": 480}
    with pytest.raises(PresetError, match="repeated: a"):
        parse_preset({"name": "dup", "renditions": [r, r]}, source="dup.toml")


def test_user_presets_load_and_bad_ones_are_reported(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text("[audio]\nbitrate = '256k'\n")
    (tmp_path / "broken.toml").write_text("[[renditions]]\nname='x'\nshort_side=-2\n")
    (tmp_path / "web.toml").write_text("[audio]\n")
    presets, errors = load_user_presets(tmp_path, {"web"})
    assert set(presets) == {"mine"} and presets["mine"].audio.bitrate == "256k"
    assert len(errors) == 2
    assert any(e.startswith("broken.toml: renditions[0].short_side") for e in errors)
    assert any("already taken" in e for e in errors)


def test_catalog_saves_round_trip_and_protects_builtins(tmp_path: Path) -> None:
    cat = PresetCatalog(resource("presets"), tmp_path)
    web = cat.get("web")
    copy = web.model_copy(update={"name": "my-web", "builtin": False})
    path = cat.save(copy)
    assert path.name == "my-web.toml"
    assert cat.get("my-web").renditions == web.renditions
    with pytest.raises(PresetError, match="built-in"):
        cat.save(web)
    with pytest.raises(PresetError, match="unknown preset 'nope'"):
        cat.get("nope")
    cat.delete("my-web")
    assert "my-web" not in cat.all
