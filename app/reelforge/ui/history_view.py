"""The History tab: every job ever run, newest first, filtered, over a lazily paged model.

The model never holds the whole history. A reset (open, filter change, refresh) reads one first
page of ``FIRST_PAGE`` rows (``Repository.history(limit, offset)``) and, only if that page is
full, the filtered total (``count_history``); further pages of ``PAGE_SIZE`` rows come through
Qt's canFetchMore/fetchMore as the view scrolls. Each page is turned into display-ready rows
once (no spec JSON is kept), so ``data()`` is a tuple lookup. The order is the repository's,
newest first; the view does not sort. The reads are short indexed queries run on the GUI thread
(see tests/benchmarks/bench_history.py for their cost on a 100,000-job history).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from reelforge.domain.jobs import JobStatus
from reelforge.domain.units import human_size
from reelforge.storage.records import JobRecord
from reelforge.storage.repository import Repository
from reelforge.ui.desktop import copy_text, open_path, reveal
from reelforge.ui.icons import STATUS_COLORS, status_icon

log = logging.getLogger("reelforge.ui.history")

ModelIndex = QModelIndex | QPersistentModelIndex

PAGE_SIZE = 200  # rows per fetchMore
FIRST_PAGE = 100  # rows read on a reset: a full window on a tall screen, the view asks for more
SEARCH_DEBOUNCE_MS = 150
NOTICE_MS = 6000
# A refresh re-reads the rows the user had loaded, in one query, but no more than this: the
# rest come back page by page if the user scrolls there again.
REFRESH_MAX_ROWS = 1000

COLUMNS = (
    "When",
    "Source",
    "Preset / outputs",
    "Status",
    "Took",
    "Output size",
    "Error / warning",
    "Versions",
    "Worker",
)
(
    COL_WHEN,
    COL_SOURCE,
    COL_PRESET,
    COL_STATUS,
    COL_TOOK,
    COL_SIZE,
    COL_PROBLEM,
    COL_VERSIONS,
    COL_WORKER,
) = range(len(COLUMNS))

JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2  # the JobStatus value ("failed")

_DISPLAY = Qt.ItemDataRole.DisplayRole
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ERROR_COLOR = QColor(STATUS_COLORS["failed"])
_WARNING_COLOR = QColor(STATUS_COLORS["interrupted"])

# Column widths: the short columns fit these samples; Source, Preset / outputs and Error /
# warning get their sample's width plus a share of what is left of the viewport; Worker, the
# last, stretches.
_WIDTH_SAMPLES = {
    COL_WHEN: "2026-12-31 23:59",
    COL_STATUS: "Interrupted",
    COL_TOOK: "59 m 59 s",
    COL_SIZE: "1023.9 MB",
    COL_VERSIONS: "app 0.1.0 · ffmpeg n9.0.2",
    COL_WORKER: "studio-01",
}
_FLEX = {
    COL_SOURCE: (0.35, "holiday_0001.mp4"),
    COL_PRESET: (0.15, "web: 1080p, 720p"),
    COL_PROBLEM: (0.5, "ffmpeg exited with"),
}
_HEADER_PAD = 6  # px each side of a header title

_RAN = frozenset({"running", "interrupted", "failed", "succeeded"})

STATUS_CHOICES: tuple[str, ...] = tuple(s.value for s in JobStatus)
DATE_CHOICES = ("Any time", "Today", "Last 7 days", "Last 30 days")
DATE_ANY, DATE_TODAY, DATE_7_DAYS, DATE_30_DAYS = range(len(DATE_CHOICES))


# -- formatting --------------------------------------------------------------------------------


def human_seconds(seconds: float | None) -> str:
    """Run time: "0.4 s", "12.3 s", "4 m 05 s", "2 h 07 m"; "" when unknown."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60} m {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} m"


