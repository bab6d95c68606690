"""Periodic housekeeping: history and log retention, and a sweep of forgotten temp files.

Plain functions over the data folder and the output folders, driven by the scheduler service
locally (or a Celery beat task in the cluster).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from reelforge.domain.naming import is_temp_name

if TYPE_CHECKING:  # a cluster worker sweeps with these functions and has no history database
    from reelforge.storage.monitoring import MonitoringStore

log = logging.getLogger("reelforge.housekeeping")
DAY = 86400.0
# A live job rewrites its temp file every few seconds and is stopped after stall_timeout
# without output; a temp file untouched this long belongs to nobody.
TEMP_MAX_AGE = 6 * 3600.0


def remove_old_files(folder: Path, older_than: float, pattern: str = "*.log") -> int:
    removed = 0
    for path in folder.glob(pattern):
        try:
            if path.is_file() and path.stat().st_mtime < older_than:
                path.unlink()
                removed += 1
        except OSError as err:
            log.warning("could not remove %s: %s", path, err)
    return removed


def sweep_stale_temps(folders: Iterable[str], older_than: float) -> int:
    """Our temp files (never anything else) untouched since `older_than`, in the output
    folders and their per-source subfolders."""
    removed = 0
    for folder in dict.fromkeys(folders):
        root = Path(folder)
        try:
            places = [root, *(p for p in root.iterdir() if p.is_dir())]
        except OSError:
            continue
        for place in places:
            try:
                entries = list(os.scandir(place))
            except OSError:
                continue
            for entry in entries:
                try:
                    if (
                        is_temp_name(entry.name)
                        and entry.is_file(follow_symlinks=False)
                        and entry.stat().st_mtime < older_than
                    ):
                        os.unlink(entry.path)
                        removed += 1
                except OSError as err:
                    log.warning("could not remove temp file %s: %s", entry.path, err)
    return removed


def run_housekeeping(
    store: MonitoringStore,
    job_logs: Path,
    folders: Iterable[str],
    *,
    history_days: int,
    log_days: int,
    now: float,
) -> tuple[int, int, int]:
    """(jobs forgotten, job logs removed, temp files removed). 0 days: keep forever."""
    jobs = store.forget_before(now - history_days * DAY) if history_days > 0 else 0
    logs = remove_old_files(job_logs, now - log_days * DAY) if log_days > 0 else 0
    temps = sweep_stale_temps(folders, now - TEMP_MAX_AGE)
    return jobs, logs, temps
