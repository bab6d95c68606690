"""Open a file, reveal it in the file manager, copy text: the small desktop verbs."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtDBus import QDBusConnection, QDBusMessage
from PySide6.QtGui import QDesktopServices, QGuiApplication


def open_path(path: str | Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def reveal(path: str | Path) -> bool:
    """Show the file selected in the file manager where the platform allows, else its folder."""
    p = Path(path)
    if sys.platform.startswith("linux") and p.exists():
        bus = QDBusConnection.sessionBus()
        if bus.isConnected():
            msg = QDBusMessage.createMethodCall(
                "org.freedesktop.FileManager1",
                "/org/freedesktop/FileManager1",
                "org.freedesktop.FileManager1",
                "ShowItems",
            )
            msg.setArguments([[QUrl.fromLocalFile(str(p)).toString()], ""])
            reply = bus.call(msg)
            if reply.type() != QDBusMessage.MessageType.ErrorMessage:
                return True
    folder = p if p.is_dir() else p.parent
    return open_path(folder)


def copy_text(text: str) -> None:
    QGuiApplication.clipboard().setText(text)
