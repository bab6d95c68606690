"""Output names: `<out>/<source stem>/<source stem>.<role>.<ext>`, always inside <out>.

Any unicode name is accepted as a name, never as syntax: control characters and path separators
become "_", "." and ".." cannot appear as a component, and long names are cut on a character
boundary so the result fits the 255-byte limit of common file systems, temp prefix included.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".rftmp-"
_MAX_NAME_BYTES = 255 - len(TEMP_PREFIX) - 9 - 12  # temp prefix + attempt id + " (9999)"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')


def safe_stem(name: str) -> str:
    """A source stem made safe to use as a folder and file name on any OS."""
    stem = unicodedata.normalize("NFC", name)
    stem = _UNSAFE.sub("_", stem).strip(" .")
    if not stem or set(stem) <= {"."}:
        stem = "_"
    return _cut_utf8(stem, 180)


def _cut_utf8(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore").rstrip(" .") or "_"


def output_path(out_root: Path, source: Path, role: str, ext: str) -> Path:
    """The natural (collision-free-before-checking) path of one output."""
    stem = safe_stem(source.stem)
    name = _cut_utf8(f"{stem}.{role}", _MAX_NAME_BYTES - len(ext) - 1) + f".{ext}"
    return out_root / stem / name


def with_counter(path: Path, n: int) -> Path:
    """`clip.720p.mp4` -> `clip.720p (2).mp4`, the desktop convention."""
    return path.with_name(f"{path.stem} ({n}){path.suffix}")


def first_free(path: Path, taken: Callable[[Path], bool], limit: int = 9999) -> Path:
    """The path itself when free, else the first free counter variant."""
    if not taken(path):
        return path
    for n in range(2, limit + 1):
        candidate = with_counter(path, n)
        if not taken(candidate):
            return candidate
    raise FileExistsError(f"no free name for {path.name} after {limit} tries")


def temp_path(final: Path, attempt: str) -> Path:
    """A temp name in the destination folder that keeps the real extension at the end."""
    return final.with_name(f"{TEMP_PREFIX}{attempt}-{final.name}")


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)
