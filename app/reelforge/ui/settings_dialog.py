"""The Settings dialog: output, concurrency, ffmpeg, behaviour, theme, and automation (watch
folders, heavy-job hours, retention).

OK writes settings.toml (through config.save_settings) and emits settings_changed with the new
Settings; Cancel leaves the file alone. The ffmpeg field is checked as you type, in a worker
thread (asking a binary for its version may take a moment), and the result shows underneath.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from reelforge.config import (
    COLLISIONS,
    Settings,
    WatchFolder,
    default_output_dir,
    save_settings,
)
from reelforge.media.binaries import FFmpegBinary, FFmpegNotFound, find_ffmpeg
from reelforge.ui.theme import semantic_color
from reelforge.watch.schedule import parse_hours

COLLISION_LABELS: dict[str, str] = {
    "counter": "Keep both: add a number to the new file",
    "overwrite": "Replace the existing file",
    "skip": "Skip: keep the existing file, make nothing",
}
THEME_LABELS: dict[str, str] = {"system": "System", "light": "Light", "dark": "Dark"}
SOURCE_LABELS: dict[str, str] = {
    "setting": "the path above",
    "env": "from REELFORGE_FFMPEG",
    "bundled": "bundled",
    "imageio-ffmpeg": "from imageio-ffmpeg",
    "PATH": "from PATH",
}
DETECT_DELAY_MS = 300  # wait for a pause in typing before asking a binary for its version


def wrap_lines(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy wrapping that may also break after / \\ and -, so long paths wrap too."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for token in re.split(r"(?<=[\s/\\-])", para):
            if not token:
                continue
            if fits(line + token):
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = token.lstrip() if line.strip() else token
            while not fits(line) and len(line) > 1:  # a single token wider than the line
                cut = len(line) - 1
                while cut > 1 and not fits(line[:cut]):
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


class _StatusLabel(QLabel):
    """A label that wraps its text itself, at its real width, with explicit line breaks.

    A word-wrapped QLabel in a QFormLayout gets a height guessed for another width and may
    lose its last line; explicit lines give a size hint every layout honours.
    """

    def __init__(self) -> None:
        super().__init__()
        self._raw = ""

    def set_status(self, text: str) -> None:
        self._raw = text
        self._rewrap()

    def status(self) -> str:
        return self._raw

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rewrap()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), 240), hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(60, super().minimumSizeHint().height())

    def _rewrap(self) -> None:
        fm = self.fontMetrics()
        width = max(60, self.contentsRect().width())
        text = "\n".join(wrap_lines(self._raw, lambda t: fm.horizontalAdvance(t) <= width))
        if text != self.text():
            self.setText(text)


class _Detector(QObject):
    """Runs find_ffmpeg off the GUI thread; results arrive as a queued signal."""

    done = Signal(int, object)  # generation, FFmpegBinary | str (the error line)

    def start(self, generation: int, setting: str) -> None:
        threading.Thread(
            target=self._run, args=(generation, setting), name="ffmpeg-detect", daemon=True
        ).start()

    def _run(self, generation: int, setting: str) -> None:
        try:
            result: FFmpegBinary | str = find_ffmpeg(setting or None)
        except FFmpegNotFound as exc:
            result = str(exc)
        except Exception as exc:  # a detection bug must not kill the dialog
            result = f"ffmpeg check failed: {exc}"
        with contextlib.suppress(RuntimeError):  # the dialog went away meanwhile
            self.done.emit(generation, result)


class SettingsDialog(QDialog):
    settings_changed = Signal(object)  # the new Settings, after it was saved

    def __init__(self, settings: Settings, settings_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(540)  # room for an ffmpeg path on one or two lines
        self.setObjectName("SettingsDialog")
        self._settings = settings
        self._path = Path(settings_path)
        self._generation = 0
        self._detected: FFmpegBinary | str | None = None
        # Parentless on purpose: the worker thread may outlive a closed dialog.
        self._detector = _Detector()
        self._detector.done.connect(self._on_detected)
        self._detect_timer = QTimer(self, singleShot=True, interval=DETECT_DELAY_MS)
        self._detect_timer.timeout.connect(self._detect_now)
        self._build()
        self._load(settings)
        self._detect_now()

    # ---- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setSpacing(12)

        # Output
        out_box = QGroupBox("Output")
        out_form = self._form(out_box)
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText(default_output_dir())
        self.output_edit.setToolTip("Where new files go. Empty: the default folder shown.")
        self.output_browse = QPushButton("Browse…")
        self.output_browse.clicked.connect(self._browse_output)
        out_form.addRow("Folder:", self._with_button(self.output_edit, self.output_browse))
        self.collision_combo = QComboBox()
        for key in COLLISIONS:
            self.collision_combo.addItem(COLLISION_LABELS.get(key, key), key)
        out_form.addRow("If a file exists:", self.collision_combo)
        outer.addWidget(out_box)

        # Processing
        proc_box = QGroupBox("Processing")
        proc_form = self._form(proc_box)
        self.light_spin = self._spin(1, 16)
        self.light_spin.setToolTip("Probes, thumbnails, audio extracts and previews in parallel")
        self.heavy_spin = self._spin(1, 16)
        self.heavy_spin.setToolTip("Video encodes and remuxes in parallel (each uses all cores)")
        proc_form.addRow(
            "Jobs at once:", self._pair("Light", self.light_spin, "Heavy", self.heavy_spin)
        )

        self.ffmpeg_edit = QLineEdit()
        self.ffmpeg_edit.setPlaceholderText("Automatic")
        self.ffmpeg_edit.setToolTip("An ffmpeg binary or the folder holding it. Empty: automatic")
        self.ffmpeg_edit.textChanged.connect(self._schedule_detect)
        self.ffmpeg_browse = QPushButton("Browse…")
        self.ffmpeg_browse.clicked.connect(self._browse_ffmpeg)
        proc_form.addRow("ffmpeg:", self._with_button(self.ffmpeg_edit, self.ffmpeg_browse))
        self.ffmpeg_status = _StatusLabel()
        self.ffmpeg_status.setObjectName("ffmpegStatus")
        proc_form.addRow("", self.ffmpeg_status)

        self.stall_spin = self._spin(5, 3600)
        self.stall_spin.setSuffix(" s")
        self.stall_spin.setSingleStep(10)
        self.stall_spin.setToolTip("A job whose ffmpeg prints nothing for this long is stopped")
        proc_form.addRow("Stop a stalled job after:", self.stall_spin)

        # Long encodes in segments (domain/split.py): heavy slots or workers share one file.
        self.split_spin = self._spin(0, 24 * 60)
        self.split_spin.setSuffix(" min")
        self.split_spin.setSpecialValueText("Never")
        self.split_spin.setToolTip(
            "Encodes of sources at least this long are cut at keyframes into pieces that "
            "encode side by side (two or more heavy slots, or cluster workers), then joined"
        )
        self.segment_spin = self._spin(10, 3600)
        self.segment_spin.setSuffix(" s")
        self.segment_spin.setSingleStep(30)
        self.segment_spin.setToolTip("About how long each piece is")
        proc_form.addRow(
            "Split encodes:",
            self._pair("longer than", self.split_spin, "in pieces of", self.segment_spin),
        )

        # Cluster mode: the executor is chosen once, at start-up (bootstrap.build()).
        self.run_on_combo = QComboBox()
        self.run_on_combo.addItem("This computer", "local")
        self.run_on_combo.addItem("Cluster at", "cluster")
        self.broker_edit = QLineEdit()
        self.broker_edit.setPlaceholderText("redis://host:6379/0")
        self.broker_edit.setToolTip(
            "The Redis broker your `reelforge worker` machines use. Takes effect at the next start"
        )
        self.run_on_combo.currentIndexChanged.connect(self._run_on_changed)
        run_on = QWidget()
        run_on_row = QHBoxLayout(run_on)
        run_on_row.setContentsMargins(0, 0, 0, 0)
        run_on_row.addWidget(self.run_on_combo)
        run_on_row.addWidget(self.broker_edit, 1)
        proc_form.addRow("Run jobs on:", run_on)
        outer.addWidget(proc_box)

        # Desktop
        desk_box = QGroupBox("Desktop")
        desk_form = self._form(desk_box)
        self.notify_check = QCheckBox("Notify me when a batch finishes")
        self.tray_check = QCheckBox("Keep running in the tray when the window is closed")
        desk_form.addRow(self.notify_check)
        desk_form.addRow(self.tray_check)
        self.theme_combo = QComboBox()
        for key, label in THEME_LABELS.items():
            self.theme_combo.addItem(label, key)
        desk_form.addRow("Theme:", self.theme_combo)
        outer.addWidget(desk_box)
        outer.addWidget(self._build_automation())

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        outer.addWidget(self.error_label)
        outer.addStretch(1)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults
        )
        outer.addWidget(self.buttons)

    def _build_automation(self) -> QGroupBox:
        """Watch folders, heavy-job hours and retention."""
        box = QGroupBox("Automation")
        form = self._form(box)
        self.watch_table = QTableWidget(0, 3)
        self.watch_table.setHorizontalHeaderLabels(["Watched folder", "Presets", "Output"])
        self.watch_table.verticalHeader().hide()
        rows = self.watch_table.verticalHeader()
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.watch_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.watch_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.watch_table.setTextElideMode(Qt.TextElideMode.ElideLeft)  # the folder's end matters
        self.watch_table.setFixedHeight(
            header.sizeHint().height() + 3 * rows.defaultSectionSize() + 4
        )
        self.watch_table.setToolTip(
            "New files are queued once they stop growing. Presets: comma-separated. "
            "Output: empty for the folder above."
        )
        self.watch_add = QPushButton("Add folder…")
        self.watch_add.clicked.connect(self._add_watch)
        self.watch_remove = QPushButton("Remove")
        self.watch_remove.clicked.connect(self._remove_watch)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.watch_add)
        row.addWidget(self.watch_remove)
        row.addStretch(1)
        form.addRow("Watch folders:", self.watch_table)
        form.addRow("", buttons)
        self.hours_edit = QLineEdit()
        self.hours_edit.setPlaceholderText("Any time (e.g. 22:00-07:00)")
        self.hours_edit.setToolTip("Encodes start only in these hours; running ones finish")
        form.addRow("Heavy jobs start:", self.hours_edit)
        self.history_spin = self._spin(0, 3650)
        self.history_spin.setSpecialValueText("Keep forever")
        self.history_spin.setSuffix(" days")
        self.log_spin = self._spin(0, 3650)
        self.log_spin.setSpecialValueText("Keep forever")
        self.log_spin.setSuffix(" days")
        form.addRow("Keep:", self._pair("History", self.history_spin, "Job logs", self.log_spin))
        return box

    def _add_watch(self) -> None:
        folder = self._ask_watch_directory(str(Path.home()))
        if folder:
            self._append_watch(WatchFolder(folder, tuple(self._settings.presets), ""))

    def _append_watch(self, w: WatchFolder) -> None:
        row = self.watch_table.rowCount()
        self.watch_table.insertRow(row)
        for col, text in enumerate((w.dir, ", ".join(w.presets), w.out)):
            self.watch_table.setItem(row, col, QTableWidgetItem(text))

    def _remove_watch(self) -> None:
        rows = sorted({i.row() for i in self.watch_table.selectedIndexes()}, reverse=True)
        for row in rows or [self.watch_table.rowCount() - 1]:
            if row >= 0:
                self.watch_table.removeRow(row)

    def watch_folders(self) -> tuple[WatchFolder, ...]:
        found = []
        for row in range(self.watch_table.rowCount()):
            cells = [self.watch_table.item(row, c) for c in range(3)]
            folder, presets, out = (c.text().strip() if c else "" for c in cells)
            if folder:
                names = tuple(p.strip() for p in presets.split(",") if p.strip())
                found.append(WatchFolder(folder, names or ("web",), out))
        return tuple(found)

    @staticmethod
    def _form(box: QGroupBox) -> QFormLayout:
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        return form

    @staticmethod
    def _spin(low: int, high: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setMinimumWidth(72)
        return spin

    @staticmethod
    def _pair(label_a: str, field_a: QWidget, label_b: str, field_b: QWidget) -> QWidget:
        """One form row holding two labelled fields side by side."""
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel(label_a))
        lay.addWidget(field_a)
        lay.addSpacing(16)
        lay.addWidget(QLabel(label_b))
        lay.addWidget(field_b)
        lay.addStretch(1)
        return row

    @staticmethod
    def _with_button(edit: QLineEdit, button: QPushButton) -> QWidget:
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(edit, 1)
        lay.addWidget(button)
        return row

    # ---- values ---------------------------------------------------------------------------

    def _load(self, s: Settings) -> None:
        s = s.validated()
        self.output_edit.setText(s.output_dir)
        self.collision_combo.setCurrentIndex(max(0, self.collision_combo.findData(s.collision)))
        self.light_spin.setValue(s.light_concurrency)
        self.heavy_spin.setValue(s.heavy_concurrency)
        self.ffmpeg_edit.setText(s.ffmpeg_path)
        self.stall_spin.setValue(round(s.stall_timeout))
        self.split_spin.setValue(round(s.split_after / 60))
        self.segment_spin.setValue(round(s.segment_seconds))
        self.run_on_combo.setCurrentIndex(1 if s.broker_url else 0)
        self.broker_edit.setText(s.broker_url)
        self._run_on_changed()
        self.notify_check.setChecked(s.notifications)
        self.tray_check.setChecked(s.close_to_tray)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(s.theme)))
        self.watch_table.setRowCount(0)
        for w in s.watch:
            self._append_watch(w)
        self.hours_edit.setText(s.heavy_hours)
        self.history_spin.setValue(s.history_days)
        self.log_spin.setValue(s.log_days)

    def current(self) -> Settings:
        """What the form holds, on top of the settings it was opened with (e.g. presets)."""
        return replace(
            self._settings,
            output_dir=self.output_edit.text().strip(),
            collision=self.collision_combo.currentData(),
            light_concurrency=self.light_spin.value(),
            heavy_concurrency=self.heavy_spin.value(),
            ffmpeg_path=self.ffmpeg_edit.text().strip(),
            stall_timeout=float(self.stall_spin.value()),
            split_after=60.0 * self.split_spin.value(),
            segment_seconds=float(self.segment_spin.value()),
            broker_url=self.broker_edit.text().strip()
            if self.run_on_combo.currentData() == "cluster"
            else "",
            notifications=self.notify_check.isChecked(),
            close_to_tray=self.tray_check.isChecked(),
            theme=self.theme_combo.currentData(),
            watch=self.watch_folders(),
            heavy_hours=self.hours_edit.text().strip(),
            history_days=self.history_spin.value(),
            log_days=self.log_spin.value(),
        )

    def _run_on_changed(self) -> None:
        self.broker_edit.setEnabled(self.run_on_combo.currentData() == "cluster")

    def restore_defaults(self) -> None:
        """Put the defaults in the form (nothing is saved until OK)."""
        self._load(replace(Settings(), presets=self._settings.presets))

    def accept(self) -> None:
        new = self.current().validated()
        try:
            parse_hours(new.heavy_hours)
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setStyleSheet(f"color: {semantic_color('error')};")
            self.error_label.show()
            return
        try:
            save_settings(self._path, new)
        except OSError as exc:
            self.error_label.setText(f"Could not save the settings: {exc.strerror or exc}")
            self.error_label.setStyleSheet(f"color: {semantic_color('error')};")
            self.error_label.show()
            return
        self._settings = new
        self.settings_changed.emit(new)
        super().accept()

    # ---- file dialogs (small methods so tests can replace them) ---------------------------

    def _ask_directory(self, start: str) -> str:
        return QFileDialog.getExistingDirectory(self, "Output folder", start)

    def _ask_watch_directory(self, start: str) -> str:
        return QFileDialog.getExistingDirectory(self, "Watch folder", start)

    def _ask_ffmpeg_file(self, start: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, "ffmpeg binary", start)
        return path

    def _browse_output(self) -> None:
        start = self.output_edit.text().strip() or default_output_dir()
        chosen = self._ask_directory(start)
        if chosen:
            self.output_edit.setText(chosen)

    def _browse_ffmpeg(self) -> None:
        current = self.ffmpeg_edit.text().strip()
        start = str(Path(current).expanduser().parent) if current else str(Path.home())
        chosen = self._ask_ffmpeg_file(start)
        if chosen:
            self.ffmpeg_edit.setText(chosen)

    # ---- ffmpeg detection -----------------------------------------------------------------

    @property
    def detected(self) -> FFmpegBinary | str | None:
        """The last detection result: an FFmpegBinary, an error line, or None while checking."""
        return self._detected

    @property
    def ffmpeg_status_text(self) -> str:
        """The detection line as shown (without the wrap hints)."""
        return self._status_text

    def _schedule_detect(self) -> None:
        self._generation += 1  # results for older text are ignored from now on
        self._detected = None
        self._show_status("Checking…", "muted")
        self._detect_timer.start()

    def _detect_now(self) -> None:
        self._detect_timer.stop()
        self._generation += 1
        self._detected = None
        self._show_status("Checking…", "muted")
        self._detector.start(self._generation, self.ffmpeg_edit.text().strip())

    def _on_detected(self, generation: int, result: FFmpegBinary | str) -> None:
        if generation != self._generation:
            return
        self._detected = result
        if isinstance(result, FFmpegBinary):
            source = SOURCE_LABELS.get(result.source, result.source)
            self._show_status(f"✓ ffmpeg {result.version}, {source}\n{result.path}", "ok")
        else:
            self._show_status(f"✗ {result}", "error")

    def _show_status(self, text: str, kind: str) -> None:
        """kind: "ok", "error" or "muted" (see theme.semantic_color)."""
        self._status_kind = kind
        self._status_text = text
        self.ffmpeg_status.set_status(text)
        self.ffmpeg_status.setToolTip(text)
        self.ffmpeg_status.setStyleSheet(f"color: {semantic_color(kind)};")
        if self.layout() is not None:
            self.layout().activate()  # the line count changed: lay out now, not later

    def changeEvent(self, event: QEvent) -> None:
        kinds = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in kinds and hasattr(self, "_status_kind"):
            self.ffmpeg_status.setStyleSheet(f"color: {semantic_color(self._status_kind)};")
            self.error_label.setStyleSheet(f"color: {semantic_color('error')};")
        super().changeEvent(event)
