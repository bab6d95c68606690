"""The main window: drop target, queue, logs, toolbar, status. Talks to the core through the
queue service (commands) and the bus (events) only."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from reelforge.__about__ import __version__
from reelforge.bootstrap import App
from reelforge.bus import ThreadHop
from reelforge.config import save_settings
from reelforge.domain.commands import CancelJobs, Enqueue, RetryJobs
from reelforge.domain.events import (
    JobFinished,
    JobLogged,
    JobProgressed,
    JobsQueued,
    JobStarted,
    QueueStateChanged,
)
from reelforge.domain.jobs import Lane
from reelforge.domain.presets import PresetError
from reelforge.services.queue import PreparedBatch
from reelforge.ui.banner import Banner
from reelforge.ui.desktop import open_path, reveal
from reelforge.ui.icons import app_icon
from reelforge.ui.log_panel import LogPanel
from reelforge.ui.queue_model import QueueModel
from reelforge.ui.queue_view import QueueView

log = logging.getLogger("reelforge.ui")


class QuitChoice:
    STOP = "stop"  # stop running jobs (they resume next time) and quit
    TRAY = "tray"  # keep running in the tray
    BACK = "back"


def urls_to_paths(urls: list[QUrl]) -> tuple[list[str], list[str]]:
    """Local files and folders, and the remote URLs we refuse."""
    local, remote = [], []
    for url in urls:
        if url.isLocalFile():
            local.append(url.toLocalFile())
        else:
            remote.append(url.toString())
    return local, remote


class MainWindow(QMainWindow):
    quit_requested = Signal()  # the app decides how to shut down (tray, jobs, ...)
    settings_requested = Signal()
    enqueued = Signal(int)  # a drop was committed (batch id, 0 when nothing was added)

    def __init__(self, core: App, *, tray_available: Callable[[], bool] = lambda: False):
        super().__init__()
        self.core = core
        self._tray_available = tray_available
        self.last_output_dir: str | None = None
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1180, 760)

        self._adding = 0
        self.allow_close = False
        self._prepared = ThreadHop(self._on_prepared)
        self.model = QueueModel(self)
        bus = core.bus
        bus.subscribe(JobsQueued, self.model.on_queued)
        bus.subscribe(JobStarted, self.model.on_started)
        bus.subscribe(JobProgressed, self.model.on_progress)
        bus.subscribe(JobFinished, self.model.on_finished)
        bus.subscribe(JobFinished, self._remember_output)
        bus.subscribe(QueueStateChanged, self._queue_state_changed)

        self.banner = Banner()
        self.queue_view = QueueView(self.model)
        self.queue_view.tree.customContextMenuRequested.connect(self._context_menu)
        self.queue_view.tree.doubleClicked.connect(lambda _: self.open_output())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.queue_view, "Queue")
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(6, 6, 6, 0)
        lay.addWidget(self.banner)
        lay.addWidget(self.tabs)
        self.setCentralWidget(central)

        self.logs = LogPanel(core.paths.job_logs)
        bus.subscribe(JobLogged, self.logs.on_job_logged)
        self.queue_view.current_job_changed.connect(self._show_job_log)
        dock = QDockWidget("Logs", self)
        dock.setObjectName("logsDock")
        dock.setWidget(self.logs)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.resizeDocks([dock], [200], Qt.Orientation.Vertical)
        self.logs_dock = dock

        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self.counts_label = QLabel()
        self.overall = QProgressBar()
        self.overall.setMaximumWidth(220)
        self.overall.setRange(0, 1000)
        self.overall.setTextVisible(True)
        self.statusBar().addPermanentWidget(self.counts_label)
        self.statusBar().addPermanentWidget(self.overall)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(250)  # title and status coalesced, like the model
        self._status_timer.timeout.connect(self.update_status)
        self._status_timer.start()
        self.update_status()

    # -- actions -------------------------------------------------------------------------------
    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: str | QKeySequence = "",
        tip: str = "",
    ) -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(lambda *_: slot())
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        self.act_add_files = self._action(
            "Add files…", self.add_files, QKeySequence.StandardKey.Open, "Queue video files"
        )
        self.act_add_folder = self._action(
            "Add folder…",
            self.add_folder,
            "Ctrl+Shift+O",
            "Queue every video in a folder and its subfolders",
        )
        self.act_pause = self._action(
            "Pause queue", self.toggle_pause, "Ctrl+P", "Pause or resume starting new jobs"
        )
        self.act_pause.setCheckable(True)
        self.act_cancel = self._action(
            "Cancel", self.cancel_selected, "Delete", "Cancel the selected jobs"
        )
        self.act_retry = self._action(
            "Retry",
            self.retry_selected,
            "Ctrl+R",
            "Run the selected failed or cancelled jobs again",
        )
        self.act_retry_failed = self._action(
            "Retry failed", self.retry_failed, "Ctrl+Shift+R", "Run every failed job again"
        )
        self.act_remove = self._action(
            "Remove",
            self.remove_selected,
            "Ctrl+Backspace",
            "Remove the selected finished jobs from the queue",
        )
        self.act_clear = self._action(
            "Clear finished",
            self.model.clear_finished,
            "Ctrl+L",
            "Remove finished jobs from the queue (history keeps them)",
        )
        self.act_open = self._action(
            "Open output", self.open_output, "Return", "Open the selected job's output"
        )
        self.act_reveal = self._action(
            "Reveal in folder", self.reveal_output, "Ctrl+E", "Show the output in the file manager"
        )
        self.act_log = self._action(
            "Show log", self.show_log_dock, "Ctrl+J", "Show the selected job's log"
        )
        self.act_settings = self._action(
            "Settings…", self.open_settings, QKeySequence.StandardKey.Preferences
        )
        self.act_quit = self._action(
            "Quit", self.quit_requested.emit, QKeySequence.StandardKey.Quit
        )
        self.act_about = self._action("About Reelforge", self.show_about)

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (self.act_add_files, self.act_add_folder):
            tb.addAction(act)
        tb.addSeparator()
        self.preset_button = QToolButton()
        self.preset_button.setToolTip("Presets applied to what you drop (choose one or more)")
        self.preset_menu = QMenu(self.preset_button)
        # The menu is opened by hand rather than attached: an attached menu makes some styles
        # paint their arrow over the text, and a style sheet to hide it broke dark themes.
        self.preset_button.clicked.connect(
            lambda: self.preset_menu.exec(
                self.preset_button.mapToGlobal(self.preset_button.rect().bottomLeft())
            )
        )
        tb.addWidget(self.preset_button)
        self.out_button = QToolButton()
        self.out_button.setToolTip("Output folder (click to change)")
        self.out_button.clicked.connect(self.choose_output_dir)
        tb.addWidget(self.out_button)
        tb.addSeparator()
        for act in (self.act_pause, self.act_cancel, self.act_retry_failed, self.act_clear):
            tb.addAction(act)
        self.refresh_presets()
        self._update_out_button()

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for act in (self.act_add_files, self.act_add_folder):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.act_settings)
        m.addSeparator()
        m.addAction(self.act_quit)
        q = mb.addMenu("&Queue")
        for act in (
            self.act_pause,
            self.act_cancel,
            self.act_retry,
            self.act_retry_failed,
            self.act_remove,
            self.act_clear,
        ):
            q.addAction(act)
        q.addSeparator()
        for act in (self.act_open, self.act_reveal, self.act_log):
            q.addAction(act)
        h = mb.addMenu("&Help")
        h.addAction(self.act_about)

    # -- presets and output folder -------------------------------------------------------------
    def chosen_presets(self) -> tuple[str, ...]:
        return tuple(a.data() for a in self.preset_menu.actions() if a.isChecked())

    def refresh_presets(self) -> None:
        chosen = set(self.core.settings.presets)
        self.preset_menu.clear()
        for name, preset in self.core.presets.all.items():
            act = self.preset_menu.addAction(name)
            act.setData(name)
            act.setCheckable(True)
            act.setChecked(name in chosen)
            act.setToolTip(preset.description)
            act.toggled.connect(self._presets_toggled)
        self._update_preset_button()

    def _presets_toggled(self, *_: object) -> None:
        chosen = self.chosen_presets()
        if not chosen:  # at least one preset: re-check the last one
            self.refresh_presets()
            return
        self._save_settings(presets=chosen)
        self._update_preset_button()

    def _update_preset_button(self) -> None:
        names = self.chosen_presets()
        self.preset_button.setText("Presets: " + (", ".join(names) if names else "none") + " ▾")

    def choose_output_dir(self) -> None:
        folder = self._ask_directory("Output folder", self.core.settings.effective_output_dir)
        if folder:
            self._save_settings(output_dir=folder)
            self._update_out_button()

    def _update_out_button(self) -> None:
        out = self.core.settings.effective_output_dir
        self.out_button.setText(f"Output: {_short_path(out)}")
        self.out_button.setToolTip(f"Output folder: {out}\nClick to change")

    def _save_settings(self, **changes: object) -> None:
        self.core.settings = replace(self.core.settings, **changes)
        try:
            save_settings(self.core.paths.settings, self.core.settings)
        except OSError as err:
            self.banner.show_message(f"Settings could not be saved: {err.strerror}", "error")

    # -- enqueue -------------------------------------------------------------------------------
    def add_files(self) -> None:
        files = self._ask_files()
        if files:
            self.enqueue_paths(files)

    def add_folder(self) -> None:
        folder = self._ask_directory("Add folder", str(Path.home()))
        if folder:
            self.enqueue_paths([folder])

    def _ask_files(self) -> list[str]:  # separate so tests can replace the dialog
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Add files",
            str(Path.home()),
            "Videos (*.mp4 *.mov *.mkv *.webm *.avi *.ts *.mts *.m2ts *.mpg *.mpeg *.wmv *.flv "
            "*.m4v *.3gp *.gif *.mxf);;Audio (*.m4a *.mp3 *.wav *.flac *.ogg *.opus);;"
            "All files (*)",
        )
        return files

    def _ask_directory(self, title: str, start: str) -> str:
        return QFileDialog.getExistingDirectory(self, title, start)

    def enqueue_paths(self, paths: list[str], *, origin: str = "gui") -> None:
        """Walk, stat and persist on a worker thread; announce and submit back on this one.

        A drop of 10,000 files gives control back at once; the rows appear when they are
        committed to the history, never before.
        """
        if not paths:
            return
        presets = self.chosen_presets() or self.core.settings.presets
        out = self.core.settings.effective_output_dir
        cmd = Enqueue(tuple(paths), tuple(presets), out, origin)
        self._adding += 1
        self.statusBar().showMessage(f"Adding {len(paths)} item(s)…")
        threading.Thread(target=self._prepare, args=(cmd,), name="rf-enqueue", daemon=True).start()

    def _prepare(self, cmd: Enqueue) -> None:  # on the worker thread
        try:
            self._prepared.post(("ok", self.core.queue.prepare(cmd)))
        except PresetError as err:
            self._prepared.post(("error", str(err)))
        except Exception as err:  # a full disk, a locked database: one line for the person
            log.exception("enqueue failed")
            self._prepared.post(("error", f"Could not add the files: {err}"))

    def _on_prepared(self, item: tuple[str, object]) -> None:
        self._adding -= 1
        if not self._adding:
            self.statusBar().clearMessage()
        kind, payload = item
        if kind == "error":
            self.banner.show_message(str(payload), "error")
            return
        prepared = payload
        assert isinstance(prepared, PreparedBatch)
        self.core.queue.commit(prepared)
        res = prepared.result
        notes = []
        if res.skipped_non_media:
            n = res.skipped_non_media
            notes.append(f"{n} file{'s' if n != 1 else ''} skipped: not media")
        if res.refused:
            notes.append(f"{len(res.refused)} remote URL(s) refused: only local files can be added")
        if notes:
            self.banner.show_message("; ".join(notes), "warning")
        elif res.batch_id is None:
            self.banner.show_message("Nothing to add there: no media files found.", "warning")
        self.tabs.setCurrentWidget(self.queue_view)
        self.enqueued.emit(res.batch_id or 0)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        local, remote = urls_to_paths(event.mimeData().urls())
        event.acceptProposedAction()
        if remote and not local:
            self.banner.show_message(
                f"{len(remote)} remote URL(s) refused: only local files and folders can be added",
                "warning",
            )
            return
        self.enqueue_paths(local)
        if remote:
            self.banner.show_message(
                f"{len(remote)} remote URL(s) refused: only local files and folders can be added",
                "warning",
            )

    # -- queue actions -------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.act_pause.isChecked():
            self.core.executor.pause(reason="paused by you")
        else:
            self.core.executor.resume(reason="resumed by you")

    def set_paused(self, paused: bool) -> None:
        self.act_pause.setChecked(paused)
        self.toggle_pause()

    def _queue_state_changed(self, event: QueueStateChanged) -> None:
        any_paused = any(self.core.executor.is_paused(lane) for lane in Lane)
        self.act_pause.setChecked(any_paused)
        self.act_pause.setText("Resume queue" if any_paused else "Pause queue")
        if event.paused and event.reason and event.reason != "paused by you":
            self.banner.show_message(f"Queue paused: {event.reason}", "warning")
        self.update_status()

    def cancel_selected(self) -> None:
        ids = self.queue_view.selected_job_ids()
        if ids:
            self.core.queue.cancel(CancelJobs(tuple(ids)))

    def retry_selected(self) -> None:
        ids = [
            j
            for j in self.queue_view.selected_job_ids()
            if (row := self.model.job(j)) and row.status in ("failed", "cancelled", "interrupted")
        ]
        if ids:
            self.core.queue.retry(RetryJobs(tuple(ids)))

    def retry_failed(self) -> None:
        ids = self.model.job_ids_with_status("failed")
        if ids:
            self.core.queue.retry(RetryJobs(tuple(ids)))

    def retry_jobs(self, ids: list[str]) -> None:
        """Re-run from the history tab: finished jobs become new attempts in the queue."""
        done = self.core.queue.retry(RetryJobs(tuple(ids)))
        if len(done) < len(ids):
            self.banner.show_message(
                f"{len(ids) - len(done)} job(s) not re-run: they are still queued or running, "
                "or succeeded (delete the outputs to redo them)",
                "info",
            )
        self.tabs.setCurrentWidget(self.queue_view)

    def remove_selected(self) -> None:
        self.model.remove_jobs(self.queue_view.selected_job_ids())

    def _first_output(self) -> str | None:
        for job_id in self.queue_view.selected_job_ids() or [self.queue_view.current_job_id()]:
            row = self.model.job(job_id)
            if row and row.outputs:
                return str(row.outputs[0].get("path"))
        return None

    def open_output(self) -> None:
        path = self._first_output()
        if path:
            open_path(path)

    def reveal_output(self) -> None:
        path = self._first_output()
        if path:
            reveal(path)

    def show_log_dock(self) -> None:
        self.logs_dock.show()
        self.logs.setCurrentIndex(0)
        self._show_job_log(self.queue_view.current_job_id())

    def _show_job_log(self, job_id: str) -> None:
        row = self.model.job(job_id) if job_id else None
        src = self.model.source_of(job_id) if job_id else None
        title = f"{src.name} — {row.label}" if row and src else ""
        self.logs.show_job(job_id, title)

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for act in (self.act_open, self.act_reveal, self.act_log):
            menu.addAction(act)
        menu.addSeparator()
        for act in (self.act_cancel, self.act_retry, self.act_remove):
            menu.addAction(act)
        menu.exec(self.queue_view.tree.viewport().mapToGlobal(pos))

    # -- status --------------------------------------------------------------------------------
    def update_status(self) -> None:
        c = self.model.counts()
        pct = self.model.overall_percent()
        paused = any(self.core.executor.is_paused(lane) for lane in Lane)
        parts = [f"{c['running']} running", f"{c['queued']} queued", f"{c['done']} done"]
        if c["failed"]:
            parts.append(f"{c['failed']} failed")
        text = " · ".join(parts) + (" · paused" if paused else "")
        self.counts_label.setText(text)
        self.overall.setVisible(bool(c["total"]))  # no empty 0% bar before the first drop
        self.overall.setValue(int(pct * 10))
        self.overall.setFormat(f"{pct:.0f}%")
        if c["running"] or c["queued"]:
            self.setWindowTitle(f"Reelforge — {pct:.0f}% · {text}")
        elif c["total"]:
            self.setWindowTitle(f"Reelforge — {text}")
        else:
            self.setWindowTitle("Reelforge")

    def tooltip_text(self) -> str:
        c = self.model.counts()
        if not (c["running"] or c["queued"]):
            return "Reelforge — idle" if not c["total"] else f"Reelforge — {c['done']} done"
        return (
            f"Reelforge — {c['running']} running, {self.model.overall_percent():.0f}% · "
            f"{c['queued']} queued"
        )

    def active_jobs(self) -> int:
        c = self.model.counts()
        return c["running"] + c["queued"]

    def _remember_output(self, event: JobFinished) -> None:
        for out in event.outputs:
            if out.get("path"):
                self.last_output_dir = str(Path(str(out["path"])).parent)

    def show_batch(self, batch_id: int) -> None:
        """Bring the window up on a batch (a notification was clicked)."""
        self.showNormal()
        self.raise_()
        self.activateWindow()
        self.tabs.setCurrentWidget(self.queue_view)
        for row in range(self.model.rowCount()):
            index = self.model.index(row, 0)
            if self.model.batch_of_row(row) == batch_id:
                proxy = self.queue_view.proxy.mapFromSource(index)
                self.queue_view.tree.scrollTo(proxy)
                self.queue_view.tree.setCurrentIndex(proxy)
                break

    def open_settings(self) -> None:
        self.settings_requested.emit()

    def show_about(self) -> None:
        QMessageBox.about(self, "About Reelforge", about_text(self.core))

    # -- closing -------------------------------------------------------------------------------
    def ask_quit(self) -> str:
        """Ask what to do with running jobs. Separate so tests can answer without a dialog."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Jobs are still running")
        n = self.active_jobs()
        box.setText(f"{n} job{'s are' if n != 1 else ' is'} still queued or running.")
        box.setInformativeText("Stopped jobs are marked interrupted and resume next time.")
        stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
        tray = None
        if self._tray_available():
            tray = box.addButton("Keep running in tray", QMessageBox.ButtonRole.AcceptRole)
        back = box.addButton("Go back", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(back)
        box.exec()
        clicked = box.clickedButton()
        if clicked is stop:
            return QuitChoice.STOP
        if tray is not None and clicked is tray:
            return QuitChoice.TRAY
        return QuitChoice.BACK

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close:  # the app decided to quit: let the window go
            event.accept()
            return
        if self.core.settings.close_to_tray and self._tray_available():
            event.ignore()
            self.hide()
            return
        event.ignore()
        self.quit_requested.emit()


def _short_path(path: str, limit: int = 36) -> str:
    home = str(Path.home())
    p = "~" + path[len(home) :] if path.startswith(home) else path
    return p if len(p) <= limit else "…" + p[-(limit - 1) :]


def about_text(core: App) -> str:
    import av
    import PySide6
    from PySide6.QtCore import qVersion

    return (
        f"<h3>Reelforge {__version__}</h3>"
        "<p>Batch media processing for the desktop.</p>"
        f"<p>Qt {qVersion()} · PySide6 {PySide6.__version__}<br>"
        f"ffmpeg {core.ctx.ffmpeg_version} ({core.ctx.ffmpeg})<br>"
        f"PyAV {av.__version__}</p>"
        f"<p>Data folder: {core.paths.home}</p>"
    )
