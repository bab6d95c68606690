"""The desktop entry: one instance per user and data folder, the window, tray and notifications.

The core comes from bootstrap.build() like the CLI's; this module only adds the UI around it
and decides what quitting means.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from reelforge.__about__ import __version__
from reelforge.bootstrap import App, build
from reelforge.config import Settings
from reelforge.domain.events import AlertCleared, AlertRaised
from reelforge.media.process import set_child_priority
from reelforge.observability.alerts import RULE_TITLES
from reelforge.observability.live import LiveState
from reelforge.services.notifications import BatchNotifier, Notice
from reelforge.ui.alerts_view import AlertsTab
from reelforge.ui.dashboard import DashboardTab
from reelforge.ui.history_view import HistoryTab
from reelforge.ui.icons import app_icon
from reelforge.ui.main_window import MainWindow, QuitChoice
from reelforge.ui.notify import DesktopNotifier
from reelforge.ui.presets_editor import PresetsTab
from reelforge.ui.settings_dialog import SettingsDialog
from reelforge.ui.single_instance import SingleInstance
from reelforge.ui.theme import apply_theme
from reelforge.ui.tray import Tray

log = logging.getLogger("reelforge.ui")
ENCODER_NICE = 10  # nice steps below the app for ffmpeg: HandBrake's "below normal"
ALERT_NOTICE = -1  # the "batch id" of an alert's notification: clicking it shows the Alerts tab


class FileOpenQueue(QObject):
    """Files the OS asks the running app to open as QEvent.FileOpen rather than as arguments.

    macOS does this for Finder's "Open With", a double-click when Reelforge is the chosen app
    and a drop on the Dock icon, including the files that launch the app, whose events can
    come before the window exists. They wait here until start(); after that each burst (ten
    files opened at once are ten events) is handed over once, so it becomes one batch.
    """

    files_opened = Signal(list)
    BURST_MS = 100

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pending: list[str] = []
        self._started = False
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(self.BURST_MS)
        self._flush.timeout.connect(self._deliver)

    @classmethod
    def install(cls, qt: QApplication) -> FileOpenQueue:
        """Filter the application object's events (FileOpen is sent to it, not to a window)."""
        queue = cls(qt)
        qt.installEventFilter(queue)
        return queue

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return super().eventFilter(watched, event)
        path = event.file() or event.url().toLocalFile()
        if path:
            self.pending.append(path)
            if self._started:
                self._flush.start()
        else:  # a remote URL: the drop target's rule (local files only) applies here too
            log.warning("not opening %s: only local files can be added", event.url().toString())
        return True

    def start(self) -> None:
        """The window is ready: hand over what came before, then every later burst."""
        self._started = True
        if self.pending:
            self._flush.start()

    def _deliver(self) -> None:
        files, self.pending = self.pending, []
        if files:
            self.files_opened.emit(files)


