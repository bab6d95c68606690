"""History header titles keep air at the section edges: a right-aligned title ("Took",
"Output size") must not run into the left-aligned title of the next column."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionHeader
from pytestqt.qtbot import QtBot

from reelforge.storage.engine import open_database
from reelforge.storage.repository import Repository
from reelforge.ui.history_view import COL_PROBLEM, COL_SIZE, COL_TOOK, COLUMNS, HistoryTab
from reelforge.ui.theme import apply_theme

MIN_AIR = 5  # px between a title and its section edge (Fusion's own margin is 2)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    engine = open_database(tmp_path / "history.db")
    yield Repository(engine)
    engine.dispose()


def label_rect(tab: HistoryTab, col: int) -> tuple[QRect, QRect]:
    """The section's rect and the rect the header's style draws its title in."""
    header = tab.table.horizontalHeader()
    opt = QStyleOptionHeader()
    opt.initFrom(header)
    opt.rect = QRect(0, 0, header.sectionSize(col), header.height())
    opt.section = col
    opt.text = COLUMNS[col]
    opt.textAlignment = tab.model.headerData(
        col, Qt.Orientation.Horizontal, Qt.ItemDataRole.TextAlignmentRole
    )
    label = header.style().subElementRect(QStyle.SubElement.SE_HeaderLabel, opt, header)
    return QRect(opt.rect), QRect(label)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_header_titles_have_air_and_still_fit(qtbot: QtBot, repo: Repository, theme: str) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, theme)
    try:
        tab = HistoryTab(repo)
        qtbot.addWidget(tab)
        tab.resize(1200, 600)
        with qtbot.waitExposed(tab):
            tab.show()
        fm = tab.table.horizontalHeader().fontMetrics()
        for col in (COL_TOOK, COL_SIZE, COL_PROBLEM):
            section, label = label_rect(tab, col)
            assert label.left() - section.left() >= MIN_AIR, COLUMNS[col]
            assert section.right() - label.right() >= MIN_AIR, COLUMNS[col]
            assert label.width() >= fm.horizontalAdvance(COLUMNS[col]), COLUMNS[col]
    finally:
        apply_theme(app, "system")
