"""Themes: dark is dark, light is light, System gives back what the platform chose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from reelforge.ui.theme import apply_theme, build_palette, is_dark, semantic_color

R = QPalette.ColorRole
G = QPalette.ColorGroup


def _luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    apply_theme(qapp, "system")  # remembers the platform look if nothing did before
    yield qapp
    apply_theme(qapp, "system")  # never leak a theme into other tests


def test_dark_is_dark(app: QApplication) -> None:
    apply_theme(app, "dark")
    pal = app.palette()
    assert pal.color(R.Window).lightness() < 60
    assert pal.color(R.Base).lightness() < 60
    assert pal.color(R.WindowText).lightness() > 200
    assert is_dark(app)
    assert app.style().name().lower() == "fusion"


def test_light_is_light(app: QApplication) -> None:
    apply_theme(app, "light")
    pal = app.palette()
    assert pal.color(R.Window).lightness() > 220
    assert pal.color(R.Base) == QColor("#ffffff")
    assert pal.color(R.WindowText).lightness() < 60
    assert not is_dark(app)
    assert app.style().name().lower() == "fusion"


def test_system_restores_the_original(app: QApplication) -> None:
    original_window = app.palette().color(R.Window)
    original_text = app.palette().color(R.Text)
    original_style = app.style().name()
    apply_theme(app, "dark")
    assert app.palette().color(R.Window) != original_window
    apply_theme(app, "light")
    apply_theme(app, "system")
    assert app.palette().color(R.Window) == original_window
    assert app.palette().color(R.Text) == original_text
    assert app.style().name() == original_style


def test_unknown_theme_means_system(app: QApplication) -> None:
    original = app.palette().color(R.Window)
    apply_theme(app, "dark")
    apply_theme(app, "solarized")
    assert app.palette().color(R.Window) == original


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_palettes_have_good_contrast(theme: str) -> None:
    pal = build_palette(theme)
    assert contrast(pal.color(R.WindowText), pal.color(R.Window)) >= 7
    assert contrast(pal.color(R.Text), pal.color(R.Base)) >= 7
    assert contrast(pal.color(R.Text), pal.color(R.AlternateBase)) >= 7
    assert contrast(pal.color(R.ButtonText), pal.color(R.Button)) >= 7
    assert contrast(pal.color(R.ToolTipText), pal.color(R.ToolTipBase)) >= 7
    assert contrast(pal.color(R.HighlightedText), pal.color(R.Highlight)) >= 4.5
    assert contrast(pal.color(R.Link), pal.color(R.Base)) >= 4.5
    assert contrast(pal.color(R.PlaceholderText), pal.color(R.Base)) >= 3
    # disabled text is visibly different but still readable
    disabled = pal.color(G.Disabled, R.Text)
    assert disabled != pal.color(G.Active, R.Text)
    assert contrast(disabled, pal.color(G.Disabled, R.Base)) >= 3
    assert pal.color(R.Highlight).name() == "#cc4a0b"  # the icon's orange, a shade deeper


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_semantic_colors_are_readable(app: QApplication, theme: str) -> None:
    apply_theme(app, theme)
    window = app.palette().color(R.Window)
    for name in ("error", "ok", "warning", "muted"):
        assert contrast(QColor(semantic_color(name)), window) >= 4.5, name