class DesktopApp:
    """Owns the window, the tray and the notifier, and the way the app ends."""

    def __init__(self, qt: QApplication, core: App) -> None:
        self.qt, self.core = qt, core
        # ffmpeg below the window's priority: with both cores encoding, the GUI thread waited
        # ~20 ms for a CPU whenever a timer woke it (GUI stalls of 20-80 ms).
        set_child_priority(ENCODER_NICE)
        apply_theme(qt, core.settings.theme)
        self.tray = Tray()
        self.window = MainWindow(core, tray_available=self.tray.available)
        self.window.logs.attach_to(logging.getLogger("reelforge"))

        self.history = HistoryTab(core.repo)
        self.history.set_presets(sorted(core.presets.all))
        self.history.rerun_requested.connect(self.window.retry_jobs)
        self.history.show_log_requested.connect(self._show_history_log)
        self.presets_tab = PresetsTab(core.presets)
        self.presets_tab.presets_changed.connect(self._presets_changed)
        self.window.tabs.addTab(self.history, "History")
        self.window.tabs.addTab(self.presets_tab, "Presets")
        self.live = LiveState(time.time)
        core.bus.subscribe_all(self.live.observe)
        self.dashboard = DashboardTab(core.store, self.live, lambda: core.settings.output_folders())
        self.alerts_tab = AlertsTab(core.store, queue_paused=self.window.act_pause.isChecked)
        self.alerts_tab.resume_requested.connect(lambda: self.window.set_paused(False))
        self.window.tabs.addTab(self.dashboard, "Dashboard")
        self.window.tabs.addTab(self.alerts_tab, "Alerts")
        core.bus.subscribe(AlertRaised, self._on_alert)
        core.bus.subscribe(AlertCleared, self._on_alert_cleared)
        self.window.tabs.currentChanged.connect(self._tab_changed)
        self.window.settings_requested.connect(self.open_settings)
        self.window.quit_requested.connect(self.request_quit)

        self.notifier = DesktopNotifier(self.tray)
        self.notifier.banner_requested.connect(
            lambda text: self.window.banner.show_message(text, "info")
        )
        self.notifier.activated.connect(self._notice_clicked)
        self.batch_notifier = BatchNotifier(core.bus, self.notifier.deliver)
        self.batch_notifier.enabled = core.settings.notifications

        self.tray.show_hide_requested.connect(self.toggle_window)
        self.tray.pause_toggled.connect(self.window.set_paused)
        self.tray.open_last_output_requested.connect(self._open_last_output)
        self.tray.quit_requested.connect(self.request_quit)
        self._tray_timer = QTimer()
        self._tray_timer.setInterval(500)
        self._tray_timer.timeout.connect(self._update_tray)
        self._tray_timer.start()
        self._quitting = False

    # -- start-up ------------------------------------------------------------------------------
    def start(self, files: list[str]) -> None:
        self.window.show()
        for notice in self.core.notices:
            self.window.banner.show_message(notice, "warning")
        # Only the process that owns the data folder resumes: never another live one's jobs.
        resumed = self.core.queue.resume_pending() if self.core.owns_data else []
        if resumed:
            self.window.model.mark_resumed(resumed)
            self.window.banner.show_message(
                f"Resumed {len(resumed)} job(s) left unfinished last time.", "info"
            )
        if files:
            self.window.enqueue_paths(files)
        # Alert actions, heavy-lane hours, housekeeping and watch folders (owner only).
        self.core.start_background()
        if self.core.scheduler is not None and self.core.scheduler.problem:
            self.window.banner.show_message(self.core.scheduler.problem, "warning")

    def accept_file_opens(self, queue: FileOpenQueue) -> None:
        queue.files_opened.connect(self.receive)
        queue.start()

    def receive(self, files: list[str]) -> None:
        """Files handed over by a second launch or the OS (or none: just show the window)."""
        self.show_window()
        if files:
            self.window.enqueue_paths(files)

    # -- alerts --------------------------------------------------------------------------------
    def show_alerts(self) -> None:
        self.show_window()
        self.window.tabs.setCurrentWidget(self.alerts_tab)

    def _notice_clicked(self, batch_id: int) -> None:
        if batch_id == ALERT_NOTICE:
            self.show_alerts()
        else:
            self.window.show_batch(batch_id)

    def _on_alert(self, event: AlertRaised) -> None:
        """A banner always; a notification once per rule per quiet period (event.notify)."""
        title = RULE_TITLES.get(event.rule, event.rule)
        text = f"{title}: {event.message}" + (f" — {event.action}." if event.action else "")
        level = "error" if event.severity == "critical" else "warning"
        self.window.banner.show_message(text, level, ("Show alerts", self.show_alerts))
        self.alerts_tab.refresh()
        if event.notify and self.core.settings.notifications:
            action = event.action[:1].upper() + event.action[1:]
            body = event.message + (f"\n{action}." if action else "")
            critical = event.severity == "critical"
            self.notifier.deliver(Notice(f"Reelforge: {title}", body, critical, ALERT_NOTICE))

    def _on_alert_cleared(self, event: AlertCleared) -> None:
        title = RULE_TITLES.get(event.rule, event.rule)
        text = f"{title} over: {event.message}" + (f" — {event.action}." if event.action else "")
        self.window.banner.show_message(text, "info", ("Show alerts", self.show_alerts))
        self.alerts_tab.refresh()

    # -- window, tray, settings ----------------------------------------------------------------
    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.show_window()

    def _update_tray(self) -> None:
        self.tray.set_progress(self.window.tooltip_text())
        self.tray.set_last_output(self.window.last_output_dir)
        self.tray.set_paused(self.window.act_pause.isChecked())

    def _open_last_output(self) -> None:
        from reelforge.ui.desktop import open_path

        if self.window.last_output_dir:
            open_path(self.window.last_output_dir)

    def _tab_changed(self, index: int) -> None:
        if self.window.tabs.widget(index) is self.history:
            self.history.refresh()

    def _show_history_log(self, job_id: str) -> None:
        rec = self.core.repo.get_job(job_id)
        title = f"{Path(rec.source_path).name} — {rec.label}" if rec else ""
        self.window.logs_dock.show()
        self.window.logs.setCurrentIndex(0)
        self.window.logs.show_job(job_id, title)

    def _presets_changed(self) -> None:
        known = self.core.presets.all
        kept = tuple(p for p in self.core.settings.presets if p in known) or ("web",)
        if kept != self.core.settings.presets:
            self.window._save_settings(presets=kept)  # a deleted or renamed preset
        self.window.refresh_presets()
        self.history.set_presets(sorted(self.core.presets.all))

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.core.settings, self.core.paths.settings, self.window)
        dialog.settings_changed.connect(self.apply_settings)
        dialog.exec()

    def apply_settings(self, settings: Settings) -> None:
        """Settings take effect at once where they can; the ffmpeg binary on next start."""
        old = self.core.settings
        self.core.settings = settings
        from reelforge.domain.jobs import Lane

        self.core.executor.set_concurrency(Lane.LIGHT, settings.light_concurrency)
        self.core.executor.set_concurrency(Lane.HEAVY, settings.heavy_concurrency)
        self.core.queue.collision = settings.collision
        self.core.queue.split_after = settings.split_after
        self.core.queue.segment_seconds = settings.segment_seconds
        self.batch_notifier.enabled = settings.notifications
        if settings.theme != old.theme:
            apply_theme(self.qt, settings.theme)
            self.window.banner.restyle()
            self.alerts_tab.refresh()  # severity colours follow the palette
        self.window._update_out_button()
        if self.core.watch is not None and (
            settings.watch != old.watch or settings.output_dir != old.output_dir
        ):
            self.core.watch.reconfigure()
        if self.core.scheduler is not None and settings.heavy_hours != old.heavy_hours:
            self.core.scheduler.tick()
            if self.core.scheduler.problem:
                self.window.banner.show_message(self.core.scheduler.problem, "warning")
        if settings.ffmpeg_path != old.ffmpeg_path:
            self.window.banner.show_message(
                "The new ffmpeg binary is used from the next start of Reelforge.", "info"
            )

    # -- quitting ------------------------------------------------------------------------------
    def request_quit(self) -> None:
        if self._quitting:
            return
        if self.window.active_jobs():
            self.show_window()
            choice = self.window.ask_quit()
            if choice == QuitChoice.BACK:
                return
            if choice == QuitChoice.TRAY:
                self.window.hide()
                return
        self.quit()

    def quit(self) -> None:
        """Stop: running jobs become interrupted (resumed next time), queued ones stay queued."""
        self._quitting = True
        logging.getLogger("reelforge").removeHandler(self.window.logs.handler)
        self._tray_timer.stop()
        self.tray.hide()
        self.core.close(interrupt=True)
        self.window.allow_close = True
        self.window.close()
        # exit(), not quit(): Qt 6's quit() asks every window first and is cancelled when one
        # declines, which the main window does on purpose (its close goes through this method).
        self.qt.exit(0)


