"""The live queue as a two-level Qt model: source rows, their jobs beneath.

Fed by bus events only. Progress ticks just update the job's fields and mark it dirty; a GUI
timer (150 ms) turns the dirty set into one dataChanged per contiguous range of rows, so a busy
queue costs a handful of repaints a second however many jobs report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QIcon, QPixmap

from reelforge.domain.events import (
    JobFinished,
    JobProgressed,
    JobsQueued,
    JobStarted,
)
from reelforge.domain.units import human_size
from reelforge.ui.icons import status_icon

ModelIndex = QModelIndex | QPersistentModelIndex
COLUMNS = (
    "Name",
    "Preset / outputs",
    "Status",
    "Progress",
    "Speed",
    "ETA",
    "Output size",
    "Message",
)
COL_NAME, COL_PRESET, COL_STATUS, COL_PROGRESS, COL_SPEED, COL_ETA, COL_SIZE, COL_MSG = range(8)
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2
PERCENT_ROLE = Qt.ItemDataRole.UserRole + 3
PATH_ROLE = Qt.ItemDataRole.UserRole + 4
COALESCE_MS = 150
_ACTIVE = ("queued", "running", "interrupted")


@dataclass
class JobRow:
    job_id: str
    kind: str
    preset: str
    label: str
    status: str = "queued"
    percent: float | None = None
    speed: float | None = None
    eta: float | None = None
    error: str | None = None
    warning: str | None = None
    outputs: tuple[dict[str, Any], ...] = ()
    resumed: bool = False

    @property
    def output_size(self) -> int:
        return sum(int(o.get("size") or 0) for o in self.outputs)


@dataclass
class SourceRow:
    uid: int
    path: str
    jobs: list[JobRow] = field(default_factory=list)
    poster: str | None = None
    batch_id: int | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name

    def status(self) -> str:
        states = {j.status for j in self.jobs}
        for s in ("running", "failed", "interrupted", "queued", "cancelled"):
            if s in states:
                return s
        return "succeeded" if states else "queued"

    def percent(self) -> float:
        if not self.jobs:
            return 0.0
        total = 0.0
        for j in self.jobs:
            if j.status in ("succeeded", "failed", "cancelled", "skipped"):
                total += 100.0
            elif j.percent:
                total += j.percent
        return total / len(self.jobs)


def _contribution(job: JobRow) -> float:
    """What a job adds to the overall percentage: done counts whole, active by its progress."""
    return (job.percent or 0.0) if job.status in _ACTIVE else 100.0


def human_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    s = int(seconds + 0.5)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class QueueModel(QAbstractItemModel):
    counts_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sources: list[SourceRow] = []
        self._by_uid: dict[int, SourceRow] = {}
        self._row_of_uid: dict[int, int] = {}
        self._source_of_path: dict[str, SourceRow] = {}
        self._job_at: dict[str, tuple[SourceRow, JobRow]] = {}
        self._next_uid = 1
        # Running totals, kept by delta on every change: the status bar, the title and the tray
        # ask several times a second, and walking 10,000 jobs each time stalled the GUI.
        self._status_count: dict[str, int] = {}
        self._contrib_total = 0.0
        self._dirty: set[str] = set()
        self._posters: dict[str, QIcon] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()
        self.started_at = time.monotonic()

    # -- bus handlers --------------------------------------------------------------------------
    def on_queued(self, e: JobsQueued) -> None:
        """New sources are appended in one insert (their jobs with them); jobs for sources
        already shown are inserted per source; a job shown already (retry, resume) resets."""
        new_sources: list[SourceRow] = []
        added: dict[int, list[JobRow]] = {}
        for q in e.jobs:
            if q.job_id in self._job_at:
                job = self._job_at[q.job_id][1]
                self._forget(job)
                job.status, job.error, job.warning = "queued", None, None
                job.percent = job.speed = job.eta = None
                self._count(job)
                self._mark(q.job_id)
                continue
            src = self._source_of_path.get(q.source)
            if src is None:
                src = SourceRow(self._next_uid, q.source, batch_id=e.batch_id)
                self._next_uid += 1
                self._source_of_path[q.source] = src
                self._by_uid[src.uid] = src
                new_sources.append(src)
            job = JobRow(q.job_id, q.kind, q.preset, q.label)
            self._count(job)
            self._job_at[q.job_id] = (src, job)
            if src.uid in self._row_of_uid:  # an existing row: insert under it below
                added.setdefault(src.uid, []).append(job)
            else:
                src.jobs.append(job)
        for uid, jobs in added.items():
            src = self._by_uid[uid]
            parent = self.index(self._row_of_uid[uid], 0)
            first = len(src.jobs)
            self.beginInsertRows(parent, first, first + len(jobs) - 1)
            src.jobs.extend(jobs)
            self.endInsertRows()
        if new_sources:
            first = len(self._sources)
            self.beginInsertRows(QModelIndex(), first, first + len(new_sources) - 1)
            for i, src in enumerate(new_sources):
                self._sources.append(src)
                self._row_of_uid[src.uid] = first + i
            self.endInsertRows()
        self.counts_changed.emit()

    def on_started(self, e: JobStarted) -> None:
        if e.job_id in self._job_at:
            job = self._job_at[e.job_id][1]
            self._forget(job)
            job.status, job.percent = "running", 0.0
            self._count(job)
            self._mark(e.job_id)
            self.counts_changed.emit()

    def on_progress(self, e: JobProgressed) -> None:
        hit = self._job_at.get(e.job_id)
        if hit is None:
            return
        job = hit[1]
        if job.status in _ACTIVE:
            self._contrib_total += (e.percent or 0.0) - (job.percent or 0.0)
        job.percent, job.speed, job.eta = e.percent, e.speed, e.eta
        self._dirty.add(e.job_id)  # painted by the next flush, not now

    def on_finished(self, e: JobFinished) -> None:
        hit = self._job_at.get(e.job_id)
        if hit is None:
            return
        src, job = hit
        self._forget(job)
        job.status, job.error, job.warning = e.status, e.error, e.warning
        job.outputs = tuple(e.outputs)
        job.percent = 100.0 if e.status == "succeeded" else job.percent
        job.eta = None
        self._count(job)
        for out in e.outputs:
            if out.get("role") == "poster" and e.status in ("succeeded", "skipped"):
                src.poster = out.get("path")
        self._mark(e.job_id)
        self.counts_changed.emit()

    def _forget(self, job: JobRow) -> None:
        self._status_count[job.status] = self._status_count.get(job.status, 0) - 1
        self._contrib_total -= _contribution(job)

    def _count(self, job: JobRow) -> None:
        self._status_count[job.status] = self._status_count.get(job.status, 0) + 1
        self._contrib_total += _contribution(job)

    def mark_resumed(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            if job_id in self._job_at:
                self._job_at[job_id][1].resumed = True
                self._mark(job_id)

    def _mark(self, job_id: str) -> None:
        self._dirty.add(job_id)

    def flush(self) -> None:
        """Emit one dataChanged per contiguous run of dirty rows (children and their sources)."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        rows_by_source: dict[int, list[int]] = {}
        for job_id in dirty:
            hit = self._job_at.get(job_id)
            if hit is None:
                continue
            src, job = hit
            rows_by_source.setdefault(src.uid, []).append(src.jobs.index(job))
        last = self.columnCount() - 1
        source_rows = []
        for uid, rows in rows_by_source.items():
            srow = self._row_of_uid.get(uid)
            if srow is None:
                continue
            source_rows.append(srow)
            parent = self.index(srow, 0)
            for lo, hi in _runs(sorted(rows)):
                self.dataChanged.emit(self.index(lo, 0, parent), self.index(hi, last, parent))
        for lo, hi in _runs(sorted(source_rows)):
            self.dataChanged.emit(self.index(lo, 0), self.index(hi, last))

    # -- queries -------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """queued / running / done / failed / total, from the running totals (O(1))."""
        n = self._status_count
        queued = n.get("queued", 0) + n.get("interrupted", 0)
        total = sum(n.values())
        return {
            "queued": queued,
            "running": n.get("running", 0),
            "done": total - queued - n.get("running", 0) - n.get("failed", 0),
            "failed": n.get("failed", 0),
            "total": total,
        }

    def overall_percent(self) -> float:
        total = sum(self._status_count.values())
        return max(0.0, min(100.0, self._contrib_total / total)) if total else 0.0

    def job(self, job_id: str) -> JobRow | None:
        hit = self._job_at.get(job_id)
        return hit[1] if hit else None

    def job_ids_under(self, index: ModelIndex) -> list[str]:
        """The job of a job row, or every job of a source row."""
        if not index.isValid():
            return []
        node = self._node(index)
        if isinstance(node, SourceRow):
            return [j.job_id for j in node.jobs]
        return [node.job_id]

    def job_ids_with_status(self, *statuses: str) -> list[str]:
        return [j.job_id for s in self._sources for j in s.jobs if j.status in statuses]

    def batch_of_row(self, row: int) -> int | None:
        return self._sources[row].batch_id if 0 <= row < len(self._sources) else None

    def source_of(self, job_id: str) -> SourceRow | None:
        hit = self._job_at.get(job_id)
        return hit[0] if hit else None

    def remove_jobs(self, job_ids: list[str]) -> None:
        """Drop finished jobs from the view (the history keeps them); empty sources go too."""
        for job_id in job_ids:
            hit = self._job_at.get(job_id)
            if hit is None or hit[1].status in _ACTIVE:
                continue
            src, job = hit
            self._forget(job)
            srow = self._row_of_uid[src.uid]
            jrow = src.jobs.index(job)
            self.beginRemoveRows(self.index(srow, 0), jrow, jrow)
            src.jobs.pop(jrow)
            del self._job_at[job_id]
            self.endRemoveRows()
            if not src.jobs:
                self.beginRemoveRows(QModelIndex(), srow, srow)
                self._sources.pop(srow)
                del self._by_uid[src.uid]
                self._source_of_path.pop(src.path, None)
                self._row_of_uid = {s.uid: i for i, s in enumerate(self._sources)}
                self.endRemoveRows()
        self.counts_changed.emit()

    def clear_finished(self) -> None:
        self.remove_jobs(self.job_ids_with_status("succeeded", "skipped", "cancelled"))

    # -- Qt model API --------------------------------------------------------------------------
    def _node(self, index: ModelIndex) -> SourceRow | JobRow:
        uid = index.internalId()
        if uid == 0:
            return self._sources[index.row()]
        return self._by_uid[uid].jobs[index.row()]

    def index(self, row: int, column: int, parent: ModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not parent.isValid():
            if 0 <= row < len(self._sources):
                return self.createIndex(row, column, 0)
            return QModelIndex()
        if parent.internalId() != 0:
            return QModelIndex()
        src = self._sources[parent.row()]
        if 0 <= row < len(src.jobs):
            return self.createIndex(row, column, src.uid)
        return QModelIndex()

    def parent(self, index: ModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        row = self._row_of_uid.get(index.internalId())
        return QModelIndex() if row is None else self.createIndex(row, 0, 0)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._sources)
        if parent.internalId() != 0 or parent.column() != 0:
            return 0
        return len(self._sources[parent.row()].jobs)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._node(index)
        col = index.column()
        if isinstance(node, SourceRow):
            return self._source_data(node, col, role)
        return self._job_data(node, col, role)

    def _source_data(self, src: SourceRow, col: int, role: int) -> Any:
        status = src.status()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return src.name
            if col == COL_PRESET:
                return f"{len(src.jobs)} job{'s' if len(src.jobs) != 1 else ''}"
            if col == COL_STATUS:
                return status
            if col == COL_PROGRESS:
                return "" if status == "failed" else f"{src.percent():.0f}%"
            if col == COL_SIZE:
                return human_size(sum(j.output_size for j in src.jobs))
            if col == COL_MSG:
                failed = [j for j in src.jobs if j.status == "failed"]
                return (
                    failed[0].error
                    if len(failed) == 1
                    else (f"{len(failed)} jobs failed" if failed else "")
                )
        elif role == Qt.ItemDataRole.DecorationRole:
            if col == COL_NAME:
                return self._poster_icon(src.poster)
            if col == COL_STATUS:
                return status_icon(status)
        elif role == Qt.ItemDataRole.ToolTipRole and col == COL_NAME:
            return src.path
        elif role == PERCENT_ROLE and col == COL_PROGRESS:
            return None if status == "failed" else src.percent()
        elif role == STATUS_ROLE:
            return status
        elif role == PATH_ROLE:
            return src.path
        return None

    def _job_data(self, job: JobRow, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return job.kind
            if col == COL_PRESET:
                return job.label
            if col == COL_STATUS:
                return job.status + (" (resumed)" if job.resumed else "")
            if col == COL_PROGRESS:  # the text under the bar: none where no bar is drawn
                pct = self._job_data(job, col, PERCENT_ROLE)
                return "" if pct is None else f"{pct:.0f}%"
            if col == COL_SPEED:
                return f"{job.speed:.2f}x" if job.speed and job.status == "running" else ""
            if col == COL_ETA:
                return human_eta(job.eta) if job.status == "running" else ""
            if col == COL_SIZE:
                return human_size(job.output_size)
            if col == COL_MSG:
                return job.error or job.warning or ""
        elif role == Qt.ItemDataRole.DecorationRole and col == COL_STATUS:
            return status_icon(job.status)
        elif role == Qt.ItemDataRole.ToolTipRole:
            if job.error:
                return job.error
            if job.warning:
                return job.warning
            if job.outputs:
                return "\n".join(str(o.get("path")) for o in job.outputs)
        elif role == PERCENT_ROLE and col == COL_PROGRESS:
            # A bar only where progress means something: not on a job that failed or never ran.
            if job.status in ("succeeded", "skipped"):
                return 100.0
            return job.percent if job.status in ("running", "interrupted") else None
        elif role == JOB_ID_ROLE:
            return job.job_id
        elif role == STATUS_ROLE:
            return job.status
        elif role == PATH_ROLE:
            return str(job.outputs[0].get("path")) if job.outputs else None
        return None

    def _poster_icon(self, path: str | None) -> QIcon | None:
        if not path:
            return None
        icon = self._posters.get(path)
        if icon is None:
            pix = QPixmap(path)
            if pix.isNull():
                return None
            icon = QIcon(pix.scaledToHeight(36, Qt.TransformationMode.SmoothTransformation))
            self._posters[path] = icon
        return icon


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """[1,2,3,7,8] -> [(1,3),(7,8)]"""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and r == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], r)
        elif not runs or r != runs[-1][1]:
            runs.append((r, r))
    return runs
