"""The queue tab: an inviting empty state, then a grouped tree with progress bars and filters."""

from __future__ import annotations

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from reelforge.ui.icons import app_icon
from reelforge.ui.queue_model import (
    COL_ETA,
    COL_MSG,
    COL_NAME,
    COL_PRESET,
    COL_PROGRESS,
    COL_SIZE,
    COL_SPEED,
    COL_STATUS,
    PERCENT_ROLE,
    STATUS_ROLE,
    QueueModel,
)

STATUS_FILTERS = (
    "All",
    "Active",
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "skipped",
    "interrupted",
)


class ProgressDelegate(QStyledItemDelegate):
    """Paints a real progress bar in the progress column."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        percent = index.data(PERCENT_ROLE)
        if percent is None:
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget else QApplication.style()
        # The cell's own background first, so a selected row has no gap under the bar.
        style.drawPrimitive(
            QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
        )
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 4, -3, -4)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(max(0.0, min(100.0, float(percent))) * 10)
        bar.text = f"{float(percent):.0f}%"
        bar.textVisible = True
        # Qt 6 styles read the orientation from State_Horizontal; without it bars fill upwards.
        bar.state = (
            option.state | QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        )
        bar.palette = option.palette
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


class StatusFilter(QSortFilterProxyModel):
    """Shows jobs whose status matches; a source shows when any of its jobs does."""

    def __init__(self) -> None:
        super().__init__()
        self._wanted: tuple[str, ...] = ()
        self.setRecursiveFilteringEnabled(True)
        self.setDynamicSortFilter(False)  # re-sorting 10,000 rows on every tick is not free

    def set_status(self, choice: str) -> None:
        if choice == "All":
            self._wanted = ()
        elif choice == "Active":
            self._wanted = ("queued", "running", "interrupted")
        else:
            self._wanted = (choice,)
        self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._wanted:
            return True
        if not parent.isValid():  # a source row: shown through its matching jobs
            return False
        index = self.sourceModel().index(row, 0, parent)
        return index.data(STATUS_ROLE) in self._wanted


class QueueView(QWidget):
    """Empty state or the tree. Emits the selection change so the log panel can follow it."""

    current_job_changed = Signal(str)  # "" when a source row or nothing is selected

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = StatusFilter()
        self.proxy.setSourceModel(model)

        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setObjectName("queueTree")
        self.tree.setUniformRowHeights(True)  # lets the view skip per-row size queries
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QTreeView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QTreeView.SelectionBehavior.SelectRows)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # insertion order until asked
        self.tree.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(self.tree))
        self.tree.setIconSize(QSize(48, 28))  # room for the poster thumbnail on source rows
        self.tree.setAcceptDrops(False)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_MSG, QHeaderView.ResizeMode.Stretch)
        for col, width in (
            (COL_NAME, 250),
            (COL_PRESET, 200),
            (COL_STATUS, 120),
            (COL_PROGRESS, 120),
            (COL_SPEED, 60),
            (COL_ETA, 60),
            (COL_SIZE, 84),
        ):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, width)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        model.rowsInserted.connect(self._rows_inserted)
        model.rowsRemoved.connect(self._update_page)
        model.modelReset.connect(self._update_page)

        self.filter_box = QComboBox()
        self.filter_box.addItems(STATUS_FILTERS)
        self.filter_box.setToolTip("Show jobs with this status")
        self.filter_box.currentTextChanged.connect(self.proxy.set_status)
        self.filter_box.currentTextChanged.connect(lambda _: self.tree.expandAll())
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.filter_box)
        bar.addStretch(1)

        tree_page = QWidget()
        lay = QVBoxLayout(tree_page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.tree)

        self.empty = _EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(tree_page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self._update_page()

    def selected_job_ids(self) -> list[str]:
        ids: list[str] = []
        for proxy_index in self.tree.selectionModel().selectedRows(0):
            for job_id in self.model.job_ids_under(self.proxy.mapToSource(proxy_index)):
                if job_id not in ids:
                    ids.append(job_id)
        return ids

    def current_job_id(self) -> str:
        index = self.proxy.mapToSource(self.tree.currentIndex())
        if index.isValid() and index.internalId() != 0:
            ids = self.model.job_ids_under(index)
            return ids[0] if ids else ""
        return ""

    def _current_changed(self, *_: object) -> None:
        self.current_job_changed.emit(self.current_job_id())

    def _rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        # Keep sources expanded so their jobs are visible.
        if parent.isValid():
            self.tree.expand(self.proxy.mapFromSource(parent))
        elif last - first < 64:
            for row in range(first, last + 1):
                self.tree.expand(self.proxy.mapFromSource(self.model.index(row, 0)))
        else:
            self.tree.expandAll()  # one layout pass instead of thousands
        self._update_page()

    def _update_page(self, *_: object) -> None:
        self.stack.setCurrentIndex(1 if self.model.rowCount() else 0)


class _EmptyState(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("emptyState")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Drop videos or folders here")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        hint = QLabel(
            "Each file becomes renditions, thumbnails, audio or previews, following the presets\n"
            "chosen above. Or use Add files… / Add folder… in the toolbar."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # muted in both themes
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        lay.addWidget(icon)
        lay.addSpacing(12)
        lay.addWidget(title)
        lay.addWidget(hint)
        lay.addStretch(3)
