"""A non-modal message strip at the top of the window: tells, never blocks."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)

_LIGHT = {
    "info": ("#e7f5ff", "#1864ab", "#74c0fc"),
    "warning": ("#fff4e6", "#a64b00", "#ffa94d"),
    "error": ("#fff5f5", "#a51111", "#ff8787"),
}
_DARK = {
    "info": ("#1c2f40", "#d0ebff", "#1c7ed6"),
    "warning": ("#3b2a12", "#ffe8cc", "#e8590c"),
    "error": ("#3d1a1a", "#ffe3e3", "#e03131"),
}


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.hide()
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.action)
        lay.addWidget(close)
        self._callback: Callable[[], None] | None = None
        self.action.clicked.connect(self._run_action)
        self.level = "info"
        self._restyling = False
        self.hide()

    def show_message(
        self,
        text: str,
        level: str = "info",
        action: tuple[str, Callable[[], None]] | None = None,
    ) -> None:
        self.level = level
        self.restyle()
        self.label.setText(text)
        if action:
            self.action.setText(action[0])
            self._callback = action[1]
            self.action.show()
        else:
            self._callback = None
            self.action.hide()
        self.show()

    def restyle(self) -> None:
        """Colours for the current theme: light strips on light palettes, dark on dark ones."""
        # The application's palette: our own is coloured by the style sheet set below.
        dark = QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
        bg, fg, border = (_DARK if dark else _LIGHT).get(self.level, _LIGHT["info"])
        self.setStyleSheet(
            f"QFrame#banner {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            f"QFrame#banner QLabel {{ color: {fg}; }}"
        )

    def changeEvent(self, event: QEvent) -> None:
        kinds = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in kinds and not self._restyling:
            self._restyling = True  # setStyleSheet itself sends a palette change
            try:
                self.restyle()
            finally:
                self._restyling = False
        super().changeEvent(event)

    def _run_action(self) -> None:
        if self._callback:
            self._callback()
        self.hide()
