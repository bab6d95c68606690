"""Finds the shipped resources in a checkout, an installed wheel and a frozen bundle alike."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def resource_dir() -> Path:
    # reelforge.resources maps to the top-level resources/ folder (see pyproject.toml);
    # as_file gives a real folder for ffmpeg and Qt, which need file system paths.
    with as_file(files("reelforge.resources")) as path:
        return Path(path)


def resource(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)
