"""The Presets tab: browse the built-ins, make and edit your own.

Left, the catalog (built-ins are locked); right, a form for the selected preset. Every edit
rebuilds the preset mapping and runs it through parse_preset, the same validation a TOML file
gets, so what the form accepts is exactly what the engine accepts. The first problem shows in
one line under the form and the offending field is tinted; Save stays disabled until it is fixed.

New, Duplicate and Import write a file straight away (they always start from a valid preset);
edits are kept in the form until Save. Leaving a preset with unsaved edits shows an inline bar
(Save / Discard) instead of a modal question.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import tomli_w
from pydantic import BaseModel
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from reelforge.domain.presets import (
    X264_SPEEDS,
    AudioExtract,
    ContactSheet,
    Poster,
    Preset,
    PresetError,
    Preview,
    Rendition,
    load_preset_file,
    parse_preset,
    safe_file_name,
)
from reelforge.services.presets import PresetCatalog
from reelforge.ui.theme import is_dark, semantic_color

NAME_ROLE = Qt.ItemDataRole.UserRole
MAX_NAME = 32
MAX_RENDITIONS = 8
TOML_FILTER = "Preset files (*.toml);;All files (*)"
CODECS = {"h264": "H.264", "hevc": "HEVC", "vp9": "VP9"}
BITRATES = ("64k", "96k", "128k", "160k", "192k", "256k", "320k")
FPS_CHOICES = ("Source", "24", "25", "30", "50", "60")
_SOURCE = "preset"  # parse_preset's source; stripped again before the line is shown

FIELD_LABELS = {
    "name": "name",
    "description": "description",
    "short_side": "short side",
    "codec": "codec",
    "crf": "CRF",
    "speed": "speed",
    "audio_bitrate": "audio bitrate",
    "max_fps": "max fps",
    "width": "width",
    "at": "position",
    "columns": "columns",
    "rows": "rows",
    "tile_width": "tile width",
    "timestamps": "timestamps",
    "bitrate": "bitrate",
    "copy_if_possible": "copy",
    "seconds": "length",
    "fps": "fps",
    "format": "format",
    "start": "start",
}
SECTION_LABELS = {
    "poster": "Poster",
    "contact_sheet": "Contact sheet",
    "audio": "Audio",
    "preview": "Preview",
    "remux": "Remux",
    "renditions": "Renditions",
}


# ---- small helpers -----------------------------------------------------------------------


def _limits(model: type[BaseModel], field: str) -> tuple[float, float]:
    """The ge/gt and le bounds pydantic knows for a field, so the spin boxes never disagree."""
    low, high = 0.0, 1e9
    for meta in model.model_fields[field].metadata:
        if getattr(meta, "ge", None) is not None:
            low = meta.ge
        if getattr(meta, "gt", None) is not None:
            low = meta.gt
        if getattr(meta, "le", None) is not None:
            high = meta.le
    return low, high


def _default(model: type[BaseModel], field: str) -> Any:
    return model.model_fields[field].default


class _WheelNeedsFocus:
    """Leaves the mouse wheel to the scroll area unless the field has focus, so scrolling the
    form never changes a value by accident."""

    def wheelEvent(self, event: Any) -> None:
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class _Spin(_WheelNeedsFocus, QSpinBox):
    """A spin box for a preset field, with the field's limits."""

    def __init__(self, model: type[BaseModel] | None = None, field: str = "", suffix: str = ""):
        super().__init__()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if model is not None:
            low, high = _limits(model, field)
            self.setRange(int(low), int(high))
        if suffix:
            self.setSuffix(suffix)


class _DoubleSpin(_WheelNeedsFocus, QDoubleSpinBox):
    def __init__(self, low: float, high: float, decimals: int = 1, suffix: str = ""):
        super().__init__()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setDecimals(decimals)
        self.setRange(low, high)
        if suffix:
            self.setSuffix(suffix)


class _Combo(_WheelNeedsFocus, QComboBox):
    def __init__(self, items: dict[str, str] | tuple[str, ...], editable: bool = False):
        super().__init__()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setEditable(editable)
        pairs = items.items() if isinstance(items, dict) else ((i, i) for i in items)
        for key, label in pairs:
            self.addItem(label, key)
        # Size to a few characters, not to the longest item: the rendition grid stays narrow.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(5)

    def set_key(self, key: str) -> None:
        index = self.findData(key)
        if self.isEditable():
            self.setCurrentText(key if index < 0 else self.itemText(index))
        else:
            self.setCurrentIndex(max(0, index))

    def key(self) -> str:
        if self.isEditable():
            return self.currentText().strip()
        return str(self.currentData())


@cache
def lock_icon() -> QIcon:
    """A small padlock, grey enough to read on light and dark lists."""
    size = 16
    pix = QPixmap(size * 2, size * 2)
    pix.setDevicePixelRatio(2.0)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor("#8a8f98")
    pen = QPen(color, 1.6)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawArc(QRectF(5, 2.5, 6, 8), 0, 180 * 16)
    p.drawLine(QPointF(5, 6.5), QPointF(5, 8))
    p.drawLine(QPointF(11, 6.5), QPointF(11, 8))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawRoundedRect(QRectF(3, 7.5, 10, 7), 1.5, 1.5)
    p.end()
    return QIcon(pix)


def _tint(widget: QWidget, on: bool, message: str = "") -> None:
    """Mark a field as the offending one (a red-tinted background works with every style)."""
    if on:
        pal = QPalette(widget.palette())
        tint = QColor("#5c2424") if is_dark(QApplication.instance()) else QColor("#ffe3e3")
        for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Button):
            pal.setColor(QPalette.ColorGroup.Active, role, tint)
            pal.setColor(QPalette.ColorGroup.Inactive, role, tint)
        widget.setPalette(pal)
        widget.setToolTip(message)
    else:
        widget.setPalette(QPalette())  # empty resolve mask: inherit from the parent again
        widget.setToolTip(widget.property("baseToolTip") or "")
    widget.setProperty("invalid", on)