def run_gui(files: list[str]) -> int:
    QApplication.setApplicationName("Reelforge")
    QApplication.setApplicationVersion(__version__)
    QApplication.setDesktopFileName("reelforge")
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    qt.setWindowIcon(app_icon())
    qt.setQuitOnLastWindowClosed(False)  # closing the window may mean "keep running in tray"
    file_opens = FileOpenQueue.install(qt)  # before anything can spin the event loop

    instance = SingleInstance()
    absolute = [str(Path(f).expanduser().absolute()) for f in files]
    if instance.forward(absolute):
        print("reelforge: handed over to the running window", file=sys.stderr)
        return 0
    instance.listen()

    try:
        core = build()
    except Exception as err:  # one line for a person: ffmpeg missing, database locked, ...
        QMessageBox.critical(None, "Reelforge cannot start", str(err).splitlines()[0])
        return 1
    app = DesktopApp(qt, core)
    instance.files_received.connect(app.receive)
    app.start(absolute)
    app.accept_file_opens(file_opens)

    # Ctrl-C in the terminal that started us: quit the way the Quit action does, no dialog.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    tick = QTimer()
    tick.timeout.connect(lambda: None)  # lets Python run its signal handlers during Qt's loop
    tick.start(200)
    code = qt.exec()
    instance.close()
    return code
