"""The Settings dialog: what OK saves, what Cancel keeps, and the ffmpeg check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import imageio_ffmpeg
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from reelforge.config import Settings, load_settings, save_settings
from reelforge.media.binaries import FFmpegBinary
from reelforge.ui.settings_dialog import COLLISION_LABELS, SettingsDialog, wrap_lines
from reelforge.ui.theme import semantic_color


@pytest.fixture
def settings_path(reelforge_home: Path) -> Path:
    return reelforge_home / "settings.toml"


def _dialog(qtbot, settings: Settings, path: Path) -> SettingsDialog:
    dlg = SettingsDialog(settings, path)
    qtbot.addWidget(dlg)
    dlg.resize(560, 520)
    return dlg


def _wait_detected(qtbot, dlg: SettingsDialog) -> FFmpegBinary | str:
    qtbot.waitUntil(lambda: dlg.detected is not None, timeout=15000)
    assert dlg.detected is not None
    return dlg.detected


def _ok(dlg: SettingsDialog) -> None:
    dlg.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_form_shows_the_given_settings(qtbot, settings_path: Path) -> None:
    given = Settings(
        output_dir="/videos/out",
        collision="skip",
        light_concurrency=3,
        heavy_concurrency=2,
        stall_timeout=45.0,
        notifications=False,
        close_to_tray=True,
        theme="dark",
        presets=("audio", "web"),
    )
    dlg = _dialog(qtbot, given, settings_path)
    assert dlg.current() == given
    assert dlg.collision_combo.currentText() == COLLISION_LABELS["skip"]
    assert dlg.theme_combo.currentText() == "Dark"


def test_collision_choices_have_human_labels(qtbot, settings_path: Path) -> None:
    dlg = _dialog(qtbot, Settings(), settings_path)
    texts = [dlg.collision_combo.itemText(i) for i in range(dlg.collision_combo.count())]
    keys = [dlg.collision_combo.itemData(i) for i in range(dlg.collision_combo.count())]
    assert keys == ["counter", "overwrite", "skip"]
    assert all(t not in keys for t in texts)


def test_ok_saves_emits_and_reopens_with_saved_values(
    qtbot, settings_path: Path, tmp_path: Path
) -> None:
    start = Settings(presets=("thumbnails",))
    dlg = _dialog(qtbot, start, settings_path)
    dlg.output_edit.setText(str(tmp_path / "out"))
    dlg.collision_combo.setCurrentIndex(dlg.collision_combo.findData("overwrite"))
    dlg.light_spin.setValue(4)
    dlg.heavy_spin.setValue(3)
    dlg.stall_spin.setValue(90)
    dlg.split_spin.setValue(30)
    dlg.segment_spin.setValue(90)
    dlg.notify_check.setChecked(False)
    dlg.tray_check.setChecked(True)
    dlg.theme_combo.setCurrentIndex(dlg.theme_combo.findData("light"))
    expected = replace(
        start,
        output_dir=str(tmp_path / "out"),
        collision="overwrite",
        light_concurrency=4,
        heavy_concurrency=3,
        stall_timeout=90.0,
        split_after=1800.0,
        segment_seconds=90.0,
        notifications=False,
        close_to_tray=True,
        theme="light",
    )
    with qtbot.waitSignal(dlg.settings_changed, timeout=2000) as blocker:
        _ok(dlg)
    assert blocker.args == [expected]
    assert dlg.result() == SettingsDialog.DialogCode.Accepted
    assert load_settings(settings_path) == expected  # presets were kept as they were

    again = _dialog(qtbot, load_settings(settings_path), settings_path)
    assert again.current() == expected
    assert again.light_spin.value() == 4 and again.tray_check.isChecked()
    assert again.split_spin.value() == 30 and again.segment_spin.value() == 90
    again.split_spin.setValue(0)
    assert again.split_spin.text() == "Never" and again.current().split_after == 0.0


def test_spin_boxes_keep_values_in_range(qtbot, settings_path: Path) -> None:
    dlg = _dialog(qtbot, Settings(), settings_path)
    dlg.light_spin.setValue(99)
    dlg.heavy_spin.setValue(0)
    dlg.stall_spin.setValue(1)
    current = dlg.current()
    assert (current.light_concurrency, current.heavy_concurrency) == (16, 1)
    assert current.stall_timeout == 5.0


def test_cancel_leaves_the_file_untouched(qtbot, settings_path: Path) -> None:
    save_settings(settings_path, Settings(light_concurrency=3))
    before = settings_path.read_bytes()
    dlg = _dialog(qtbot, load_settings(settings_path), settings_path)
    dlg.light_spin.setValue(7)
    dlg.theme_combo.setCurrentIndex(dlg.theme_combo.findData("dark"))
    with qtbot.assertNotEmitted(dlg.settings_changed):
        dlg.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert dlg.result() == SettingsDialog.DialogCode.Rejected
    assert settings_path.read_bytes() == before


def test_restore_defaults_fills_the_form_only(qtbot, settings_path: Path) -> None:
    dlg = _dialog(qtbot, Settings(light_concurrency=9, theme="dark", presets=("a",)), settings_path)
    dlg.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
    assert dlg.current() == Settings(presets=("a",))
    assert not settings_path.exists()


def test_browse_buttons_fill_the_fields(qtbot, settings_path: Path, tmp_path: Path) -> None:
    dlg = _dialog(qtbot, Settings(), settings_path)
    dlg._ask_directory = lambda start: str(tmp_path)
    dlg._ask_ffmpeg_file = lambda start: ""  # cancelled: the field stays as it was
    dlg.output_browse.click()
    dlg.ffmpeg_browse.click()
    assert dlg.output_edit.text() == str(tmp_path)
    assert dlg.ffmpeg_edit.text() == ""


def test_real_ffmpeg_shows_its_version(qtbot, settings_path: Path) -> None:
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    dlg = _dialog(qtbot, Settings(ffmpeg_path=exe), settings_path)
    found = _wait_detected(qtbot, dlg)
    assert isinstance(found, FFmpegBinary)
    assert found.source == "setting" and found.path == exe
    assert dlg.ffmpeg_status_text.startswith(f"✓ ffmpeg {found.version}")
    assert exe in dlg.ffmpeg_status_text
    assert semantic_color("ok") in dlg.ffmpeg_status.styleSheet()


def test_bogus_path_shows_the_error_and_recovers(
    qtbot, settings_path: Path, tmp_path: Path
) -> None:
    dlg = _dialog(qtbot, Settings(), settings_path)
    _wait_detected(qtbot, dlg)
    dlg.ffmpeg_edit.setText(str(tmp_path / "no-such-ffmpeg"))
    assert dlg.detected is None  # re-detection is on its way
    problem = _wait_detected(qtbot, dlg)
    assert isinstance(problem, str) and "missing file" in problem
    assert dlg.ffmpeg_status_text == f"✗ {problem}"
    assert semantic_color("error") in dlg.ffmpeg_status.styleSheet()

    dlg.ffmpeg_edit.setText(imageio_ffmpeg.get_ffmpeg_exe())
    assert isinstance(_wait_detected(qtbot, dlg), FFmpegBinary)


def test_save_failure_keeps_the_dialog_open(qtbot, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    dlg = _dialog(qtbot, Settings(), blocker / "settings.toml")  # parent is a file
    with qtbot.assertNotEmitted(dlg.settings_changed):
        _ok(dlg)
    assert dlg.result() != SettingsDialog.DialogCode.Accepted
    assert "Could not save" in dlg.error_label.text()


def test_wrap_lines_breaks_long_paths() -> None:
    def fits(text: str) -> bool:
        return len(text) <= 12

    lines = wrap_lines("ok: /usr/local/lib/ffmpeg\nsecond line", fits)
    assert lines == ["ok: /usr/", "local/lib/", "ffmpeg", "second line"]
    assert wrap_lines("x" * 30, fits) == ["x" * 12, "x" * 12, "x" * 6]