def _human_error(loc: str, problem: str, data: dict[str, Any] | None = None) -> str:
    """'renditions[0].short_side', 'must be even' -> 'Rendition 1 › short side: must be even'."""
    if "should match pattern" in problem:
        if loc == "name" or loc.endswith(".name"):
            problem = "use 1 to 32 lowercase letters, digits, - or _ (start with a letter or digit)"
        elif loc.endswith("bitrate"):
            problem = "write a bitrate like 128k (10k to 9999k)"
    if loc == "preset":
        if problem.startswith("makes nothing"):
            return "This preset makes nothing: add a rendition or turn on a section below"
        return problem[:1].upper() + problem[1:]
    m = re.fullmatch(r"renditions\[(\d+)\](?:\.(\w+))?", loc)
    if m:
        index = int(m.group(1))
        where = f"Rendition {index + 1}"
        renditions = (data or {}).get("renditions", [])
        if index < len(renditions) and renditions[index].get("name"):
            where += f" ({renditions[index]['name']})"
        if m.group(2):
            where += f" › {FIELD_LABELS.get(m.group(2), m.group(2))}"
        return f"{where}: {problem}"
    section, _, field = loc.partition(".")
    if section in SECTION_LABELS:
        where = SECTION_LABELS[section]
        if field:
            where += f" › {FIELD_LABELS.get(field, field)}"
        return f"{where}: {problem}"
    return f"{FIELD_LABELS.get(loc, loc).capitalize()}: {problem}"


# ---- the inline message bar --------------------------------------------------------------


class MessageBar(QFrame):
    """A non-modal bar for questions and results: a line of text plus a few buttons."""

    # kind: (light background, light border, dark background, dark border)
    _COLORS: ClassVar[dict[str, tuple[str, str, str, str]]] = {
        "info": ("#e7f5ff", "#74c0fc", "#1c2f40", "#1c7ed6"),
        "ok": ("#ebfbee", "#8ce99a", "#1d3323", "#2f9e44"),
        "warning": ("#fff4e6", "#ffa94d", "#3d2a17", "#e8590c"),
        "error": ("#fff5f5", "#ffa8a8", "#40201f", "#e03131"),
    }

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.kind = ""
        self.sticky = False
        self._styled: tuple[str, bool | None] = ("", None)
        self._actions: dict[str, QPushButton] = {}
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.setSpacing(6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.label, 1)
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(6)
        lay.addLayout(self._buttons)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        lay.addWidget(self.close_button)
        self._on_dismiss: Callable[[], None] | None = None
        self.hide()

    def show_message(
        self,
        kind: str,
        text: str,
        actions: Sequence[tuple[str, str, Callable[[], None]]] = (),
        *,
        on_dismiss: Callable[[], None] | None = None,
        details: str = "",
        sticky: bool = False,
    ) -> None:
        """Show text with buttons (key, label, callback); sticky survives a preset switch."""
        self.kind = kind
        self.sticky = sticky
        self._on_dismiss = on_dismiss
        self.label.setText(text)
        self.label.setToolTip(details or text)
        for button in self._actions.values():
            self._buttons.removeWidget(button)
            button.deleteLater()
        self._actions = {}
        for key, label, callback in actions:
            button = QPushButton(label)
            button.clicked.connect(callback)
            self._buttons.addWidget(button)
            self._actions[key] = button
        self._restyle()
        self.show()

    def action(self, key: str) -> QPushButton:
        return self._actions[key]

    def text(self) -> str:
        """The message shown, or "" when the bar is closed."""
        return self.label.text() if self.kind else ""

    def dismiss(self) -> None:
        callback, self._on_dismiss = self._on_dismiss, None
        self.clear()
        if callback is not None:
            callback()

    def clear(self) -> None:
        self.kind = ""
        self.sticky = False
        self._on_dismiss = None
        self.hide()

    def _restyle(self) -> None:
        light_bg, light_border, dark_bg, dark_border = self._COLORS.get(
            self.kind, self._COLORS["info"]
        )
        dark = is_dark(QApplication.instance())
        self._styled = (self.kind, dark)
        bg, border = (dark_bg, dark_border) if dark else (light_bg, light_border)
        self.setStyleSheet(
            f"QFrame#messageBar {{ background: {bg}; border: 1px solid {border};"
            f" border-left: 4px solid {border}; border-radius: 4px; }}"
        )

    def changeEvent(self, event: Any) -> None:
        kinds = (event.Type.PaletteChange, event.Type.ApplicationPaletteChange)
        # setStyleSheet itself sends a PaletteChange: restyle only when the theme flipped.
        if (
            event.type() in kinds
            and self.kind
            and self._styled[1] != is_dark(QApplication.instance())
        ):
            self._restyle()
        super().changeEvent(event)


# ---- the renditions table ----------------------------------------------------------------


