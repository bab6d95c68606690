"""Light, dark and the platform's own look.

"system" gives back exactly what the platform chose (style and palette, remembered the first
time a theme is applied), so switching Dark -> System at run time restores the original look.
"light" and "dark" use the Fusion style, which draws the same on every platform, with palettes
tuned for contrast; the accent is the warm orange of the app icon.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES: tuple[str, ...] = ("system", "light", "dark")
ACCENT = "#e8590c"  # the app icon's orange
# White text on the icon orange is 3.6:1; a shade deeper passes 4.6:1 (WCAG AA) for selections.
_HIGHLIGHT = "#cc4a0b"

_R = QPalette.ColorRole
_G = QPalette.ColorGroup

_DARK: dict[QPalette.ColorRole, str] = {
    _R.Window: "#26282c",
    _R.WindowText: "#e9ecef",
    _R.Base: "#1c1e21",
    _R.AlternateBase: "#232529",
    _R.Text: "#e9ecef",
    _R.PlaceholderText: "#8d939b",
    _R.Button: "#33363b",
    _R.ButtonText: "#e9ecef",
    _R.BrightText: "#ff8787",
    _R.Highlight: _HIGHLIGHT,
    _R.HighlightedText: "#ffffff",
    _R.Link: "#74c0fc",
    _R.LinkVisited: "#b197fc",
    _R.ToolTipBase: "#3a3d43",
    _R.ToolTipText: "#f1f3f5",
    _R.Light: "#4a4d53",
    _R.Midlight: "#3c3f45",
    _R.Mid: "#2c2e33",
    _R.Dark: "#18191c",
    _R.Shadow: "#0b0c0d",
}
_DARK_DISABLED: dict[QPalette.ColorRole, str] = {
    _R.WindowText: "#80868e",
    _R.Text: "#80868e",
    _R.ButtonText: "#80868e",
    _R.Base: "#222428",
    _R.Button: "#2c2e33",
    _R.Highlight: "#4a4d53",
    _R.HighlightedText: "#c1c6cc",
    _R.PlaceholderText: "#5f646b",
}

_LIGHT: dict[QPalette.ColorRole, str] = {
    _R.Window: "#f1f2f4",
    _R.WindowText: "#1d1f23",
    _R.Base: "#ffffff",
    _R.AlternateBase: "#f5f6f8",
    _R.Text: "#1d1f23",
    _R.PlaceholderText: "#7a8088",
    _R.Button: "#f8f9fa",
    _R.ButtonText: "#1d1f23",
    _R.BrightText: "#c92a2a",
    _R.Highlight: _HIGHLIGHT,
    _R.HighlightedText: "#ffffff",
    _R.Link: "#1864ab",
    _R.LinkVisited: "#5f3dc4",
    _R.ToolTipBase: "#fffbe8",
    _R.ToolTipText: "#1d1f23",
    _R.Light: "#ffffff",
    _R.Midlight: "#e9ecef",
    _R.Mid: "#c4c8cd",
    _R.Dark: "#9ea3a9",
    _R.Shadow: "#5c6167",
}
_LIGHT_DISABLED: dict[QPalette.ColorRole, str] = {
    _R.WindowText: "#70767d",
    _R.Text: "#70767d",
    _R.ButtonText: "#70767d",
    _R.Base: "#f3f4f6",
    _R.Button: "#eceef0",
    _R.Highlight: "#c4c8cd",
    _R.HighlightedText: "#3d4147",
    _R.PlaceholderText: "#b0b5ba",
}


@dataclass
class _Original:
    app_id: int
    style: str
    palette: QPalette


_original: _Original | None = None


def _remember(app: QApplication) -> _Original:
    global _original
    if _original is None or _original.app_id != id(app):
        _original = _Original(id(app), app.style().name(), QPalette(app.palette()))
    return _original


def build_palette(theme: str) -> QPalette:
    """The palette for "light" or "dark" (anything else is treated as "light")."""
    normal, disabled = (_DARK, _DARK_DISABLED) if theme == "dark" else (_LIGHT, _LIGHT_DISABLED)
    pal = QPalette()
    for role, color in normal.items():
        pal.setColor(role, QColor(color))  # all groups
    accent = getattr(_R, "Accent", None)  # Qt 6.6+
    if accent is not None:
        pal.setColor(accent, QColor(_HIGHLIGHT))
    for role, color in disabled.items():
        pal.setColor(_G.Disabled, role, QColor(color))
    # An inactive window keeps its selection visible, just calmer.
    pal.setColor(_G.Inactive, _R.Highlight, QColor(_HIGHLIGHT).darker(115))
    return pal


def _set_color_scheme(app: QApplication, theme: str) -> None:
    """Tell the platform too (Qt 6.8+), so native title bars and dialogs follow on Windows."""
    hints = app.styleHints()
    try:
        if theme == "dark":
            hints.setColorScheme(Qt.ColorScheme.Dark)
        elif theme == "light":
            hints.setColorScheme(Qt.ColorScheme.Light)
        else:
            hints.unsetColorScheme()
    except AttributeError:  # older Qt: the palette alone does the job
        pass


def apply_theme(app: QApplication, theme: str) -> None:
    """Switch the whole application to "system", "light" or "dark" (unknown means system)."""
    original = _remember(app)
    theme = theme if theme in THEMES else "system"
    _set_color_scheme(app, theme)
    if theme == "system":
        app.setStyle(original.style)
        app.setPalette(original.palette)
        return
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    app.setPalette(build_palette(theme))


def is_dark(app: QApplication) -> bool:
    """Whether the current palette is a dark one (window darker than its text)."""
    pal = app.palette()
    return pal.color(_R.Window).lightness() < pal.color(_R.WindowText).lightness()


# Status text colors that keep at least 4.5:1 against the window color of each theme.
_SEMANTIC: dict[str, tuple[str, str]] = {  # name: (on light, on dark)
    "error": ("#c92a2a", "#ff6b6b"),
    "ok": ("#2b7a3b", "#69db7c"),
    "warning": ("#a64200", "#ffa94d"),
    "muted": ("#5c6167", "#a5abb2"),
}


def semantic_color(name: str, app: QApplication | None = None) -> str:
    """A readable "error", "ok", "warning" or "muted" text color for the current palette."""
    app = app or QApplication.instance()
    dark = isinstance(app, QApplication) and is_dark(app)
    light_color, dark_color = _SEMANTIC[name]
    return dark_color if dark else light_color
