"""The Alerts tab: every alert raised, newest first, what was done about it, and when it ended.

Reads the alerts history (MonitoringStore.alerts); refreshed when an alert is raised or cleared
and when the tab is shown. A failure spike that paused the queue offers "Resume queue" here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from reelforge.observability.alerts import RULE_TITLES
from reelforge.storage.monitoring import AlertRecord, MonitoringStore
from reelforge.ui.theme import semantic_color

COLUMNS = ("Raised", "Alert", "What happened", "Action taken", "Ended")


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


class AlertsTab(QWidget):
    resume_requested = Signal()

    def __init__(
        self,
        store: MonitoringStore,
        queue_paused: Callable[[], bool] = lambda: False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store, self._queue_paused = store, queue_paused
        self.records: list[AlertRecord] = []
        self.summary = QLabel()
        self.resume_button = QPushButton("Resume queue")
        self.resume_button.clicked.connect(self.resume_requested)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.resume_button)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.table)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self, *_: object) -> None:
        self.records = self._store.alerts()
        self.table.setRowCount(len(self.records))
        active = 0
        for row, a in enumerate(self.records):
            ended = _when(a.cleared_at)
            if a.cleared_message:
                ended += f" ({a.cleared_message})"
            if a.cleared_at is None:
                active += 1
            cells = (
                _when(a.raised_at),
                RULE_TITLES.get(a.rule, a.rule),
                a.message,
                a.action or "–",
                ended or "still on",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if col == 1:
                    kind = "error" if a.severity == "critical" else "warning"
                    item.setForeground(QColor(semantic_color(kind)))
                if col == 4 and a.cleared_at is None:
                    item.setForeground(QColor(semantic_color("warning")))
                item.setData(Qt.ItemDataRole.UserRole, a.id)
                self.table.setItem(row, col, item)
        total = len(self.records)
        self.summary.setText(
            f"{active} active, {total} in the history" if total else "No alerts so far."
        )
        self.resume_button.setVisible(self._queue_paused())
