"""Following a log's tail scrolls down, never sideways to the end of a long line."""

from __future__ import annotations

from typing import Any

from reelforge.ui.log_panel import _append_following, _log_view


def test_following_the_tail_keeps_the_view_at_the_line_starts(qtbot: Any) -> None:
    view = _log_view()
    qtbot.addWidget(view)
    view.resize(300, 120)
    view.show()
    for n in range(40):
        _append_following(view, f"line {n}")
    _append_following(view, "$ ffmpeg " + "-option value " * 200)  # an argv far wider than 300 px
    qtbot.wait(10)
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() >= bar.maximum() - 2  # still following the tail
    assert view.horizontalScrollBar().maximum() > 0
    assert view.horizontalScrollBar().value() == 0