def local_time(value: datetime) -> datetime:
    """A stored UTC time in the local time zone (a naive value is taken to be UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone()


def versions_text(app_version: str | None, ffmpeg_version: str | None) -> str:
    parts = []
    if app_version:
        parts.append(f"app {app_version}")
    if ffmpeg_version:
        parts.append(f"ffmpeg {ffmpeg_version}")
    return " · ".join(parts)


def since_for(choice: int, now: datetime | None = None) -> datetime | None:
    """The UTC lower bound of a date filter choice; "Today" starts at local midnight."""
    local_now = (now or datetime.now(UTC)).astimezone()
    if choice == DATE_TODAY:
        start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    elif choice == DATE_7_DAYS:
        start = local_now - timedelta(days=7)
    elif choice == DATE_30_DAYS:
        start = local_now - timedelta(days=30)
    else:
        return None
    return start.astimezone(UTC)


# -- rows and filters --------------------------------------------------------------------------


def file_name(path: str) -> str:
    """The last component of a stored path, whichever separator it was written with."""
    return path.replace("\\", "/").rstrip("/").rpartition("/")[2] or path


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One job, display-ready: the cell texts are made once per page, so painting is lookups;
    tooltips (rarely asked for) are made on demand. No spec JSON is kept."""

    job_id: str
    status: str
    source_path: str
    texts: tuple[str, ...]  # one per column, DisplayRole
    error: str | None
    warning: str | None
    log_path: str | None
    outputs: tuple[str, ...]  # output paths, in recorded order
    output_sizes: tuple[tuple[str, str, int], ...]  # (role, path, size) for the tooltip
    when: datetime  # local time
    seconds: float | None
    attempt: int

    @classmethod
    def from_record(cls, rec: JobRecord) -> HistoryRow:
        when = local_time(rec.created_at)
        status = rec.status.value
        outputs = tuple((o.role, o.path, o.size or 0) for o in rec.outputs)
        texts = (
            when.strftime("%Y-%m-%d %H:%M"),
            file_name(rec.source_path),
            rec.label,
            status.capitalize(),
            human_seconds(rec.seconds),
            human_size(sum(o[2] for o in outputs)),
            rec.error or rec.warning or "",
            versions_text(rec.app_version, rec.ffmpeg_version),
            rec.worker or "",
        )
        return cls(
            job_id=rec.id,
            status=status,
            source_path=rec.source_path,
            texts=texts,
            error=rec.error,
            warning=rec.warning,
            log_path=rec.log_path,
            outputs=tuple(o[1] for o in outputs),
            output_sizes=outputs,
            when=when,
            seconds=rec.seconds,
            attempt=rec.attempt,
        )

    @property
    def has_log(self) -> bool:
        """A log was recorded, or the job has started (its log is being written)."""
        return self.log_path is not None or self.status in _RAN

    def tooltip(self, col: int) -> str | None:
        if col == COL_WHEN:
            return self.when.strftime("%Y-%m-%d %H:%M:%S %Z")
        if col == COL_SOURCE:
            return self.source_path
        if col == COL_PRESET:
            return "\n".join(self.outputs) or None
        if col == COL_STATUS:
            return self.texts[col] + (f" (attempt {self.attempt})" if self.attempt > 1 else "")
        if col == COL_TOOK:
            return None if self.seconds is None else f"{self.seconds:.2f} s"
        if col == COL_SIZE:
            lines = [
                f"{role}: {file_name(path)} — {human_size(size) or '0 B'}"
                for role, path, size in self.output_sizes
            ]
            return "\n".join(lines) or None
        if col == COL_PROBLEM:
            parts = [
                f"{k}: {v}" for k, v in (("Error", self.error), ("Warning", self.warning)) if v
            ]
            return "\n".join(parts) or None
        return self.texts[col] or None


@dataclass(frozen=True)
class HistoryFilters:
    search: str | None = None
    status: str | None = None
    preset: str | None = None
    since: datetime | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.search, self.status, self.preset, self.since))

    def query(self) -> dict[str, Any]:
        return {
            "search": self.search,
            "status": self.status,
            "preset": self.preset,
            "since": self.since,
        }


