"""A non-modal message strip at the top of the window: tells, never blocks."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

_STYLE = {
    "info": ("#e7f5ff", "#1864ab", "#74c0fc"),
    "warning": ("#fff4e6", "#a64b00", "#ffa94d"),
    "error": ("#fff5f5", "#a51111", "#ff8787"),
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
        self.hide()

    def show_message(
        self,
        text: str,
        level: str = "info",
        action: tuple[str, Callable[[], None]] | None = None,
    ) -> None:
        bg, fg, border = _STYLE.get(level, _STYLE["info"])
        self.level = level
        self.setStyleSheet(
            f"QFrame#banner {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            f"QFrame#banner QLabel {{ color: {fg}; }}"
        )
        self.label.setText(text)
        if action:
            self.action.setText(action[0])
            self._callback = action[1]
            self.action.show()
        else:
            self._callback = None
            self.action.hide()
        self.show()

    def _run_action(self) -> None:
        if self._callback:
            self._callback()
        self.hide()
