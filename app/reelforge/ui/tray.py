"""The system tray icon: progress at a glance, and the few verbs that make sense without a window.

The icon is shown only while a system tray exists (an XEmbed tray such as trayer, a
StatusNotifierItem host, the Windows or macOS menu bar). Where none exists at start-up the tray
is looked for again every few seconds, so a panel started after Reelforge still gets the icon.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from reelforge.ui.icons import app_icon

APP_TIP = "Reelforge"


class Tray(QObject):
    show_hide_requested = Signal()
    pause_toggled = Signal(bool)  # True: pause the queue, False: resume it
    open_last_output_requested = Signal()
    quit_requested = Signal()

    RETRY_MS = 3000

    def __init__(self, parent: QObject | None = None, *, auto_show: bool = True) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.menu = QMenu()  # a QMenu takes only a widget parent: kept alive by this attribute
        self.action_show_hide = QAction("Hide window", self.menu)
        self.action_pause = QAction("Pause queue", self.menu)
        self.action_open_output = QAction("Open last output folder", self.menu)
        self.action_quit = QAction("Quit", self.menu)
        self.menu.addAction(self.action_show_hide)
        self.menu.addSeparator()
        self.menu.addAction(self.action_pause)
        self.menu.addAction(self.action_open_output)
        self.menu.addSeparator()
        self.menu.addAction(self.action_quit)
        self.icon.setContextMenu(self.menu)

        self.action_show_hide.triggered.connect(self.show_hide_requested)
        self.action_pause.triggered.connect(self._toggle_pause)
        self.action_open_output.triggered.connect(self._open_last_output)
        self.action_quit.triggered.connect(self.quit_requested)
        self.icon.activated.connect(self._on_activated)

        self._paused = False
        self._last_output: str | None = None
        self.action_open_output.setEnabled(False)
        self.set_progress("")

        self._retry = QTimer(self)
        self._retry.setInterval(self.RETRY_MS)
        self._retry.timeout.connect(self._show_if_tray)
        if auto_show:
            self.show()

    # -- visibility -----------------------------------------------------------------------------
    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    @staticmethod
    def supports_messages() -> bool:
        return QSystemTrayIcon.supportsMessages()

    def show(self) -> bool:
        """Show the icon if a tray exists now; otherwise keep looking for one. True if shown."""
        if self._show_if_tray():
            return True
        self._retry.start()
        return False

    def hide(self) -> None:
        self._retry.stop()
        self.icon.hide()

    def is_visible(self) -> bool:
        return self.icon.isVisible()

    def _show_if_tray(self) -> bool:
        if not self.available():
            return False
        self._retry.stop()
        self.icon.show()
        return True

    # -- state shown in the icon and menu -------------------------------------------------------
    def set_progress(self, text: str) -> None:
        """The tooltip, as given ("Reelforge — 3 running, 40% · 12 queued"); empty: the name."""
        self.icon.setToolTip(text or APP_TIP)

    def tooltip(self) -> str:
        return self.icon.toolTip()

    def set_paused(self, paused: bool) -> None:
        self._paused = bool(paused)
        self.action_pause.setText("Resume queue" if self._paused else "Pause queue")

    @property
    def paused(self) -> bool:
        return self._paused

    def set_window_visible(self, visible: bool) -> None:
        self.action_show_hide.setText("Hide window" if visible else "Show window")

    def set_last_output(self, path: str | None) -> None:
        self._last_output = str(path) if path else None
        self.action_open_output.setEnabled(self._last_output is not None)

    @property
    def last_output(self) -> str | None:
        return self._last_output

    # -- user actions ---------------------------------------------------------------------------
    def _toggle_pause(self) -> None:
        want = not self._paused
        self.set_paused(want)  # the queue's own state follows through set_paused() too
        self.pause_toggled.emit(want)

    def _open_last_output(self) -> None:
        if self._last_output:
            self.open_last_output_requested.emit()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_hide_requested.emit()
