"""The window's application log shows one line per error; the traceback stays in the file."""

from __future__ import annotations

import logging
from pathlib import Path

from reelforge.ui.log_panel import LogPanel


def test_application_log_shows_no_traceback(qtbot, tmp_path: Path) -> None:
    panel = LogPanel(tmp_path)
    qtbot.addWidget(panel)
    logger = logging.getLogger("reelforge.test-panel")
    logger.setLevel(logging.INFO)
    panel.attach_to(logger)
    try:
        raise ValueError("deep detail")
    except ValueError:
        logger.exception("could not plan clip.mp4")
    qtbot.waitUntil(lambda: "could not plan" in panel.app_view.toPlainText(), timeout=2000)
    text = panel.app_view.toPlainText()
    assert "could not plan clip.mp4 (details in the log file)" in text
    assert "Traceback" not in text and "deep detail" not in text
    logger.removeHandler(panel.handler)
