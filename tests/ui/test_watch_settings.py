"""Watch folders, heavy-job hours and retention in the Settings dialog."""

from __future__ import annotations

import os
from pathlib import Path

from reelforge.config import Settings, WatchFolder, load_settings
from reelforge.ui.settings_dialog import SettingsDialog


def test_watch_folders_hours_and_retention_round_trip(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    start = Settings(presets=("web", "audio"), watch=(WatchFolder("/in/a", ("web",), "/out"),))
    dialog = SettingsDialog(start, path)
    qtbot.addWidget(dialog)
    assert dialog.watch_folders() == start.watch
    dialog._ask_watch_directory = lambda _start: str(tmp_path / "inbox")
    dialog.watch_add.click()
    assert dialog.watch_folders()[1] == WatchFolder(str(tmp_path / "inbox"), ("web", "audio"), "")
    dialog.hours_edit.setText("22:00-07:00")
    dialog.history_spin.setValue(90)
    dialog.log_spin.setValue(0)
    dialog.show()
    if os.environ.get("REELFORGE_SHOTS"):
        dialog.grab().save(str(Path(os.environ["REELFORGE_SHOTS"]) / "settings.png"))
    with qtbot.waitSignal(dialog.settings_changed) as got:
        dialog.accept()
    saved = load_settings(path)
    assert saved == got.args[0]
    assert [w.dir for w in saved.watch] == ["/in/a", str(tmp_path / "inbox")]
    assert (saved.heavy_hours, saved.history_days, saved.log_days) == ("22:00-07:00", 90, 0)


def test_bad_hours_are_refused_with_a_line(qtbot, tmp_path: Path) -> None:
    dialog = SettingsDialog(Settings(), tmp_path / "settings.toml")
    qtbot.addWidget(dialog)
    dialog.hours_edit.setText("after dinner")
    dialog.accept()
    assert not (tmp_path / "settings.toml").exists()
    assert "heavy_hours" in dialog.error_label.text() and not dialog.error_label.isHidden()
    dialog.watch_table.selectRow(0)
    dialog._remove_watch()  # nothing to remove: no error
    assert dialog.watch_folders() == ()
