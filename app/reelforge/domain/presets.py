"""Presets: what a dropped file turns into.

A preset is a set of optional sections (a rendition ladder, thumbnails, an audio extract, a
preview, a remux); each section becomes one job. Built-ins ship as TOML in resources/presets and
go through the same validation as the user's own files in $REELFORGE_HOME/presets, so a bad file
is reported as "<file>: <field>: <problem>" and never reaches the engine.

Validation uses pydantic (already present through SQLModel): it names the field path for us.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
X264_SPEEDS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
BITRATE_PATTERN = r"^[1-9][0-9]{1,3}k$"  # 10k .. 9999k


class PresetError(ValueError):
    """A preset that cannot be used; the message is one line naming file, field and problem."""


_NUMBERS = (int, float, int | None, float | None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # Python's bool is an int: without this, `crf = true` in a TOML file would be CRF 1.
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and field.annotation in _NUMBERS:
            raise ValueError("must be a number, not true or false")
        return value


class Rendition(_Section):
    name: str = Field(pattern=NAME_PATTERN)
    short_side: int = Field(ge=16, le=4320, description="target size of the short side in px")
    codec: Literal["h264", "hevc", "vp9"] = "h264"
    crf: int = Field(default=22, ge=0, le=63)
    speed: Literal[X264_SPEEDS] = "fast"  # type: ignore[valid-type]
    max_fps: float | None = Field(default=None, gt=0, le=240)
    audio_bitrate: str = Field(default="128k", pattern=BITRATE_PATTERN)

    @field_validator("short_side")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be even (H.264 and yuv420p need even sizes)")
        return v

    @model_validator(mode="after")
    def _crf_range(self) -> Rendition:
        top = 63 if self.codec == "vp9" else 51
        if self.crf > top:
            raise ValueError(f"crf {self.crf} is out of range for {self.codec} (0..{top})")
        return self

    @property
    def container(self) -> str:
        return "webm" if self.codec == "vp9" else "mp4"


class Poster(_Section):
    width: int = Field(default=1280, ge=16, le=7680)
    at: float = Field(default=0.1, ge=0.0, le=1.0, description="position as a share of duration")


class ContactSheet(_Section):
    columns: int = Field(default=3, ge=1, le=10)
    rows: int = Field(default=3, ge=1, le=10)
    tile_width: int = Field(default=480, ge=64, le=1920)
    timestamps: bool = True


class AudioExtract(_Section):
    codec: Literal["aac"] = "aac"
    bitrate: str = Field(default="192k", pattern=BITRATE_PATTERN)
    copy_if_possible: bool = True  # an AAC track is copied bit for bit instead of re-encoded


class Preview(_Section):
    seconds: float = Field(default=5.0, gt=0.0, le=5.0)
    width: int = Field(default=480, ge=16, le=480)
    fps: int = Field(default=12, ge=1, le=30)
    format: Literal["webp", "gif"] = "webp"
    start: float = Field(default=0.1, ge=0.0, le=0.9, description="start as a share of duration")


class Remux(_Section):
    container: Literal["mp4"] = "mp4"


class Preset(_Section):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=200)
    renditions: tuple[Rendition, ...] = ()
    poster: Poster | None = None
    contact_sheet: ContactSheet | None = None
    audio: AudioExtract | None = None
    preview: Preview | None = None
    remux: Remux | None = None
    builtin: bool = Field(default=False, exclude=True)

    @model_validator(mode="after")
    def _sane(self) -> Preset:
        if not (
            self.renditions
            or self.poster
            or self.contact_sheet
            or self.audio
            or self.preview
            or self.remux
        ):
            raise ValueError("makes nothing: add renditions, poster, contact_sheet, audio, ...")
        names = [r.name for r in self.renditions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rendition names must be unique, repeated: {', '.join(dupes)}")
        if len(self.renditions) > 8:
            raise ValueError("at most 8 renditions per preset")
        return self

    @property
    def needs_video(self) -> bool:
        return bool(
            self.renditions or self.poster or self.contact_sheet or self.preview or self.remux
        )

    def to_toml_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"builtin"})


def _format_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    # Keys come from the file: a key holding a line break must not break the one-line rule.
    loc = ".".join(
        (str(p).encode("unicode_escape").decode("ascii") if not isinstance(p, int) else f"[{p}]")
        for p in first["loc"]
    )
    loc = loc.replace(".[", "[") or "preset"
    msg = " ".join(first["msg"].removeprefix("Value error, ").split())
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {msg}{more}"


def parse_preset(data: dict[str, Any], *, source: str, builtin: bool = False) -> Preset:
    """Validate a preset mapping; raise PresetError with a one-line message on any problem."""
    try:
        return Preset.model_validate({**data, "builtin": builtin})
    except ValidationError as err:
        raise PresetError(_format_error(source, err)) from None


def load_preset_file(path: Path, *, builtin: bool = False) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise PresetError(f"{path.name}: not valid TOML: {' '.join(str(err).split())}") from None
    except RecursionError:
        raise PresetError(f"{path.name}: not valid TOML: nested too deeply") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PresetError(f"{path.name}: cannot be read: {err}") from None
    data.setdefault("name", path.stem)
    return parse_preset(data, source=path.name, builtin=builtin)


def load_builtin_presets(folder: Path) -> dict[str, Preset]:
    """Built-ins must be valid: a broken one is a packaging bug, so it raises."""
    presets = {}
    for path in sorted(folder.glob("*.toml")):
        preset = load_preset_file(path, builtin=True)
        presets[preset.name] = preset
    return presets


def load_user_presets(
    folder: Path, builtin_names: Iterable[str]
) -> tuple[dict[str, Preset], list[str]]:
    """The user's presets, plus one error line per file that could not be used."""
    presets: dict[str, Preset] = {}
    errors: list[str] = []
    taken = set(builtin_names)
    if not folder.is_dir():
        return presets, errors
    for path in sorted(folder.glob("*.toml")):
        try:
            preset = load_preset_file(path)
        except PresetError as err:
            errors.append(str(err))
            continue
        if preset.name in taken:
            errors.append(f"{path.name}: name: '{preset.name}' is already taken by another preset")
            continue
        taken.add(preset.name)
        presets[preset.name] = preset
    return presets, errors


def safe_file_name(name: str) -> str:
    """A preset name as a file name (names are already restricted, this is belt and braces)."""
    return re.sub(r"[^a-z0-9_-]", "_", name.lower()) or "preset"
