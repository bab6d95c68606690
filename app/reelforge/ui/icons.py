"""Icons: the app icon from resources, and status icons drawn once and cached."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from reelforge.assets import resource

STATUS_COLORS = {
    "queued": "#8a8f98",
    "running": "#1c7ed6",
    "interrupted": "#e8590c",
    "succeeded": "#2f9e44",
    "failed": "#e03131",
    "cancelled": "#868e96",
    "skipped": "#74b816",
}


@cache
def app_icon() -> QIcon:
    return QIcon(str(resource("icons", "reelforge.svg")))


@cache
def status_icon(status: str, size: int = 16) -> QIcon:
    """A small filled disc with a glyph: readable in light and dark themes alike."""
    pix = QPixmap(size * 2, size * 2)  # drawn at 2x for high-DPI screens
    pix.setDevicePixelRatio(2.0)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(STATUS_COLORS.get(status, "#8a8f98"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    r = QRectF(1, 1, size - 2, size - 2)
    p.drawEllipse(r)
    pen = QPen(QColor("white"), max(1.5, size / 9))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    c, q = size / 2, size / 4
    if status == "succeeded":
        p.drawPolyline([_pt(c - q, c), _pt(c - q / 3, c + q * 0.7), _pt(c + q, c - q * 0.6)])
    elif status in ("failed", "cancelled"):
        p.drawLine(_pt(c - q * 0.7, c - q * 0.7), _pt(c + q * 0.7, c + q * 0.7))
        p.drawLine(_pt(c + q * 0.7, c - q * 0.7), _pt(c - q * 0.7, c + q * 0.7))
    elif status == "running":
        p.drawArc(QRectF(c - q, c - q, 2 * q, 2 * q), 90 * 16, -270 * 16)
    elif status == "queued":
        p.drawLine(_pt(c, c - q), _pt(c, c))
        p.drawLine(_pt(c, c), _pt(c + q * 0.7, c + q * 0.4))
    elif status == "skipped":
        p.drawLine(_pt(c - q, c), _pt(c + q, c))
        p.drawLine(_pt(c + q * 0.3, c - q * 0.6), _pt(c + q, c))
        p.drawLine(_pt(c + q * 0.3, c + q * 0.6), _pt(c + q, c))
    elif status == "interrupted":
        p.drawLine(_pt(c - q * 0.4, c - q * 0.7), _pt(c - q * 0.4, c + q * 0.7))
        p.drawLine(_pt(c + q * 0.4, c - q * 0.7), _pt(c + q * 0.4, c + q * 0.7))
    p.end()
    return QIcon(pix)


def _pt(x: float, y: float) -> QPointF:
    return QPointF(x, y)
