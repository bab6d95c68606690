"""The Dashboard tab: the metrics of the last hour, day or week, as tiles, charts and a table.

Charts are pyqtgraph's (chosen over QtCharts: PySide6-Addons would add hundreds of MB for three
plots; pyqtgraph is ~10 MB plus numpy, and draws fast). It is imported the first time the tab is
shown, so the window opens as fast as before. Numbers come from observability.metrics (the same
as `reelforge stats`); the "now" tiles from live events. Colours follow the palette, so the
charts read in the light and the dark theme alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from reelforge.domain.units import human_size
from reelforge.observability.live import LiveState
from reelforge.observability.metrics import (
    WINDOWS,
    Series,
    Stats,
    compute_stats,
    disk_free,
    series,
)
from reelforge.storage.monitoring import MonitoringStore
from reelforge.ui.theme import ACCENT, is_dark, semantic_color

REFRESH_MS = 5000
WINDOW_LABELS = {"hour": "Last hour", "day": "Last 24 hours", "week": "Last 7 days"}
# Series colours readable on both palettes (checked in the light and dark screenshots).
_COLORS = {
    "succeeded": ("#2b8a3e", "#69db7c"),
    "failed": ("#c92a2a", "#ff6b6b"),
    "heavy": (ACCENT, "#ffa94d"),
    "light": ("#1971c2", "#74c0fc"),
    "running": ("#5f3dc4", "#b197fc"),
    "media": ("#0b7285", "#66d9e8"),
}


def _color(name: str) -> str:
    app = QApplication.instance()
    dark = isinstance(app, QApplication) and is_dark(app)
    return _COLORS[name][1 if dark else 0]


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


class Tile(QFrame):
    """A number with a caption."""

    def __init__(self, caption: str) -> None:
        super().__init__()
        self.setObjectName("tile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.value = QLabel("–")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.value.setFont(font)
        self.caption = QLabel(caption)
        self.caption.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(2)
        lay.addWidget(self.value)
        lay.addWidget(self.caption)
        self.restyle()

    def set(self, text: str, tip: str = "") -> None:
        self.value.setText(text)
        self.setToolTip(tip)

    def restyle(self) -> None:
        self.caption.setStyleSheet(f"color: {semantic_color('muted')};")


class DashboardTab(QWidget):
    def __init__(
        self,
        store: MonitoringStore,
        live: LiveState,
        folders: Callable[[], list[str]],
        *,
        clock: Callable[[], float] = time.time,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store, self._live, self._folders, self._clock = store, live, folders, clock
        self.stats: Stats | None = None
        self.series: Series | None = None
        self._plots: dict[str, Any] = {}
        self._restyling = False

        self.window_combo = QComboBox()
        for key, label in WINDOW_LABELS.items():
            self.window_combo.addItem(label, key)
        self.window_combo.setCurrentIndex(1)
        self.window_combo.currentIndexChanged.connect(lambda *_: self.refresh())
        self.updated = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.window_combo)
        top.addStretch(1)
        top.addWidget(self.updated)

        self.tiles = {
            "throughput": Tile("jobs per hour"),
            "media": Tile("media minutes per wall minute"),
            "fps": Tile("encode fps"),
            "failures": Tile("failure rate"),
            "waiting": Tile("of the time waiting, not running"),
            "bytes": Tile("in → out"),
            "queue": Tile("waiting now (light · heavy)"),
            "disk": Tile("free on the output volume"),
        }
        grid = QGridLayout()
        grid.setSpacing(8)
        for i, tile in enumerate(self.tiles.values()):
            grid.addWidget(tile, i // 4, i % 4)

        self.charts = QWidget()
        self.charts_layout = QGridLayout(self.charts)
        self.charts_layout.setContentsMargins(0, 0, 0, 0)
        self.charts.setMinimumHeight(220)

        self.presets = QTableWidget(0, 6)
        self.presets.setHorizontalHeaderLabels(
            ["Preset", "Jobs", "Failed", "Avg run", "Avg output", "Avg speed"]
        )
        self.presets.verticalHeader().hide()
        self.presets.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.presets.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.presets.setMaximumHeight(150)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(grid)
        lay.addWidget(self.charts, 1)
        lay.addWidget(self.presets)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    # -- lifecycle ---------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self.timer.start()

    def hideEvent(self, event: QEvent) -> None:  # type: ignore[override]
        self.timer.stop()
        super().hideEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        kinds = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in kinds and not self._restyling:
            self._restyling = True
            try:
                for tile in self.tiles.values():
                    tile.restyle()
                if self._plots:
                    self._style_plots()
                    self._draw()
            finally:
                self._restyling = False
        super().changeEvent(event)

    @property
    def window_key(self) -> str:
        return str(self.window_combo.currentData())

    # -- data --------------------------------------------------------------------------------
    def refresh(self) -> None:
        now = self._clock()
        seconds, buckets = WINDOWS[self.window_key]
        since = now - seconds
        facts = self._store.job_facts(since)
        stats = compute_stats(facts, since, now)
        folders = [*self._folders(), *self._store.output_folders(since)]
        self.stats = replace(stats, disks=disk_free(dict.fromkeys(folders)))
        self.series = series(facts, since, now, buckets)
        self._fill_tiles()
        self._fill_presets()
        self._ensure_plots()
        self._draw()
        self.updated.setText(f"updated {datetime.fromtimestamp(now):%H:%M:%S}")

    def _fill_tiles(self) -> None:
        s = self.stats
        assert s is not None
        t = self.tiles
        t["throughput"].set(f"{s.jobs_per_hour:.1f}")
        t["media"].set(_fmt(s.media_minutes_per_wall_minute, "×", 2))
        t["fps"].set(_fmt(s.encode_fps, "", 0))
        t["failures"].set(
            _fmt(None if s.failure_rate is None else s.failure_rate * 100, "%"),
            f"{s.counts.get('failed', 0)} failed, {s.counts.get('succeeded', 0)} succeeded",
        )
        t["waiting"].set(
            _fmt(None if s.waiting_share is None else s.waiting_share * 100, "%", 0),
            f"average wait {_fmt(s.avg_wait_seconds, ' s')}, "
            f"average run {_fmt(s.avg_run_seconds, ' s')}",
        )
        t["bytes"].set(f"{human_size(s.bytes_in) or '0 B'} → {human_size(s.bytes_out) or '0 B'}")
        # From the history: jobs queued before this session (resumed, another process's) count.
        depth, running = s.queue_depth, s.running
        t["queue"].set(
            f"{depth['light']} · {depth['heavy']}",
            f"running now: {running['light']} light, {running['heavy']} heavy; "
            f"{self._live.speed_now():.2f}× real time",
        )
        if s.disks:
            low = min(s.disks, key=lambda d: d.free)
            every = [f"{d.path}: {human_size(d.free)} of {human_size(d.total)}" for d in s.disks]
            t["disk"].set(human_size(low.free) or "0 B", "\n".join(every))
        else:
            t["disk"].set("–")

    def _fill_presets(self) -> None:
        s = self.stats
        assert s is not None
        self.presets.setRowCount(len(s.presets))
        for row, p in enumerate(s.presets):
            cells = [
                p.preset,
                str(p.jobs),
                str(p.failed),
                _fmt(p.avg_run_seconds, " s"),
                human_size(p.avg_bytes_out or 0) or "–",
                _fmt(p.avg_speed, "×", 2),
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.presets.setItem(row, col, item)

    # -- charts ------------------------------------------------------------------------------
    def _ensure_plots(self) -> None:
        if self._plots:
            return
        import pyqtgraph as pg  # first show only: keeps the window's start-up fast

        pg.setConfigOptions(antialias=True)
        titles = {
            "done": "Jobs finished",
            "depth": "Queue depth (waiting) and running",
            "media": "Media minutes encoded",
        }
        for i, (key, title) in enumerate(titles.items()):
            axis = pg.DateAxisItem(orientation="bottom")
            plot = pg.PlotWidget(axisItems={"bottom": axis})
            plot.setTitle(title)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.addLegend(offset=(6, 6))  # top left: the oldest data, the newest stays clear
            self.charts_layout.addWidget(plot, 0, i)
            self._plots[key] = plot
        self._style_plots()

    def _style_plots(self) -> None:
        import pyqtgraph as pg

        pal = QApplication.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.WindowText)
        grid = QColor(fg)
        grid.setAlpha(60)
        for plot in self._plots.values():
            plot.setBackground(bg)
            item = plot.getPlotItem()
            item.titleLabel.setText(item.titleLabel.text, color=fg.name())
            for name in ("left", "bottom"):
                axis = item.getAxis(name)
                axis.setPen(pg.mkPen(grid))
                axis.setTextPen(pg.mkPen(fg))
            item.showGrid(x=False, y=True, alpha=0.25)
            legend = item.legend
            if legend is not None:
                legend.setLabelTextColor(fg)
                veil = QColor(bg)
                veil.setAlpha(190)  # data under the legend still shows through
                legend.setBrush(pg.mkBrush(veil))

    def _draw(self) -> None:
        import pyqtgraph as pg

        s = self.series
        if s is None or not self._plots:
            return
        xs = [t + s.width / 2 for t in s.starts]
        ends = [t + s.width for t in s.starts]
        width = s.width * 0.8

        done = self._plots["done"]
        done.clear()
        done.addItem(
            pg.BarGraphItem(
                x=xs,
                height=s.succeeded,
                width=width,
                brush=_color("succeeded"),
                pen=None,
                name="succeeded",
            )
        )
        done.addItem(
            pg.BarGraphItem(
                x=xs,
                y0=s.succeeded,
                height=s.failed,
                width=width,
                brush=_color("failed"),
                pen=None,
                name="failed",
            )
        )
        depth = self._plots["depth"]
        depth.clear()
        for lane in ("light", "heavy"):
            depth.plot(
                ends, s.waiting[lane], pen=pg.mkPen(_color(lane), width=2), name=f"{lane} waiting"
            )
        depth.plot(
            ends,
            s.running,
            pen=pg.mkPen(_color("running"), width=2, style=Qt.PenStyle.DashLine),
            name="running",
        )
        media = self._plots["media"]
        media.clear()
        media.addItem(
            pg.BarGraphItem(
                x=xs,
                height=s.media_minutes,
                width=width,
                brush=_color("media"),
                pen=None,
                name="minutes",
            )
        )
        for plot in self._plots.values():
            plot.setXRange(s.starts[0], ends[-1], padding=0.01)
            plot.enableAutoRange(axis="y")
            plot.getPlotItem().setLimits(yMin=0)