class RenditionRow:
    """The editors of one rendition, laid out in one row of the renditions grid."""

    def __init__(self) -> None:
        self.name = QLineEdit()
        self.name.setMaxLength(MAX_NAME)
        self.name.setMinimumWidth(70)
        self.short_side = _Spin(Rendition, "short_side", " px")
        self.short_side.setSingleStep(2)
        self.codec = _Combo(CODECS)
        self.crf = _Spin(Rendition, "crf")
        self.speed = _Combo(tuple(X264_SPEEDS))
        self.audio_bitrate = _Combo(BITRATES, editable=True)
        self.max_fps = _Combo(FPS_CHOICES, editable=True)
        self.max_fps.setToolTip("Frame-rate cap; Source keeps the source's rate")
        self.max_fps.setProperty("baseToolTip", self.max_fps.toolTip())
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setAutoRaise(True)
        self.remove.setToolTip("Remove this rendition")

    def editors(self) -> dict[str, QWidget]:
        return {
            "name": self.name,
            "short_side": self.short_side,
            "codec": self.codec,
            "crf": self.crf,
            "speed": self.speed,
            "audio_bitrate": self.audio_bitrate,
            "max_fps": self.max_fps,
        }

    def widgets(self) -> list[QWidget]:
        return [*self.editors().values(), self.remove]

    def load(self, r: dict[str, Any]) -> None:
        self.name.setText(str(r.get("name", "")))
        self.short_side.setValue(int(r.get("short_side", 720)))
        self.codec.set_key(str(r.get("codec", _default(Rendition, "codec"))))
        self.crf.setValue(int(r.get("crf", _default(Rendition, "crf"))))
        self.speed.set_key(str(r.get("speed", _default(Rendition, "speed"))))
        bitrate = r.get("audio_bitrate", _default(Rendition, "audio_bitrate"))
        self.audio_bitrate.set_key(str(bitrate))
        fps = r.get("max_fps")
        self.max_fps.setCurrentText("Source" if fps is None else f"{float(fps):g}")

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name.text().strip(),
            "short_side": self.short_side.value(),
            "codec": self.codec.key(),
            "crf": self.crf.value(),
            "speed": self.speed.key(),
            "audio_bitrate": self.audio_bitrate.key(),
        }
        fps = self.max_fps.key()
        if fps and fps.lower() != "source":
            try:
                out["max_fps"] = float(fps)
            except ValueError:
                out["max_fps"] = fps  # let the validation name the problem
        return out

    def connect(self, slot: Callable[[], None]) -> None:
        self.name.textChanged.connect(slot)
        self.short_side.valueChanged.connect(slot)
        self.codec.currentIndexChanged.connect(slot)
        self.crf.valueChanged.connect(slot)
        self.speed.currentIndexChanged.connect(slot)
        self.audio_bitrate.currentTextChanged.connect(slot)
        self.max_fps.currentTextChanged.connect(slot)