# -- the model ---------------------------------------------------------------------------------


class HistoryModel(QAbstractTableModel):
    """Filtered history, newest first, loaded a page at a time as the view scrolls."""

    # The filtered total changed (after a reset or a refresh): for the row count label.
    total_changed = Signal(int)
    # Reading the history failed (database locked, ...): a one-line reason for the user.
    load_failed = Signal(str)

    def __init__(
        self,
        repo: Repository,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        first_page: int = FIRST_PAGE,
    ) -> None:
        super().__init__(parent)
        self._repo = repo
        self._page_size = page_size
        self._first_page = first_page
        self._filters = HistoryFilters()
        self._rows: list[HistoryRow] = []
        self._ids: set[str] = set()
        self._total = 0
        self._exhausted = True
        self.queries = 0  # repository reads so far (tests and the benchmark look at it)
        self.error: str | None = None
        self._reload()

    # -- public API -----------------------------------------------------------------------------

    @property
    def filters(self) -> HistoryFilters:
        return self._filters

    @property
    def total(self) -> int:
        """Jobs matching the filters (the loaded rows are the first rowCount() of them)."""
        return self._total

    def set_filters(
        self,
        search: str | None = None,
        status: JobStatus | str | None = None,
        preset: str | None = None,
        since: datetime | None = None,
        *,
        keep_rows: int = 0,
    ) -> None:
        """Filter and reset: the first page is loaded, further pages as the view scrolls.

        ``keep_rows`` reads that many rows at once instead (up to ``REFRESH_MAX_ROWS``), for a
        refresh that should not collapse what the user scrolled to.
        """
        self._filters = HistoryFilters(
            search=(search or "").strip() or None,
            status=JobStatus(status).value if status else None,
            preset=preset or None,
            since=since,
        )
        self._reload(keep=keep_rows)

    def refresh(self, keep_rows: int | None = None) -> None:
        """Re-read with the same filters (new jobs appear at the top, statuses update).

        Reads ``keep_rows`` rows at once (default: as many as are loaded now), never more than
        ``REFRESH_MAX_ROWS`` nor less than the first page; the rest come back page by page.
        """
        self._reload(keep=len(self._rows) if keep_rows is None else keep_rows)

    def job_at(self, row: int) -> HistoryRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, job_id: str) -> int:
        """The loaded row of a job, -1 if it is not loaded."""
        if job_id not in self._ids:
            return -1
        return next(i for i, r in enumerate(self._rows) if r.job_id == job_id)

    # -- Qt model API ---------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == _DISPLAY:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return _RIGHT if section in (COL_TOOK, COL_SIZE) else _LEFT
        return None

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == _DISPLAY:
            return row.texts[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tooltip(col)
        if role == Qt.ItemDataRole.DecorationRole:
            return status_icon(row.status) if col == COL_STATUS else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if col in (COL_TOOK, COL_SIZE) else None
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_PROBLEM:
            if row.error:
                return _ERROR_COLOR
            return _WARNING_COLOR if row.warning else None
        if role == JOB_ID_ROLE:
            return row.job_id
        if role == STATUS_ROLE:
            return row.status
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._exhausted:
            return
        page = self._read_page(len(self._rows), self._page_size)
        if page is None:
            self._exhausted = True
            return
        if len(page) < self._page_size:
            self._exhausted = True
        # Jobs added since the last page shift the offsets down: skip rows already shown.
        fresh = [r for r in page if r.job_id not in self._ids]
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._rows.extend(fresh)
            self._ids.update(r.job_id for r in fresh)
            self.endInsertRows()
        if self._exhausted and len(self._rows) != self._total:
            self._total = len(self._rows)
            self.total_changed.emit(self._total)

    # -- loading --------------------------------------------------------------------------------

    def _read_page(self, offset: int, limit: int) -> list[HistoryRow] | None:
        self.queries += 1
        try:
            records = self._repo.history(**self._filters.query(), limit=limit, offset=offset)
        except Exception as exc:  # a locked or damaged database must not take the GUI down
            self._fail(exc)
            return None
        return [HistoryRow.from_record(r) for r in records]

    def _read_total(self) -> int | None:
        self.queries += 1
        try:
            return self._repo.count_history(**self._filters.query())
        except Exception as exc:
            self._fail(exc)
            return None

    def _fail(self, exc: Exception) -> None:
        log.exception("reading the history failed")
        self.error = " ".join(str(exc).split()) or type(exc).__name__
        self.load_failed.emit(self.error)

    def _reload(self, keep: int = 0) -> None:
        """Reset to the first page, or to the first ``keep`` rows if that is more."""
        self.error = None
        want = max(self._first_page, min(keep, REFRESH_MAX_ROWS))
        page = self._read_page(0, want)
        rows = page or []
        if page is None:
            total: int | None = 0
        elif len(rows) < want:
            total = len(rows)  # the page holds every match: no count query needed
        else:
            total = self._read_total()
        self.beginResetModel()
        self._rows = rows
        self._ids = {r.job_id for r in rows}
        self._total = total if total is not None else len(rows)
        self._exhausted = page is None or len(rows) < want
        self.endResetModel()
        self.total_changed.emit(self._total)


# -- the tab -----------------------------------------------------------------------------------


class HistoryTab(QWidget):
    """Filters, the history table, a row count, and the per-job actions."""

    rerun_requested = Signal(list)  # job ids, in table order
    show_log_requested = Signal(str)  # the job id (the log viewer finds its log)

    def __init__(self, repo: Repository, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = HistoryModel(repo, self)
        self._presets: list[str] = []

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search source files…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(220)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DEBOUNCE_MS)

        self.status_combo = QComboBox(self)
        self.status_combo.addItem("All statuses", None)
        for status in STATUS_CHOICES:
            self.status_combo.addItem(status_icon(status), status.capitalize(), status)
        self.preset_combo = QComboBox(self)
        self.preset_combo.addItem("All presets", None)
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.date_combo = QComboBox(self)
        for choice in DATE_CHOICES:
            self.date_combo.addItem(choice)
        for combo, tip in (
            (self.status_combo, "Show jobs with this status"),
            (self.preset_combo, "Show jobs of this preset"),
            (self.date_combo, "Show jobs created in this period"),
        ):
            combo.setToolTip(tip)

        self.notice = QLabel(self)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_timer = QTimer(self)
        self.notice_timer.setSingleShot(True)
        self.notice_timer.setInterval(NOTICE_MS)
        self.count_label = QLabel(self)
        self.count_label.setAlignment(_RIGHT)

        filters = QHBoxLayout()
        self.search.setMaximumWidth(420)
        filters.addWidget(self.search, 3)
        filters.addWidget(self.status_combo)
        filters.addWidget(self.preset_combo)
        filters.addWidget(self.date_combo)
        filters.addWidget(self.notice, 2)
        filters.addWidget(self.count_label)

        self.table = QTableView(self)
        self._setup_table()

        self.empty_label = QLabel(self.table.viewport())
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        font = self.empty_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.empty_label.setFont(font)
        self.empty_label.setEnabled(False)  # the palette's disabled text: a quiet grey
        self._viewport = self.table.viewport()
        self._viewport.installEventFilter(self)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)

        self._make_actions()

        self.search.textChanged.connect(self._search_edited)
        self.search_timer.timeout.connect(self._apply_filters)
        self.search.returnPressed.connect(self.apply_search_now)
        self.status_combo.currentIndexChanged.connect(self._apply_filters)
        self.preset_combo.currentIndexChanged.connect(self._apply_filters)
        self.date_combo.currentIndexChanged.connect(self._apply_filters)
        self.notice_timer.timeout.connect(self.notice.clear)
        self.model.total_changed.connect(self._update_counts)
        self.model.modelReset.connect(self._update_empty)
        self.model.rowsInserted.connect(self._update_empty)
        self.model.load_failed.connect(self._show_failure)
        sel = self.table.selectionModel()
        sel.selectionChanged.connect(self._update_actions)
        sel.currentChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self.table.doubleClicked.connect(self._open_index)
        self.table.customContextMenuRequested.connect(self._context_menu)

        self._update_counts(self.model.total)
        self._update_empty()
        self._update_actions()

    # -- public API -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the history with the current filters, keeping the selection and scroll."""
        selected = set(self.selected_ids())
        current = self._current_row()
        current_id = current.job_id if current else None
        top = self.table.rowAt(0)
        top_job = self.model.job_at(top)
        top_id = top_job.job_id if top_job else None
        # Re-read down to what is on screen (plus a margin), not everything ever scrolled past:
        # the main window refreshes on every switch to this tab.
        bottom = self.table.rowAt(self.table.viewport().height() - 1)
        if bottom < 0:
            bottom = self.model.rowCount() - 1
        keep = min(self.model.rowCount(), bottom + 1 + PAGE_SIZE // 2)
        wanted = self.current_filters()
        if self.search_timer.isActive():
            self.search_timer.stop()
        if wanted == self.model.filters:
            self.model.refresh(keep_rows=keep)
        else:  # a pending search, or the date window moved on
            self.model.set_filters(**wanted.query(), keep_rows=keep)
        self._restore(selected, current_id, top_id)

    def set_presets(self, names: Sequence[str]) -> None:
        """The preset filter's choices; the current choice is kept if it is still offered."""
        names = list(dict.fromkeys(n for n in names if n))
        if names == self._presets:
            return
        self._presets = names
        current = self.preset_combo.currentData()
        self.preset_combo.blockSignals(True)
        try:
            self.preset_combo.clear()
            self.preset_combo.addItem("All presets", None)
            for name in names:
                self.preset_combo.addItem(name, name)
            index = self.preset_combo.findData(current) if current is not None else 0
            self.preset_combo.setCurrentIndex(max(index, 0))
        finally:
            self.preset_combo.blockSignals(False)
        if current is not None and self.preset_combo.currentData() != current:
            self._apply_filters()

    def selected_ids(self) -> list[str]:
        return [r.job_id for r in self._selected_rows()]

    def apply_search_now(self) -> None:
        """Apply a pending search at once (Enter in the search field) instead of waiting."""
        if self.search_timer.isActive():
            self.search_timer.stop()
        self._apply_filters()

    def current_filters(self) -> HistoryFilters:
        """What the filter row says now (the date choice turned into a UTC lower bound)."""
        return HistoryFilters(
            search=self.search.text().strip() or None,
            status=self.status_combo.currentData(),
            preset=self.preset_combo.currentData(),
            since=since_for(self.date_combo.currentIndex()),
        )

    # -- setup ----------------------------------------------------------------------------------

    def _setup_table(self) -> None:
        t = self.table
        t.setModel(self.model)
        t.setAlternatingRowColors(True)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setWordWrap(False)
        t.setSortingEnabled(False)
        t.setShowGrid(False)
        t.setTextElideMode(Qt.TextElideMode.ElideRight)
        t.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        t.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        t.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        t.setTabKeyNavigation(False)
        vh = t.verticalHeader()
        vh.setVisible(False)
        # Fixed row heights: the view never measures rows, whatever the row count.
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(max(t.fontMetrics().height() + 8, 22))
        hh = t.horizontalHeader()
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setHighlightSections(False)
        hh.setDefaultAlignment(_LEFT)
        # Fusion leaves 2 px beside a header title, so the right-aligned "Output size" ran into
        # the left-aligned "Error / warning" next to it. Padding only: sections keep the style.
        hh.setStyleSheet(f"QHeaderView::section {{ padding: 0px {_HEADER_PAD}px; }}")
        fm = t.fontMetrics()
        pad = 18  # cell margins and a little air
        self._natural = {
            col: max(fm.horizontalAdvance(sample), fm.horizontalAdvance(COLUMNS[col])) + pad
            for col, sample in _WIDTH_SAMPLES.items()
        }
        self._natural[COL_STATUS] += 16 + 6  # the status icon and its spacing
        self._flex_min = {
            col: fm.horizontalAdvance(sample) + pad for col, (_share, sample) in _FLEX.items()
        }
        hh.setMinimumSectionSize(fm.horizontalAdvance("Took") + pad)
        self._auto_fit = True  # until the user drags a column edge
        self._fitting = False
        hh.sectionResized.connect(self._section_resized)
        self._fit_columns()

    def _section_resized(self, section: int, _old: int, _new: int) -> None:
        last = self.model.columnCount() - 1
        if not self._fitting and section != last:  # the stretched last column follows
            self._auto_fit = False

    def _fit_columns(self) -> None:
        """Natural widths for the short columns; the long-text columns share the rest of the
        viewport (the stretched last column, Worker, keeps its natural width). Stops once the
        user resizes a column."""
        if not self._auto_fit:
            return
        hh = self.table.horizontalHeader()
        spare = self.table.viewport().width() - sum(self._natural.values())
        self._fitting = True
        try:
            for col, width in self._natural.items():
                hh.resizeSection(col, width)
            extra = max(0, spare - sum(self._flex_min.values()))
            for col, (share, _sample) in _FLEX.items():
                hh.resizeSection(col, self._flex_min[col] + int(extra * share))
        finally:
            self._fitting = False

    def _make_actions(self) -> None:
        def action(text: str, slot: Any, *keys: QKeySequence | QKeySequence.StandardKey) -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if keys:
                act.setShortcuts([QKeySequence(k) for k in keys])
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.table.addAction(act)
            return act

        self.rerun_action = action("Re-run", self._rerun, QKeySequence("Ctrl+R"))
        self.open_action = action(
            "Open output", self._open_current, QKeySequence(Qt.Key.Key_Return),
            QKeySequence(Qt.Key.Key_Enter),
        )  # fmt: skip
        self.reveal_action = action("Reveal in folder", self._reveal_current)
        self.log_action = action("Show log", self._show_log)
        self.copy_error_action = action("Copy error", self._copy_error)
        self.open_action.setStatusTip("Open the job's first output in its default application")

    # -- filters --------------------------------------------------------------------------------

    def _search_edited(self, _text: str) -> None:
        self.search_timer.start()  # restarts: one query once typing pauses

    def _apply_filters(self, *_args: object) -> None:
        if self.search_timer.isActive():
            self.search_timer.stop()
        wanted = self.current_filters()
        if wanted == self.model.filters:
            return
        self.model.set_filters(**wanted.query())
        self.table.scrollToTop()

    # -- counts, empty state, failures ----------------------------------------------------------

    def _update_counts(self, total: int) -> None:
        self.count_label.setText(f"{total:,} job" if total == 1 else f"{total:,} jobs")

    def _update_empty(self, *_args: object) -> None:
        empty = self.model.rowCount() == 0
        if self.model.error:
            text = f"Could not read the history: {self.model.error}"
        elif self.model.filters.active:
            text = "No jobs match these filters"
        else:
            text = "No jobs yet"
        self.empty_label.setText(text)
        self.empty_label.setVisible(empty)
        if empty:
            self._place_empty_label()

    def _place_empty_label(self) -> None:
        rect = self.table.viewport().rect().adjusted(24, 24, -24, -24)
        self.empty_label.setGeometry(rect)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._viewport and event.type() == QEvent.Type.Resize:
            self._fit_columns()
            self._place_empty_label()
        return super().eventFilter(watched, event)

    def _show_failure(self, reason: str) -> None:
        self._notify(f"Could not read the history: {reason}")
        self._update_empty()

    def _notify(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setToolTip(text)
        self.notice_timer.start()

    # -- selection ------------------------------------------------------------------------------

    def _selected_rows(self) -> list[HistoryRow]:
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [r for r in map(self.model.job_at, rows) if r is not None]

    def _current_row(self) -> HistoryRow | None:
        """The job the single-job actions act on: the current row if selected, else the first
        selected row."""
        index = self.table.currentIndex()
        sel = self.table.selectionModel()
        if index.isValid() and sel.isRowSelected(index.row(), QModelIndex()):
            return self.model.job_at(index.row())
        rows = self._selected_rows()
        return rows[0] if rows else None

    def _update_actions(self, *_args: object) -> None:
        rows = self._selected_rows()
        current = self._current_row()
        self.rerun_action.setEnabled(bool(rows))
        self.open_action.setEnabled(bool(current and current.outputs))
        self.reveal_action.setEnabled(current is not None)
        self.log_action.setEnabled(current is not None and current.has_log)
        self.copy_error_action.setEnabled(any(r.error or r.warning for r in rows))

    def _restore(self, selected: set[str], current_id: str | None, top_id: str | None) -> None:
        sel = self.table.selectionModel()
        flags = sel.SelectionFlag.Select | sel.SelectionFlag.Rows
        for row in range(self.model.rowCount()):
            job = self.model.job_at(row)
            if job is not None and job.job_id in selected:
                sel.select(self.model.index(row, 0), flags)
        if current_id is not None and (row := self.model.row_of(current_id)) >= 0:
            sel.setCurrentIndex(self.model.index(row, 0), sel.SelectionFlag.NoUpdate)
        if top_id is not None and (row := self.model.row_of(top_id)) >= 0:
            self.table.scrollTo(
                self.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop
            )

    # -- actions --------------------------------------------------------------------------------

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(
            index.row(), QModelIndex()
        ):
            self.table.selectRow(index.row())
        elif index.isValid():
            self.table.selectionModel().setCurrentIndex(
                index, self.table.selectionModel().SelectionFlag.NoUpdate
            )
        self._update_actions()
        if not self._selected_rows():
            return
        menu = self.build_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def build_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.addAction(self.rerun_action)
        menu.addSeparator()
        menu.addAction(self.open_action)
        menu.addAction(self.reveal_action)
        menu.addAction(self.log_action)
        menu.addSeparator()
        menu.addAction(self.copy_error_action)
        return menu

    def _rerun(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.rerun_requested.emit(ids)

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self._open(self.model.job_at(index.row()))

    def _open_current(self) -> None:
        self._open(self._current_row())

    def _open(self, job: HistoryRow | None) -> None:
        if job is None:
            return
        if not job.outputs:
            self._notify(f"{job.texts[COL_SOURCE]}: this job has no outputs")
            return
        path = job.outputs[0]
        if not Path(path).exists():
            self._notify(f"{Path(path).name} no longer exists")
            return
        if not open_path(path):
            self._notify(f"Could not open {Path(path).name}")

    def _reveal_current(self) -> None:
        job = self._current_row()
        if job is None:
            return
        # The first output where there is one, else the source (failed and skipped jobs).
        path = job.outputs[0] if job.outputs else job.source_path
        if not Path(path).exists() and not Path(path).parent.is_dir():
            self._notify(f"{Path(path).parent} no longer exists")
            return
        if not reveal(path):
            self._notify(f"Could not show {Path(path).name} in its folder")

    def _show_log(self) -> None:
        job = self._current_row()
        if job is not None and job.log_path:
            self.show_log_requested.emit(job.job_id)

    def _copy_error(self) -> None:
        rows = [r for r in self._selected_rows() if r.error or r.warning]
        if not rows:
            return
        if len(rows) == 1:
            text = rows[0].error or rows[0].warning or ""
        else:
            text = "\n".join(f"{r.source_path}: {r.error or r.warning}" for r in rows)
        copy_text(text)
