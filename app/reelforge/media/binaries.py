"""Finding the ffmpeg binary and asking it what it can do.

Lookup order, first hit wins: the user's setting, ``REELFORGE_FFMPEG``, a copy bundled next
to a frozen app, the one inside the imageio-ffmpeg wheel, then ``ffmpeg`` on PATH. A path the
user chose explicitly (setting or env var) is never skipped silently: if it is wrong we say so.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "REELFORGE_FFMPEG"
VERSION_TIMEOUT = 10.0  # seconds; a binary that cannot print its version in 10 s is broken
LIST_TIMEOUT = 20.0

# A GUI app must not flash a console window each time it asks ffmpeg something on Windows.
_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)
_EXE_NAMES = ("ffmpeg.exe", "ffmpeg") if os.name == "nt" else ("ffmpeg",)


@dataclass(frozen=True)
class FFmpegBinary:
    path: str
    version: str  # e.g. "9.0.2" or "n9.0.2-17-g2a571b6068-20260930"
    source: str  # "setting", "env", "bundled", "imageio-ffmpeg" or "PATH"


class FFmpegNotFound(RuntimeError):
    """No usable ffmpeg; str() is one line a person can act on."""


def find_ffmpeg(setting: str | None = None) -> FFmpegBinary:
    """The ffmpeg to use, with its version; raises FFmpegNotFound with the reason."""
    if setting and setting.strip():
        return _explicit(setting.strip(), "setting", "the ffmpeg path in the settings")
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _explicit(env, "env", ENV_VAR)

    problems: list[str] = []
    for source, candidate in _automatic_candidates():
        try:
            return FFmpegBinary(candidate, ffmpeg_version(candidate), source)
        except FFmpegNotFound as exc:  # an auto-found copy may be broken: try the next one
            problems.append(str(exc))
    hint = f" ({'; '.join(problems)})" if problems else ""
    raise FFmpegNotFound(f"ffmpeg not found: install ffmpeg or set its path in the settings{hint}")


def _explicit(raw: str, source: str, what: str) -> FFmpegBinary:
    path = Path(os.path.expanduser(raw))
    if path.is_dir():  # a folder is accepted if ffmpeg sits in it
        inside = next((path / n for n in _EXE_NAMES if (path / n).is_file()), None)
        if inside is None:
            raise FFmpegNotFound(f"{what} points to a folder without ffmpeg: {path}")
        path = inside
    if not path.exists():
        raise FFmpegNotFound(f"{what} points to a missing file: {path}")
    if not path.is_file():
        raise FFmpegNotFound(f"{what} is not a file: {path}")
    if not os.access(path, os.X_OK):
        raise FFmpegNotFound(f"{what} is not executable: {path}")
    return FFmpegBinary(str(path), ffmpeg_version(str(path)), source)


def _automatic_candidates() -> Iterator[tuple[str, str]]:
    if getattr(sys, "frozen", False):
        folders = [getattr(sys, "_MEIPASS", None), os.path.dirname(sys.executable)]
        for folder in filter(None, folders):
            for name in _EXE_NAMES:
                exe = os.path.join(folder, name)
                if os.path.isfile(exe) and os.access(exe, os.X_OK):
                    yield "bundled", exe
    try:
        import imageio_ffmpeg

        # Raises RuntimeError when the wheel has no binary for this platform.
        yield "imageio-ffmpeg", imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # any failure here just means "not this source"
        pass
    on_path = shutil.which("ffmpeg")
    if on_path:
        yield "PATH", on_path


def _stat_key(path: str) -> tuple[int, int]:
    """(mtime_ns, size), so a replaced binary at the same path is asked again."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FFmpegNotFound(f"ffmpeg at {path} does not run: {exc.strerror or exc}") from exc
    return st.st_mtime_ns, st.st_size


# --- ffmpeg's answers, remembered across runs ---------------------------------------------------
# Asking ffmpeg for -version and -filters is two process starts at every start of the app
# (~50 ms). With a cache file (the CLI puts it in the data folder), a start with the same
# binary (same path, mtime and size) asks nothing. Only answers are kept, never failures.
_cache_file: Path | None = None
_cache_lock = threading.Lock()


def use_cache_file(path: Path | None) -> None:
    """Remember ffmpeg's answers in this JSON file (None: only in memory, the default)."""
    global _cache_file
    _cache_file = path


