"""Dropped or named paths -> source files. Folders are walked; only media-looking files count."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Containers FFmpeg decodes that people actually drop. Inside folders, anything else is skipped
# and counted; a file named explicitly is always tried (and fails with a reason if it is not media).
MEDIA_EXTENSIONS = frozenset(
    (
        ".mp4 .m4v .mov .mkv .webm .avi .ts .mts .m2ts .mpg .mpeg .vob .wmv .flv .3gp .ogv .mxf "
        ".gif .dv .asf .rm .rmvb .divx .f4v .y4m .m4a .mp3 .wav .flac .aac .ogg .opus .wma"
    ).split()
)


@dataclass
class Expanded:
    files: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # non-media files found inside folders
    missing: list[Path] = field(default_factory=list)  # named paths that do not exist
    refused: list[str] = field(default_factory=list)  # remote URLs and the like


def is_media_name(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS


def expand_paths(paths: list[str] | tuple[str, ...], *, exclude: Path | None = None) -> Expanded:
    """Files in the order given, folders walked recursively in name order, no duplicates.

    `exclude` (the output folder) is never walked, so an output folder inside a dropped folder
    does not feed itself.
    """
    result = Expanded()
    seen: set[Path] = set()
    excluded = exclude.resolve() if exclude else None

    def add(p: Path) -> None:
        # Callers pass resolved paths (a named file, or a child of a resolved folder): resolving
        # each of 10,000 walked files again would cost more than the walk itself.
        if p not in seen:
            seen.add(p)
            result.files.append(p)

    for raw in paths:
        if "://" in raw and not raw.startswith("file://"):
            result.refused.append(raw)
            continue
        p = Path(raw.removeprefix("file://")).expanduser()
        if p.is_dir():
            for root, dirs, files in os.walk(p.resolve()):
                rootp = Path(root)
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith(".") and (rootp / d).resolve() != excluded
                )
                for name in sorted(files):
                    f = rootp / name
                    if name.startswith(".rftmp-"):
                        continue
                    if is_media_name(f):
                        add(f)
                    else:
                        result.skipped.append(f)
        elif p.exists() or p.is_symlink():
            add(p.resolve())
        else:
            result.missing.append(p)
    return result