class RenditionsTable(QWidget):
    """A grid of rendition rows with a header, per-row remove buttons and Add rendition."""

    changed = Signal()
    HEADERS = ("Name", "Short side", "Codec", "CRF", "Speed", "Audio", "Max fps", "")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[RenditionRow] = []
        self._read_only = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(6)
        self._grid.setVerticalSpacing(4)
        for col, text in enumerate(self.HEADERS):
            head = QLabel(text)
            font = head.font()
            font.setBold(True)
            head.setFont(font)
            self._grid.addWidget(head, 0, col)
        for col, stretch in enumerate((3, 2, 2, 1, 2, 2, 2, 0)):
            self._grid.setColumnStretch(col, stretch)
        outer.addLayout(self._grid)
        self.empty_label = QLabel("No renditions: this preset makes no video files.")
        self.empty_label.setEnabled(False)
        outer.addWidget(self.empty_label)
        bottom = QHBoxLayout()
        self.add_button = QPushButton("Add rendition")
        self.add_button.setToolTip(f"At most {MAX_RENDITIONS} renditions per preset")
        self.add_button.clicked.connect(self.add_rendition)
        bottom.addWidget(self.add_button)
        bottom.addStretch(1)
        outer.addLayout(bottom)
        self._update()

    def set_renditions(self, renditions: list[dict[str, Any]]) -> None:
        for row in self.rows:
            for w in row.widgets():
                self._grid.removeWidget(w)
                w.hide()  # deleteLater waits for the event loop; do not paint meanwhile
                w.deleteLater()
        self.rows = []
        for r in renditions:
            self._append(r)
        self._update()

    def data(self) -> list[dict[str, Any]]:
        return [row.data() for row in self.rows]

    def add_rendition(self) -> None:
        """A new row below the last, one step smaller, with a name not used yet."""
        taken = {row.name.text().strip() for row in self.rows}
        side = 720
        if self.rows:
            side = max(16, self.rows[-1].short_side.value() * 2 // 3 // 2 * 2)
        name = f"{side}p"
        n = 2
        while name in taken:
            name, n = f"{side}p-{n}", n + 1
        row = self._append({"name": name, "short_side": side})
        self._update()
        row.name.setFocus()
        self.changed.emit()

    def remove_row(self, index: int) -> None:
        row = self.rows.pop(index)
        for w in row.widgets():
            self._grid.removeWidget(w)
            w.hide()
            w.deleteLater()
        for i, r in enumerate(self.rows):  # close the gap
            for col, w in enumerate(r.widgets()):
                self._grid.addWidget(w, i + 1, col)
        self._update()
        self.changed.emit()

    def _append(self, r: dict[str, Any]) -> RenditionRow:
        row = RenditionRow()
        row.load(r)
        row.connect(lambda *_: self.changed.emit())
        row.remove.clicked.connect(lambda: self.remove_row(self.rows.index(row)))
        line = len(self.rows) + 1
        for col, w in enumerate(row.widgets()):
            self._grid.addWidget(w, line, col)
        self.rows.append(row)
        return row

    def set_read_only(self, read_only: bool) -> None:
        """Hide Add and the remove buttons (the editors are disabled by the caller)."""
        self._read_only = read_only
        self._update()

    def _update(self) -> None:
        self.add_button.setVisible(not self._read_only)
        for row in self.rows:
            row.remove.setVisible(not self._read_only)
        self.empty_label.setVisible(not self.rows)
        for i in range(len(self.HEADERS)):
            item = self._grid.itemAtPosition(0, i)
            if item is not None and item.widget() is not None:
                item.widget().setVisible(bool(self.rows))
        self.add_button.setEnabled(len(self.rows) < MAX_RENDITIONS)


# ---- the tab -----------------------------------------------------------------------------


class PresetsTab(QWidget):
    """Browse, create, edit, import and export presets."""

    presets_changed = Signal()  # after save, delete, new, duplicate and import

    def __init__(self, catalog: PresetCatalog, parent: QWidget | None = None):
        super().__init__(parent)
        self.catalog = catalog
        self._loaded: Preset | None = None  # the saved preset shown in the form
        self._baseline: dict[str, Any] = {}
        self._parsed: Preset | None = None  # the form as a valid preset, or None
        self._error = ""
        self._loading = False
        self._pending: Callable[[], None] | None = None  # runs after Save/Discard in the bar
        self._last_dir = str(Path.home())
        self._tinted: list[QWidget] = []
        self._field_widgets: dict[str, QWidget] = {}
        self._build()
        self.refresh()
        if catalog.errors:
            n = len(catalog.errors)
            self.message_bar.show_message(
                "warning",
                f"{n} preset file{'s' if n > 1 else ''} could not be used: {catalog.errors[0]}"
                + (" (and more, see the tooltip)" if n > 1 else ""),
                details="\n".join(catalog.errors),
                sticky=True,
            )

    # ---- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        outer.addWidget(splitter)
        splitter.addWidget(self._build_list_panel())
        splitter.addWidget(self._build_editor_panel())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 850])
        QShortcut(QKeySequence.StandardKey.Save, self, self._save_shortcut).setContext(
            Qt.ShortcutContext.WidgetWithChildrenShortcut
        )

    def _build_list_panel(self) -> QWidget:
        panel = QWidget()
        panel.setMinimumWidth(210)
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(0, 0, 6, 0)
        self.list_widget = QListWidget()
        self.list_widget.setObjectName("presetList")
        self.list_widget.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list_widget.setIconSize(QSize(16, 16))
        self.list_widget.currentItemChanged.connect(self._on_current_item_changed)
        lay.addWidget(self.list_widget, 1)
        grid = QGridLayout()
        grid.setSpacing(6)
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("Start a new preset of your own")
        self.new_button.clicked.connect(self.new_preset)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.setToolTip("Copy the selected preset under a new name")
        self.duplicate_button.clicked.connect(self.duplicate_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected preset of your own")
        self.delete_button.clicked.connect(self.delete_selected)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add a preset from a TOML file")
        self.import_button.clicked.connect(self.import_preset)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the selected preset (as saved) to a TOML file")
        self.export_button.clicked.connect(self.export_selected)
        grid.addWidget(self.new_button, 0, 0)
        grid.addWidget(self.duplicate_button, 0, 1)
        grid.addWidget(self.delete_button, 0, 2)
        grid.addWidget(self.import_button, 1, 0, 1, 1)
        grid.addWidget(self.export_button, 1, 1, 1, 1)
        lay.addLayout(grid)
        return panel

    def _build_editor_panel(self) -> QWidget:
        panel = QWidget()
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(6, 0, 0, 0)
        lay.setSpacing(8)

        self.title_label = QLabel()
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.title_label.setFont(font)
        self.subtitle_label = QLabel()
        self.subtitle_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.title_label)
        lay.addWidget(self.subtitle_label)

        self.builtin_banner = QFrame()
        self.builtin_banner.setObjectName("builtinBanner")
        banner = QHBoxLayout(self.builtin_banner)
        banner.setContentsMargins(10, 6, 6, 6)
        lock = QLabel()
        lock.setPixmap(lock_icon().pixmap(16, 16))
        banner.addWidget(lock)
        self.builtin_text = QLabel(
            "Built-in presets are read-only. Duplicate this one to make your own version."
        )
        self.builtin_text.setWordWrap(True)
        banner.addWidget(self.builtin_text, 1)
        self.duplicate_to_edit_button = QPushButton("Duplicate to edit")
        self.duplicate_to_edit_button.setObjectName("primaryButton")
        self.duplicate_to_edit_button.clicked.connect(self.duplicate_selected)
        banner.addWidget(self.duplicate_to_edit_button)
        lay.addWidget(self.builtin_banner)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.form = QWidget()
        self.form.setObjectName("presetForm")
        self.scroll.setWidget(self.form)
        self._build_form(self.form)
        lay.addWidget(self.scroll, 1)

        self.error_label = QLabel()
        self.error_label.setObjectName("presetError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.error_label)

        self.message_bar = MessageBar()
        lay.addWidget(self.message_bar)

        buttons = QHBoxLayout()
        self.status_label = QLabel()
        buttons.addWidget(self.status_label, 1)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Throw away the edits and show the saved preset")
        self.revert_button.clicked.connect(self.revert)
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save the preset (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        lay.addLayout(buttons)
        self._restyle()
        return panel

    def _build_form(self, form: QWidget) -> None:
        lay = QVBoxLayout(form)
        lay.setContentsMargins(0, 0, 8, 0)
        lay.setSpacing(10)

        basics = QFormLayout()
        basics.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(MAX_NAME)
        self.name_edit.setPlaceholderText("lowercase, e.g. web-small")
        self.name_edit.setToolTip("Lowercase letters, digits, - and _; used as the file name")
        self.name_edit.setProperty("baseToolTip", self.name_edit.toolTip())
        self.description_edit = QLineEdit()
        self.description_edit.setMaxLength(200)
        self.description_edit.setPlaceholderText("What this preset makes, in a line")
        basics.addRow("Name:", self.name_edit)
        basics.addRow("Description:", self.description_edit)
        lay.addLayout(basics)
        self.name_edit.textChanged.connect(self._on_edited)
        self.description_edit.textChanged.connect(self._on_edited)
        self._field_widgets.update(name=self.name_edit, description=self.description_edit)

        self.renditions_box = QGroupBox("Renditions (video files)")
        rbox = QVBoxLayout(self.renditions_box)
        self.renditions = RenditionsTable()
        self.renditions.changed.connect(self._on_edited)
        rbox.addWidget(self.renditions)
        lay.addWidget(self.renditions_box)

        # Poster
        self.poster_box = self._section("Poster (JPEG still)", "poster")
        self.poster_width = _Spin(Poster, "width", " px")
        self.poster_at = _DoubleSpin(0.0, 100.0, 1, " %")
        self.poster_at.setToolTip("Where the still is taken, as a share of the duration")
        self._rows(
            self.poster_box,
            "poster",
            [("Width:", "width", self.poster_width), ("Position:", "at", self.poster_at)],
        )
        # Contact sheet
        self.sheet_box = self._section("Contact sheet", "contact_sheet")
        self.sheet_columns = _Spin(ContactSheet, "columns")
        self.sheet_rows = _Spin(ContactSheet, "rows")
        self.sheet_tile_width = _Spin(ContactSheet, "tile_width", " px")
        self.sheet_timestamps = QCheckBox("Print timestamps on the tiles")
        self._rows(
            self.sheet_box,
            "contact_sheet",
            [
                ("Columns:", "columns", self.sheet_columns),
                ("Rows:", "rows", self.sheet_rows),
                ("Tile width:", "tile_width", self.sheet_tile_width),
                ("", "timestamps", self.sheet_timestamps),
            ],
        )
        # Audio
        self.audio_box = self._section("Audio extract (AAC in .m4a)", "audio")
        self.audio_bitrate = _Combo(BITRATES, editable=True)
        self.audio_copy = QCheckBox("Copy an AAC track as it is")
        self.audio_copy.setToolTip("Bit for bit, no re-encode, when the source is already AAC")
        self._rows(
            self.audio_box,
            "audio",
            [
                ("Bitrate:", "bitrate", self.audio_bitrate),
                ("", "copy_if_possible", self.audio_copy),
            ],
        )
        # Preview
        self.preview_box = self._section("Animated preview", "preview")
        low, high = _limits(Preview, "seconds")
        self.preview_seconds = _DoubleSpin(max(0.1, low), high, 2, " s")
        self.preview_width = _Spin(Preview, "width", " px")
        self.preview_fps = _Spin(Preview, "fps")
        self.preview_format = _Combo({"webp": "WebP", "gif": "GIF"})
        low, high = _limits(Preview, "start")
        self.preview_start = _DoubleSpin(low * 100, high * 100, 1, " %")
        self.preview_start.setToolTip("Where the preview starts, as a share of the duration")
        self._rows(
            self.preview_box,
            "preview",
            [
                ("Length:", "seconds", self.preview_seconds),
                ("Width:", "width", self.preview_width),
                ("Frame rate:", "fps", self.preview_fps),
                ("Format:", "format", self.preview_format),
                ("Start at:", "start", self.preview_start),
            ],
        )
        # Remux
        self.remux_box = self._section("Remux", "remux")
        remux_lay = QVBoxLayout(self.remux_box)
        remux_text = QLabel("Stream copy into MP4 when the codecs allow it: no quality loss.")
        remux_text.setWordWrap(True)
        remux_lay.addWidget(remux_text)

        columns = QHBoxLayout()
        columns.setSpacing(10)
        left, right = QVBoxLayout(), QVBoxLayout()
        for box in (self.poster_box, self.sheet_box, self.remux_box):
            left.addWidget(box)
        for box in (self.audio_box, self.preview_box):
            right.addWidget(box)
        left.addStretch(1)
        right.addStretch(1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        lay.addLayout(columns)
        lay.addStretch(1)

        for w in (
            self.poster_width,
            self.sheet_columns,
            self.sheet_rows,
            self.sheet_tile_width,
            self.preview_width,
            self.preview_fps,
        ):
            w.valueChanged.connect(self._on_edited)
        for w in (self.poster_at, self.preview_seconds, self.preview_start):
            w.valueChanged.connect(self._on_edited)
        for c in (self.sheet_timestamps, self.audio_copy):
            c.toggled.connect(self._on_edited)
        self.audio_bitrate.currentTextChanged.connect(self._on_edited)
        self.preview_format.currentIndexChanged.connect(self._on_edited)

    def _section(self, title: str, key: str) -> QGroupBox:
        box = QGroupBox(title)
        box.setCheckable(True)
        box.setChecked(False)
        box.toggled.connect(self._on_edited)
        self._field_widgets[key] = box
        return box

    def _rows(self, box: QGroupBox, key: str, rows: list[tuple[str, str, QWidget]]) -> None:
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, field, widget in rows:
            if label:
                form.addRow(label, widget)
            else:
                form.addRow(widget)
            self._field_widgets[f"{key}.{field}"] = widget

    def _restyle(self) -> None:
        """Theme-dependent colors (called again when the palette changes)."""
        dark = is_dark(QApplication.instance())
        self._styled_dark = dark
        banner_bg, banner_border = ("#3d2a17", "#e8590c") if dark else ("#fff4e6", "#ffa94d")
        self.builtin_banner.setStyleSheet(
            f"QFrame#builtinBanner {{ background: {banner_bg}; border: 1px solid {banner_border};"
            f" border-left: 4px solid {banner_border}; border-radius: 4px; }}"
        )
        self.duplicate_to_edit_button.setStyleSheet(
            "QPushButton#primaryButton { background: #cc4a0b; color: white; border: none;"
            " border-radius: 4px; padding: 5px 14px; font-weight: bold; }"
            " QPushButton#primaryButton:hover { background: #e8590c; }"
            " QPushButton#primaryButton:pressed { background: #b8420a; }"
        )
        self.error_label.setStyleSheet(f"color: {semantic_color('error')};")
        self.subtitle_label.setStyleSheet(f"color: {semantic_color('muted')};")
        self.status_label.setStyleSheet(f"color: {semantic_color('ok')};")
        self._fill_list_colors()
        if self._tinted:
            self._validate()

    def changeEvent(self, event: Any) -> None:
        kinds = (event.Type.PaletteChange, event.Type.ApplicationPaletteChange)
        if (
            event.type() in kinds
            and hasattr(self, "_styled_dark")
            and self._styled_dark != is_dark(QApplication.instance())
        ):
            self._restyle()
        super().changeEvent(event)

    # ---- the list -------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """Reload the catalog from disk, rebuild the list and select `select` (or keep the
        current one). Unsaved edits in the form are dropped."""
        self.catalog.reload()
        keep = select or self.selected_name()
        self._fill_list()
        names = self.catalog.all
        if keep not in names:
            keep = next(iter(self.catalog.user), None) or next(iter(self.catalog.builtin), None)
        self._loaded = None
        if keep is not None:
            self._show(keep)
        else:
            self._show_nothing()

    def _fill_list(self) -> None:
        lw = self.list_widget
        lw.blockSignals(True)
        lw.clear()
        self._header(lw, "Built-in")
        for name, preset in sorted(self.catalog.builtin.items()):
            item = QListWidgetItem(lock_icon(), name)
            item.setData(NAME_ROLE, name)
            item.setToolTip(f"{preset.description}\n(built-in, read-only)".strip())
            lw.addItem(item)
        self._header(lw, "Your presets")
        if not self.catalog.user:
            hint = QListWidgetItem("None yet: New or Duplicate")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            font = hint.font()
            font.setItalic(True)
            hint.setFont(font)
            hint.setData(Qt.ItemDataRole.UserRole + 1, "hint")
            lw.addItem(hint)
        for name, preset in sorted(self.catalog.user.items()):
            item = QListWidgetItem(name)
            item.setData(NAME_ROLE, name)
            item.setToolTip(preset.description or name)
            lw.addItem(item)
        lw.blockSignals(False)
        self._fill_list_colors()

    @staticmethod
    def _header(lw: QListWidget, text: str) -> None:
        item = QListWidgetItem(text.upper())
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setData(Qt.ItemDataRole.UserRole + 1, "header")
        font = item.font()
        font.setBold(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 108)
        item.setFont(font)
        # Room above each group, text on the bottom line: the groups read as groups.
        height = QFontMetrics(font).height()
        item.setSizeHint(QSize(0, height + (12 if lw.count() else 4)))
        item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        lw.addItem(item)

    def _fill_list_colors(self) -> None:
        if not hasattr(self, "list_widget"):
            return
        muted = QColor(semantic_color("muted"))
        for i in range(self.list_widget.count()):
            item = self.list_widget.item(i)
            if item.data(Qt.ItemDataRole.UserRole + 1) in ("header", "hint"):
                item.setForeground(muted)

    def _item_for(self, name: str) -> QListWidgetItem | None:
        for i in range(self.list_widget.count()):
            item = self.list_widget.item(i)
            if item.data(NAME_ROLE) == name:
                return item
        return None

    def selected_name(self) -> str | None:
        return self._loaded.name if self._loaded is not None else None

    def select_preset(self, name: str) -> bool:
        """Select a preset as if clicked (asks through the bar when there are unsaved edits)."""
        item = self._item_for(name)
        if item is None:
            return False
        self.list_widget.setCurrentItem(item)
        return self.selected_name() == name

    def _on_current_item_changed(
        self, current: QListWidgetItem | None, _previous: QListWidgetItem | None
    ) -> None:
        name = current.data(NAME_ROLE) if current is not None else None
        if not name or name == self.selected_name():
            return
        if self.is_dirty():
            self._select_list_item(self.selected_name())  # stay until the person decides
            self._ask_unsaved(lambda: self._show(name))
            return
        self._show(name)

    def _select_list_item(self, name: str | None) -> None:
        self.list_widget.blockSignals(True)
        item = self._item_for(name) if name else None
        self.list_widget.setCurrentItem(item)
        if item is None:
            self.list_widget.clearSelection()
        self.list_widget.blockSignals(False)

    # ---- showing a preset -----------------------------------------------------------------

    def _show(self, name: str) -> None:
        preset = self.catalog.all.get(name)
        if preset is None:
            self._show_nothing()
            return
        self._loaded = preset
        self._select_list_item(name)
        self._clear_pending()
        if self.message_bar.kind and not self.message_bar.sticky:
            self.message_bar.clear()  # results and questions were about the previous one
        self._load_form(preset)

    def _show_nothing(self) -> None:
        self._loaded = None
        self._load_form(None)

    def _load_form(self, preset: Preset | None) -> None:
        self._loading = True
        try:
            data = preset.to_toml_dict() if preset is not None else {}
            self.name_edit.setText(data.get("name", ""))
            self.description_edit.setText(data.get("description", ""))
            self.renditions.set_renditions(list(data.get("renditions", [])))
            poster = {**Poster().model_dump(), **data.get("poster", {})}
            self.poster_box.setChecked("poster" in data)
            self.poster_width.setValue(int(poster["width"]))
            self.poster_at.setValue(float(poster["at"]) * 100)
            sheet = {**ContactSheet().model_dump(), **data.get("contact_sheet", {})}
            self.sheet_box.setChecked("contact_sheet" in data)
            self.sheet_columns.setValue(int(sheet["columns"]))
            self.sheet_rows.setValue(int(sheet["rows"]))
            self.sheet_tile_width.setValue(int(sheet["tile_width"]))
            self.sheet_timestamps.setChecked(bool(sheet["timestamps"]))
            audio = {**AudioExtract().model_dump(), **data.get("audio", {})}
            self.audio_box.setChecked("audio" in data)
            self.audio_bitrate.set_key(str(audio["bitrate"]))
            self.audio_copy.setChecked(bool(audio["copy_if_possible"]))
            preview = {**Preview().model_dump(), **data.get("preview", {})}
            self.preview_box.setChecked("preview" in data)
            self.preview_seconds.setValue(float(preview["seconds"]))
            self.preview_width.setValue(int(preview["width"]))
            self.preview_fps.setValue(int(preview["fps"]))
            self.preview_format.set_key(str(preview["format"]))
            self.preview_start.setValue(float(preview["start"]) * 100)
            self.remux_box.setChecked("remux" in data)
        finally:
            self._loading = False
        builtin = preset is not None and preset.builtin
        self.form.setEnabled(preset is not None and not builtin)
        self.builtin_banner.setVisible(builtin)
        # Read-only, an unticked section would look just like a ticked one: show only what
        # a built-in makes.
        self.renditions.set_read_only(builtin)
        self.renditions_box.setVisible(not builtin or bool(self.renditions.rows))
        for box in (self.poster_box, self.sheet_box, self.audio_box, self.preview_box):
            box.setVisible(not builtin or box.isChecked())
        self.remux_box.setVisible(not builtin or self.remux_box.isChecked())
        if preset is None:
            self.title_label.setText("No preset selected")
            self.subtitle_label.setText("")
        elif builtin:
            self.title_label.setText(preset.name)
            self.subtitle_label.setText("Built-in preset")
        else:
            self.title_label.setText(preset.name)
            self.subtitle_label.setText(f"Your preset · {safe_file_name(preset.name)}.toml")
        self.status_label.clear()
        self._baseline = self.form_data()
        self._validate()

    # ---- the form as data -----------------------------------------------------------------

    def form_data(self) -> dict[str, Any]:
        """The preset mapping the form holds right now (not validated)."""
        data: dict[str, Any] = {
            "name": self.name_edit.text().strip(),
            "description": self.description_edit.text().strip(),
        }
        renditions = self.renditions.data()
        if renditions:
            data["renditions"] = renditions
        if self.poster_box.isChecked():
            data["poster"] = {
                "width": self.poster_width.value(),
                "at": round(self.poster_at.value() / 100, 4),
            }
        if self.sheet_box.isChecked():
            data["contact_sheet"] = {
                "columns": self.sheet_columns.value(),
                "rows": self.sheet_rows.value(),
                "tile_width": self.sheet_tile_width.value(),
                "timestamps": self.sheet_timestamps.isChecked(),
            }
        if self.audio_box.isChecked():
            data["audio"] = {
                "codec": "aac",
                "bitrate": self.audio_bitrate.key(),
                "copy_if_possible": self.audio_copy.isChecked(),
            }
        if self.preview_box.isChecked():
            data["preview"] = {
                "seconds": round(self.preview_seconds.value(), 3),
                "width": self.preview_width.value(),
                "fps": self.preview_fps.value(),
                "format": self.preview_format.key(),
                "start": round(self.preview_start.value() / 100, 4),
            }
        if self.remux_box.isChecked():
            data["remux"] = {"container": "mp4"}
        return data

    def is_dirty(self) -> bool:
        """Edits not saved yet (never true for a built-in: its form is read-only)."""
        if self._loaded is None or self._loaded.builtin:
            return False
        return self.form_data() != self._baseline

    def is_valid(self) -> bool:
        return self._parsed is not None

    def error_text(self) -> str:
        return self._error

    # ---- validation -----------------------------------------------------------------------

    def _on_edited(self) -> None:
        if self._loading:
            return
        self.status_label.clear()
        self.title_label.setText(self.name_edit.text().strip() or "(no name)")
        self._validate()

    def _validate(self) -> None:
        for w in self._tinted:
            with contextlib.suppress(RuntimeError):  # a removed rendition row
                _tint(w, False)
        self._tinted = []
        self._parsed, self._error = None, ""
        if self._loaded is None:
            self._set_error("", [])
            return
        data = self.form_data()
        try:
            preset = parse_preset(data, source=_SOURCE)
        except PresetError as err:
            line = str(err).removeprefix(f"{_SOURCE}: ")
            loc, _, problem = line.partition(": ")
            self._set_error(_human_error(loc, problem, data), self._widgets_for(loc, problem, data))
            return
        clash = self._clash(preset.name)
        if clash:
            self._set_error(f"Name: {clash}", [self.name_edit])
            return
        self._parsed = preset
        self._set_error("", [])

    def _clash(self, name: str) -> str:
        mine = self._loaded.name if self._loaded is not None else None
        if name == mine:
            return ""
        if name in self.catalog.builtin:
            return f"'{name}' is already used by a built-in preset"
        if name in self.catalog.user:
            return f"'{name}' is already used by another of your presets"
        return ""

    def _widgets_for(self, loc: str, problem: str, data: dict[str, Any]) -> list[QWidget]:
        """The field(s) to tint for a pydantic location."""
        m = re.fullmatch(r"renditions\[(\d+)\](?:\.(\w+))?", loc)
        if m:
            index = int(m.group(1))
            if index >= len(self.renditions.rows):
                return []
            editors = self.renditions.rows[index].editors()
            field = m.group(2) or ("crf" if problem.startswith("crf") else "name")
            return [editors[field]] if field in editors else []
        if loc == "preset" and "rendition names must be unique" in problem:
            names = [r.get("name") for r in data.get("renditions", [])]
            return [
                row.name
                for row, n in zip(self.renditions.rows, names, strict=False)
                if names.count(n) > 1
            ]
        widget = self._field_widgets.get(loc)
        return [widget] if widget is not None else []

    def _set_error(self, text: str, widgets: list[QWidget]) -> None:
        self._error = text
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        for w in widgets:
            _tint(w, True, text)
        self._tinted = widgets
        self._update_buttons()

    def _update_buttons(self) -> None:
        loaded = self._loaded
        builtin = loaded is not None and loaded.builtin
        dirty = self.is_dirty()
        editable = loaded is not None and not builtin
        self.save_button.setEnabled(editable and dirty and self.is_valid())
        self.revert_button.setEnabled(dirty)
        self.save_button.setVisible(not builtin)
        self.revert_button.setVisible(not builtin)
        self.duplicate_button.setEnabled(loaded is not None)
        self.export_button.setEnabled(loaded is not None)
        self.delete_button.setEnabled(loaded is not None and not builtin)
        if self._pending is not None and self.message_bar.kind == "warning":
            with contextlib.suppress(KeyError):
                self.message_bar.action("save").setEnabled(self.is_valid())
        if self._pending is not None and not dirty:
            self._clear_pending()

    # ---- actions --------------------------------------------------------------------------

    def save(self) -> bool:
        """Write the form to the catalog (renaming the file when the name changed)."""
        loaded, preset = self._loaded, self._parsed
        if loaded is None or loaded.builtin or preset is None:
            return False
        try:
            self.catalog.save(preset)
            if preset.name != loaded.name and loaded.name in self.catalog.user:
                self.catalog.delete(loaded.name)
        except (PresetError, OSError) as exc:
            self.message_bar.show_message("error", f"Could not save '{preset.name}': {exc}")
            return False
        self._after_change(preset.name)
        self.status_label.setText(f"Saved ✓  {safe_file_name(preset.name)}.toml")
        return True

    def revert(self) -> None:
        """Throw the edits away and show the saved preset again."""
        self._clear_pending()
        if self._loaded is not None:
            self._load_form(self._loaded)

    def new_preset(self) -> None:
        self._guard(self._new_now)

    def _new_now(self) -> None:
        name = self._unique_name("new-preset")
        data = {"name": name, "renditions": [{"name": "720p", "short_side": 720}]}
        if self._create(data, "New preset"):
            self.name_edit.setFocus()
            self.name_edit.selectAll()

    def duplicate_selected(self) -> None:
        self._guard(self._duplicate_now)

    def _duplicate_now(self) -> None:
        if self._loaded is None:
            return
        source = self.catalog.all.get(self._loaded.name, self._loaded)
        name = self._unique_name(f"{source.name}-copy")
        if self._create({**source.to_toml_dict(), "name": name}, "Duplicate"):
            self.name_edit.setFocus()
            self.name_edit.selectAll()

    def _create(self, data: dict[str, Any], what: str) -> bool:
        try:
            preset = parse_preset(data, source=what)
            self.catalog.save(preset)
        except (PresetError, OSError) as exc:
            self.message_bar.show_message("error", f"{what} failed: {exc}")
            return False
        self._after_change(preset.name)
        return True

    def delete_selected(self) -> None:
        """Ask in the bar first; the file is removed on Delete."""
        loaded = self._loaded
        if loaded is None or loaded.builtin:
            return
        name = loaded.name
        self.message_bar.show_message(
            "warning",
            f"Delete '{name}'? Its file {safe_file_name(name)}.toml is removed.",
            [
                ("delete", "Delete", lambda: self._delete_now(name)),
                ("cancel", "Cancel", self.message_bar.clear),
            ],
        )

    def _delete_now(self, name: str) -> None:
        self.message_bar.clear()
        names = sorted(self.catalog.user)
        index = names.index(name) if name in names else 0
        try:
            self.catalog.delete(name)
        except (PresetError, OSError) as exc:
            self.message_bar.show_message("error", f"Could not delete '{name}': {exc}")
            return
        rest = sorted(self.catalog.user)
        following = rest[min(index, len(rest) - 1)] if rest else None
        self._loaded = None  # the edits (if any) went with the file
        self._after_change(following or next(iter(sorted(self.catalog.builtin)), None))

    def import_preset(self) -> None:
        self._guard(self._import_now)

    def _import_now(self) -> None:
        chosen = self._ask_import_path()
        if not chosen:
            return
        path = Path(chosen)
        self._last_dir = str(path.parent)
        try:
            preset = load_preset_file(path)
        except PresetError as exc:
            self.message_bar.show_message("error", f"Not imported: {exc}")
            return
        note = ""
        if preset.name in self.catalog.all:
            new_name = self._unique_name(preset.name)
            note = f" as '{new_name}' ('{preset.name}' is taken)"
            preset = parse_preset({**preset.to_toml_dict(), "name": new_name}, source=path.name)
        try:
            self.catalog.save(preset)
        except (PresetError, OSError) as exc:
            self.message_bar.show_message("error", f"Not imported: {exc}")
            return
        self._after_change(preset.name)
        self.message_bar.show_message("ok", f"Imported {path.name}{note}.")

    def export_selected(self) -> None:
        """Write the selected preset, as saved, to a TOML file."""
        if self._loaded is None:
            return
        preset = self.catalog.all.get(self._loaded.name, self._loaded)
        suggested = str(Path(self._last_dir) / f"{safe_file_name(preset.name)}.toml")
        chosen = self._ask_export_path(suggested)
        if not chosen:
            return
        path = Path(chosen)
        if not path.suffix:
            path = path.with_suffix(".toml")
        self._last_dir = str(path.parent)
        try:
            path.write_text(tomli_w.dumps(preset.to_toml_dict()), encoding="utf-8")
        except OSError as exc:
            self.message_bar.show_message("error", f"Could not export: {exc.strerror or exc}")
            return
        unsaved = " (saved version: your unsaved edits are not in it)" if self.is_dirty() else ""
        self.message_bar.show_message("ok", f"Exported '{preset.name}' to {path}{unsaved}.")

    # ---- file dialogs (small methods so tests can replace them) ---------------------------

    def _ask_import_path(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, "Import preset", self._last_dir, TOML_FILTER)
        return path

    def _ask_export_path(self, suggested: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Export preset", suggested, TOML_FILTER)
        return path

    # ---- unsaved edits --------------------------------------------------------------------

    def _guard(self, action: Callable[[], None]) -> None:
        """Run action now, or after Save/Discard when the form has unsaved edits."""
        if self.is_dirty():
            self._ask_unsaved(action)
        else:
            action()

    def _ask_unsaved(self, then: Callable[[], None]) -> None:
        self._pending = then
        name = self._loaded.name if self._loaded is not None else ""
        self.message_bar.show_message(
            "warning",
            f"Unsaved changes to '{name}'.",
            [("save", "Save", self._pending_save), ("discard", "Discard", self._pending_discard)],
            on_dismiss=self._clear_pending,
        )
        self.message_bar.action("save").setEnabled(self.is_valid())

    def _pending_save(self) -> None:
        then = self._pending
        if self.save() and then is not None:
            self._pending = None
            self.message_bar.clear()
            then()

    def _pending_discard(self) -> None:
        then = self._pending
        self._clear_pending()
        if self._loaded is not None:
            self._load_form(self._loaded)
        if then is not None:
            then()

    def _clear_pending(self) -> None:
        if self._pending is not None:
            self._pending = None
            self.message_bar.clear()

    def _save_shortcut(self) -> None:
        if self.save_button.isEnabled():
            self.save()

    # ---- helpers --------------------------------------------------------------------------

    def _after_change(self, select: str | None) -> None:
        self._loaded = None
        self.refresh(select=select)
        self.presets_changed.emit()

    def _unique_name(self, base: str) -> str:
        taken = set(self.catalog.all)
        base = safe_file_name(base)[:MAX_NAME].strip("-_") or "preset"
        if base not in taken:
            return base
        n = 2
        while True:
            suffix = f"-{n}"
            candidate = base[: MAX_NAME - len(suffix)] + suffix
            if candidate not in taken:
                return candidate
            n += 1
