"""Where Reelforge keeps its data, and the person's settings.

Twelve-factor: REELFORGE_HOME moves the whole data folder (database, logs, presets, settings);
the default comes from platformdirs. Settings live in one TOML file the person can read.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import tomli_w
from platformdirs import user_data_path

APP_NAME = "Reelforge"
Collision = Literal["counter", "overwrite", "skip"]
COLLISIONS: tuple[str, ...] = ("counter", "overwrite", "skip")


@dataclass(frozen=True)
class Paths:
    home: Path

    @classmethod
    def from_env(cls) -> Paths:
        env = os.environ.get("REELFORGE_HOME")
        home = Path(env).expanduser() if env else user_data_path(APP_NAME, appauthor=False)
        return cls(home=home.resolve())

    @property
    def database(self) -> Path:
        return self.home / "history.sqlite3"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def job_logs(self) -> Path:
        return self.logs / "jobs"

    @property
    def presets(self) -> Path:
        return self.home / "presets"

    @property
    def settings(self) -> Path:
        return self.home / "settings.toml"

    def ensure(self) -> Paths:
        for folder in (self.home, self.logs, self.job_logs, self.presets):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def default_output_dir() -> str:
    return str(Path.home() / "Videos" / APP_NAME)


@dataclass(frozen=True)
class WatchFolder:
    """A folder whose new files are enqueued with these presets into this output folder."""

    dir: str
    presets: tuple[str, ...] = ("web",)
    out: str = ""  # empty: the settings' output folder

    @classmethod
    def from_dict(cls, data: object) -> WatchFolder | None:
        """None for an entry a hand edit broke (it is dropped, the others still load)."""
        if not isinstance(data, dict) or not str(data.get("dir", "")).strip():
            return None
        presets = data.get("presets") or ["web"]
        if isinstance(presets, str):
            presets = [presets]
        return cls(
            dir=str(data["dir"]).strip(),
            presets=tuple(str(p) for p in presets),
            out=str(data.get("out", "") or "").strip(),
        )


@dataclass(frozen=True)
class Settings:
    output_dir: str = ""  # empty: default_output_dir()
    collision: str = "counter"  # counter | overwrite | skip
    light_concurrency: int = 2
    heavy_concurrency: int = 1
    ffmpeg_path: str = ""  # empty: auto-detect
    presets: tuple[str, ...] = ("web",)
    notifications: bool = True
    close_to_tray: bool = False
    theme: str = "system"  # system | light | dark
    stall_timeout: float = 120.0  # seconds without any ffmpeg output before a job is stopped
    watch: tuple[WatchFolder, ...] = ()
    heavy_hours: str = ""  # when heavy jobs may start, e.g. "22:00-07:00"; empty: any time
    history_days: int = 0  # forget finished batches older than this; 0: keep everything
    log_days: int = 30  # delete job logs older than this; 0: keep them
    # "Run jobs on": empty for this computer, else a Redis URL (cluster mode, see README).
    broker_url: str = ""
    # Seconds Redis waits before redelivering an unacknowledged job: longer than the longest job.
    visibility_timeout: float = 43200.0
    # Encodes of sources at least this long run in segments across heavy slots or workers
    # (keyframe cuts about segment_seconds apart, joined by stream copy); 0: never split.
    split_after: float = 600.0
    segment_seconds: float = 120.0

    def validated(self) -> Settings:
        """Clamp what a hand-edited file may get wrong instead of failing at start-up."""
        return replace(
            self,
            collision=self.collision if self.collision in COLLISIONS else "counter",
            light_concurrency=max(1, min(16, int(self.light_concurrency))),
            heavy_concurrency=max(1, min(16, int(self.heavy_concurrency))),
            theme=self.theme if self.theme in ("system", "light", "dark") else "system",
            stall_timeout=max(5.0, float(self.stall_timeout)),
            presets=tuple(self.presets) or ("web",),
            history_days=max(0, int(self.history_days)),
            log_days=max(0, int(self.log_days)),
            broker_url=str(self.broker_url).strip(),
            visibility_timeout=max(60.0, float(self.visibility_timeout)),
            heavy_hours=str(self.heavy_hours).strip(),
            split_after=max(0.0, float(self.split_after)),
            segment_seconds=max(10.0, float(self.segment_seconds)),
        )

    def output_folders(self) -> list[str]:
        """Every folder outputs may go to: the default one and each watch folder's."""
        return [self.effective_output_dir, *(w.out for w in self.watch if w.out)]

    @property
    def effective_output_dir(self) -> str:
        return self.output_dir or default_output_dir()


def load_settings(path: Path) -> Settings:
    """Unknown keys are ignored and bad values clamped: a settings file never stops the app."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError):
        return Settings()
    known = {f.name for f in fields(Settings)}
    clean = {k: v for k, v in data.items() if k in known}
    if "presets" in clean:
        clean["presets"] = tuple(str(p) for p in clean["presets"])
    if "watch" in clean:
        entries = clean["watch"] if isinstance(clean["watch"], list) else []
        clean["watch"] = tuple(w for w in map(WatchFolder.from_dict, entries) if w is not None)
    try:
        return Settings(**clean).validated()
    except (TypeError, ValueError):
        return Settings()


def save_settings(path: Path, settings: Settings) -> None:
    data = asdict(settings)
    data["presets"] = list(settings.presets)
    data["watch"] = [{**asdict(w), "presets": list(w.presets)} for w in settings.watch]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash never leaves half a settings file
