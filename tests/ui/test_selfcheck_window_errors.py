"""--self-check fails when showing any tab raises, even though Qt swallows such errors.

The frozen bundle is where this matters: a tab that imports a library on first show (the
Dashboard's charts) would raise inside a Qt event handler, which never reaches the caller.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BROKEN_TAB = """
import sys
from PySide6.QtWidgets import QWidget
from reelforge.ui.app import DesktopApp

class Broken(QWidget):
    def showEvent(self, event):
        raise ImportError("No module named 'left_out_of_the_bundle'")

start = DesktopApp.start

def with_broken_tab(self, files):
    start(self, files)
    self.window.tabs.addTab(Broken(), "Broken")

DesktopApp.start = with_broken_tab
from reelforge.ui.selfcheck import run_self_check
sys.exit(run_self_check())
"""


def test_an_error_while_showing_a_tab_fails_the_window_check(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "REELFORGE_HOME": str(tmp_path)}
    env.pop("DISPLAY", None)
    res = subprocess.run(
        [sys.executable, "-c", BROKEN_TAB],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    window = [line for line in res.stdout.splitlines() if "window:" in line]
    assert window == [
        "FAIL  window: error while showing the window: "
        "ImportError: No module named 'left_out_of_the_bundle'"
    ], res.stdout
    assert res.stdout.splitlines()[-1] == "self-check failed: 1 check(s)"