def _read_cache() -> dict[str, Any]:
    if _cache_file is None:
        return {}
    try:
        data = json.loads(_cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing or damaged: ask ffmpeg, then write it anew
        return {}
    return data if isinstance(data, dict) else {}


def _cached_answer(path: str, key: tuple[int, int], what: str) -> Any:
    entry = _read_cache().get(path)
    if isinstance(entry, dict) and entry.get("key") == list(key):
        return entry.get(what)
    return None


def _remember(path: str, key: tuple[int, int], what: str, answer: Any) -> None:
    if _cache_file is None:
        return
    with _cache_lock:
        data = _read_cache()
        entry = data.get(path)
        if not isinstance(entry, dict) or entry.get("key") != list(key):
            entry = {"key": list(key)}
        entry[what] = answer
        data[path] = entry
        tmp = _cache_file.with_name(f".{_cache_file.name}.{os.getpid()}.tmp")
        try:  # write and rename: a reader never sees half a file
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, _cache_file)
        except OSError:  # a read-only data folder: answers stay in memory
            with contextlib.suppress(OSError):
                tmp.unlink()


def _run(path: str, args: list[str], timeout: float) -> str:
    try:
        done = subprocess.run(
            [path, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            creationflags=_NO_WINDOW,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FFmpegNotFound(
            f"ffmpeg at {path} does not run: no answer to {args[-1]} in {timeout:g} s"
        ) from exc
    except OSError as exc:
        raise FFmpegNotFound(f"ffmpeg at {path} does not run: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        raise FFmpegNotFound(
            f"ffmpeg at {path} does not run: {args[-1]} exited with code {done.returncode}"
        )
    return done.stdout.decode("utf-8", errors="replace")


def parse_version(text: str) -> str | None:
    """The token after "ffmpeg version" on the first line, or None if it is not ffmpeg."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    parts = first.split()
    if len(parts) >= 3 and parts[0].lower() == "ffmpeg" and parts[1] == "version":
        return parts[2]
    return None


def ffmpeg_version(path: str) -> str:
    """Version token of the binary at path; runs ``-version`` once per (path, mtime, size),
    and not at all when the cache file (use_cache_file) already has the answer."""
    return _version_cached(path, _stat_key(path))


@functools.lru_cache(maxsize=16)
def _version_cached(path: str, key: tuple[int, int]) -> str:
    known = _cached_answer(path, key, "version")
    if isinstance(known, str) and known:
        return known
    version = parse_version(_run(path, ["-version"], VERSION_TIMEOUT))
    if version is None:
        raise FFmpegNotFound(f"ffmpeg at {path} does not run: it is not ffmpeg")
    _remember(path, key, "version", version)
    return version


def find_ffprobe(ffmpeg_path: str | None = None) -> str | None:
    """ffprobe next to the given ffmpeg (same build), else on PATH; None when absent."""
    if ffmpeg_path:
        folder = os.path.dirname(os.path.abspath(ffmpeg_path))
        for name in ("ffprobe.exe", "ffprobe") if os.name == "nt" else ("ffprobe",):
            exe = os.path.join(folder, name)
            if os.path.isfile(exe) and os.access(exe, os.X_OK):
                return exe
    return shutil.which("ffprobe")


def _parse_table(text: str) -> frozenset[str]:
    """Names from the table after the " ------" rule of -encoders / -filters output."""
    names: set[str] = set()
    started = False
    for line in text.splitlines():
        if not started:
            started = line.strip().startswith("---")
            continue
        parts = line.split()
        if len(parts) >= 2:  # " V....D libx264  desc" / " TS scale  V->V  desc"
            names.add(parts[1])
    return frozenset(names)


def encoders(ffmpeg_path: str) -> frozenset[str]:
    return _list_cached(ffmpeg_path, _stat_key(ffmpeg_path), "-encoders")


def filters(ffmpeg_path: str) -> frozenset[str]:
    return _list_cached(ffmpeg_path, _stat_key(ffmpeg_path), "-filters")


@functools.lru_cache(maxsize=32)
def _list_cached(path: str, key: tuple[int, int], flag: str) -> frozenset[str]:
    known = _cached_answer(path, key, flag)
    if isinstance(known, list) and known and all(isinstance(n, str) for n in known):
        return frozenset(known)
    names = _parse_table(_run(path, ["-hide_banner", flag], LIST_TIMEOUT))
    if names:  # an empty table is odd enough to ask again next time
        _remember(path, key, flag, sorted(names))
    return names


def has_encoder(ffmpeg_path: str, name: str) -> bool:
    return name in encoders(ffmpeg_path)


def has_filter(ffmpeg_path: str, name: str) -> bool:
    return name in filters(ffmpeg_path)
