"""Watch folders: new or changed files are enqueued once they are stable, once per content.

Why QFileSystemWatcher (QtCore, no extra dependency): it delivers on the bus thread, where the
queue service lives, so no thread hand-over is needed. It watches one directory level, so every
subdirectory a scan finds is added too; anything it misses (a full inotify table, a network
share, a burst of changes) is caught by the periodic rescan, which is the ground truth.

- stable: size and mtime unchanged for SETTLE seconds (watch/stability.py);
- once per content: the file's fingerprint is remembered in the history (watch_seen) per
  folder-and-recipe, so a restart, a rescan or a touch does not take it again; a changed file
  (new content) is taken again;
- never its own outputs: the output folders (every watch folder's and the default one) are
  not walked, and a file the history knows as some job's output is skipped.

A crash in the few milliseconds between enqueueing a file and remembering it takes that file
again at the next start (never loses it); the queue then skips work whose outputs exist.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer

from reelforge.config import WatchFolder
from reelforge.domain.commands import Enqueue
from reelforge.domain.events import WatchedFileTaken
from reelforge.domain.presets import PresetError
from reelforge.media.probe import fingerprint as content_fingerprint
from reelforge.services.sources import is_media_name
from reelforge.storage.monitoring import MonitoringStore
from reelforge.watch.stability import StabilityTracker

log = logging.getLogger("reelforge.watch")


@dataclass(frozen=True)
class Target:
    dir: Path
    presets: tuple[str, ...]
    out: Path

    @property
    def key(self) -> str:
        """The folder and its recipe: the same content is new work for another recipe."""
        return json.dumps([str(self.dir), list(self.presets), str(self.out)])


def targets_of(folders: Iterable[WatchFolder], default_out: str) -> list[Target]:
    found = []
    for f in folders:
        found.append(
            Target(
                Path(f.dir).expanduser().absolute(),
                tuple(f.presets) or ("web",),
                Path(f.out or default_out).expanduser().absolute(),
            )
        )
    return found


class WatchService(QObject):
    SETTLE = 3.0  # seconds a file must stay the same size and mtime
    POLL_MS = 1000  # how often candidates are looked at again while any are pending
    RESCAN_MS = 60_000  # full rescan: what the file-system watcher missed

    def __init__(
        self,
        bus: object,
        queue: object,
        store: MonitoringStore,
        *,
        folders: Callable[[], Iterable[WatchFolder]],
        default_out: Callable[[], str],
        clock: Callable[[], float] = time.time,
        fingerprint: Callable[[str], str] = content_fingerprint,
    ) -> None:
        super().__init__()
        self._bus, self._queue, self._store = bus, queue, store
        self._folders, self._default_out = folders, default_out
        self._clock, self._fingerprint = clock, fingerprint
        self.tracker = StabilityTracker(self.SETTLE, clock)
        self.targets: list[Target] = []
        self._handled: set[tuple[str, str, int, float]] = set()  # (key, path, size, mtime)
        self._dirty: set[Path] = set()
        self._fs = QFileSystemWatcher(self)
        self._fs.directoryChanged.connect(self._on_dir_changed)
        self._poll = QTimer(self)
        self._poll.setInterval(self.POLL_MS)
        self._poll.timeout.connect(self.poll)
        self._rescan = QTimer(self)
        self._rescan.setInterval(self.RESCAN_MS)
        self._rescan.timeout.connect(self.rescan)
        self.running = False

    # -- control -----------------------------------------------------------------------------
    def start(self) -> None:
        self.running = True
        self.reconfigure()
        self._rescan.start()

    def stop(self) -> None:
        self.running = False
        self._poll.stop()
        self._rescan.stop()
        if self._fs.directories():
            self._fs.removePaths(self._fs.directories())

    def reconfigure(self) -> None:
        """Folders changed in the settings: watch the new set and scan it."""
        self.targets = targets_of(self._folders(), self._default_out())
        if self._fs.directories():
            self._fs.removePaths(self._fs.directories())
        for t in self.targets:
            if not t.dir.is_dir():
                log.warning("watch folder %s does not exist (yet); rescanned every minute", t.dir)
        if self.running:
            self.rescan()

    def excluded(self) -> set[Path]:
        """Never walked: every output folder, so outputs never feed a watch folder."""
        return {t.out for t in self.targets} | {Path(self._default_out()).expanduser().absolute()}

    # -- scanning ----------------------------------------------------------------------------
    def rescan(self) -> None:
        for target in self.targets:
            self._scan(target, target.dir, recursive=True)
        self._after_scan()

    def _on_dir_changed(self, path: str) -> None:
        self._dirty.add(Path(path))
        self._poll.start()

    def _scan(self, target: Target, folder: Path, *, recursive: bool) -> None:
        excluded = self.excluded()
        if folder in excluded:
            return
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        if self.running and str(folder) not in self._fs.directories():
            self._fs.addPath(str(folder))
        for entry in entries:
            if entry.name.startswith("."):  # hidden files, and our own temp files
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    sub = Path(entry.path)
                    if sub not in excluded:
                        if recursive:
                            self._scan(target, sub, recursive=True)
                        elif self.running and entry.path not in self._fs.directories():
                            self._dirty.add(sub)  # a new subfolder: walk it at the next poll
                    continue
                if not entry.is_file() or not is_media_name(Path(entry.name)):
                    continue
                st = entry.stat()
            except OSError:
                continue
            self._consider(target, entry.path, st.st_size, st.st_mtime)

    def _consider(self, target: Target, path: str, size: int, mtime: float) -> None:
        if (target.key, path, size, mtime) in self._handled:
            return
        if self._store.seen_file(target.key, path, size, mtime):
            self._handled.add((target.key, path, size, mtime))
            return
        self.tracker.observe(self._tracked(target, path), size, mtime)

    @staticmethod
    def _tracked(target: Target, path: str) -> str:
        return f"{target.key}\0{path}"

    def _after_scan(self) -> None:
        if self.tracker.pending():
            self._poll.start()
        self.poll()

    # -- polling -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Walk dirty folders, look at every candidate again, take the stable ones."""
        dirty, self._dirty = self._dirty, set()
        for folder in dirty:
            for target in self.targets:
                if folder == target.dir or target.dir in folder.parents:
                    self._scan(target, folder, recursive=folder not in self._watched_dirs())
        ready: dict[Target, list[tuple[str, int, float]]] = {}
        by_key = {t.key: t for t in self.targets}
        for tracked in self.tracker.pending():
            key, path = tracked.split("\0", 1)
            target = by_key.get(key)
            try:
                st = os.stat(path)
            except OSError:
                self.tracker.forget(tracked)  # gone (moved away, deleted)
                continue
            if target is None:
                self.tracker.forget(tracked)
                continue
            if self.tracker.observe(tracked, st.st_size, st.st_mtime):
                self.tracker.forget(tracked)
                ready.setdefault(target, []).append((path, st.st_size, st.st_mtime))
        for target, files in ready.items():
            self._take(target, files)
        if not self.tracker.pending() and not self._dirty:
            self._poll.stop()

    def _watched_dirs(self) -> set[Path]:
        return {Path(d) for d in self._fs.directories()}

    def _take(self, target: Target, files: list[tuple[str, int, float]]) -> None:
        fresh: list[tuple[str, int, float, str]] = []
        for path, size, mtime in files:
            self._handled.add((target.key, path, size, mtime))
            if self._store.is_output(path):
                continue
            try:
                fp = self._fingerprint(path)
            except OSError:
                continue
            if self._store.seen_content(target.key, fp):
                continue  # the same content was taken before (a touch, a copy, a restart)
            fresh.append((path, size, mtime, fp))
        if not fresh:
            return
        cmd = Enqueue(tuple(p for p, *_ in fresh), target.presets, str(target.out), origin="watch")
        try:
            result = self._queue.enqueue(cmd)  # type: ignore[attr-defined]
        except PresetError as err:
            log.error("watch folder %s: %s", target.dir, err)
            return
        except Exception:
            log.exception("watch folder %s: could not enqueue", target.dir)
            for path, size, mtime, _ in fresh:  # try again at the next rescan
                self._handled.discard((target.key, path, size, mtime))
            return
        now = self._clock()
        for path, size, mtime, fp in fresh:
            self._store.remember_taken(target.key, fp, path, size, mtime, result.batch_id, now)
            self._bus.publish(  # type: ignore[attr-defined]
                WatchedFileTaken(str(target.dir), path, result.batch_id)
            )
