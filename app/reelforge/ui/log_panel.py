"""Logs: the selected job's live ffmpeg log, and the application log with a level filter."""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from reelforge.bus import ThreadHop
from reelforge.domain.events import JobLogged
from reelforge.ui.desktop import copy_text

MAX_BLOCKS = 5000  # bounded: a chatty ffmpeg must not grow the widget forever
TAIL_BYTES = 256 * 1024
LEVELS = {
    "Debug": logging.DEBUG,
    "Info": logging.INFO,
    "Warning": logging.WARNING,
    "Error": logging.ERROR,
}


def _log_view() -> QPlainTextEdit:
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setMaximumBlockCount(MAX_BLOCKS)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return view


def _append_following(view: QPlainTextEdit, text: str) -> None:
    """Append and keep following the tail, unless the person scrolled up to read."""
    bar = view.verticalScrollBar()
    across = view.horizontalScrollBar()
    at_end = bar.value() >= bar.maximum() - 2
    column = across.value()
    view.appendPlainText(text)
    if at_end:
        view.moveCursor(QTextCursor.MoveOperation.End)
        bar.setValue(bar.maximum())
        # Moving the cursor to the end of a long line (an ffmpeg argv) would scroll the view
        # sideways to that line's end; following the tail is vertical only.
        across.setValue(column)


class _NoTraceback(logging.Formatter):
    """A person reads one line; the traceback stays in the structured log file only."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        return text + (" (details in the log file)" if saved[0] else "")


class _QtLogHandler(logging.Handler):
    """Forwards log records from any thread to the panel on the GUI thread."""

    def __init__(self, sink: ThreadHop) -> None:
        super().__init__(logging.DEBUG)
        self._sink = sink
        self.setFormatter(
            _NoTraceback("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._sink.post((record.levelno, self.format(record)))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


class LogPanel(QTabWidget):
    def __init__(self, job_log_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._dir = job_log_dir
        self._job_id = ""
        self.job_view = _log_view()
        self.job_title = QLabel("Select a job to see its log.")
        copy_btn = QPushButton("Copy")
        copy_btn.clicked.connect(lambda: copy_text(self.job_view.toPlainText()))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.job_title, 1)
        top.addWidget(copy_btn)
        job_page = QWidget()
        lay = QVBoxLayout(job_page)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.job_view)
        self.addTab(job_page, "Job log")

        self.app_view = _log_view()
        self.level = QComboBox()
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("Info")
        self.level.currentTextChanged.connect(self._refilter)
        self._records: deque[tuple[int, str]] = deque(maxlen=MAX_BLOCKS)
        app_top = QHBoxLayout()
        app_top.setContentsMargins(0, 0, 0, 0)
        app_top.addWidget(QLabel("Level:"))
        app_top.addWidget(self.level)
        app_top.addStretch(1)
        app_page = QWidget()
        lay2 = QVBoxLayout(app_page)
        lay2.setContentsMargins(4, 4, 4, 4)
        lay2.addLayout(app_top)
        lay2.addWidget(self.app_view)
        self.addTab(app_page, "Application log")

        self._hop = ThreadHop(self._on_record)
        self.handler = _QtLogHandler(self._hop)

    def attach_to(self, logger: logging.Logger) -> None:
        """Show this logger's records; detached again when the panel goes away."""
        handler = self.handler
        logger.addHandler(handler)
        self.destroyed.connect(lambda *_: logger.removeHandler(handler))

    # -- job log -------------------------------------------------------------------------------
    def show_job(self, job_id: str, title: str = "") -> None:
        """Load what the job's log file holds so far, then follow it live."""
        self._job_id = job_id
        self.job_view.clear()
        if not job_id:
            self.job_title.setText("Select a job to see its log.")
            return
        self.job_title.setText(title or f"Job {job_id[:8]}")
        path = self._dir / f"{job_id}.log"
        try:
            with path.open("rb") as fh:
                fh.seek(0, 2)
                size = fh.tell()
                fh.seek(max(0, size - TAIL_BYTES))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            text = "(no log yet)"
        self.job_view.setPlainText(text.rstrip("\n"))
        self.job_view.moveCursor(QTextCursor.MoveOperation.End)

    def on_job_logged(self, event: JobLogged) -> None:
        if event.job_id == self._job_id:
            _append_following(self.job_view, event.line)

    # -- application log -----------------------------------------------------------------------
    def _on_record(self, item: tuple[int, str]) -> None:
        self._records.append(item)
        if item[0] >= LEVELS[self.level.currentText()]:
            _append_following(self.app_view, item[1])

    def _refilter(self, *_: object) -> None:
        floor = LEVELS[self.level.currentText()]
        self.app_view.setPlainText("\n".join(t for lvl, t in self._records if lvl >= floor))
