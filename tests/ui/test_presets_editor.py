"""The Presets tab: built-ins locked, copies editable, inline validation, files on disk."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from reelforge.assets import resource
from reelforge.domain.presets import load_preset_file, parse_preset
from reelforge.services.presets import PresetCatalog
from reelforge.ui.presets_editor import PresetsTab, lock_icon
from reelforge.ui.theme import apply_theme


@pytest.fixture
def presets_dir(reelforge_home: Path) -> Path:
    return reelforge_home / "presets"


@pytest.fixture
def catalog(presets_dir: Path) -> PresetCatalog:
    return PresetCatalog(resource("presets"), presets_dir)


@pytest.fixture
def tab(qtbot, catalog: PresetCatalog) -> PresetsTab:
    widget = PresetsTab(catalog)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    return widget


def _copy_of_web(qtbot, tab: PresetsTab) -> None:
    assert tab.select_preset("web")
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.duplicate_to_edit_button.click()
    assert tab.selected_name() == "web-copy"


def test_builtins_are_listed_with_a_lock_and_read_only(tab: PresetsTab) -> None:
    item = tab._item_for("web")
    assert item is not None
    assert item.icon().cacheKey() == lock_icon().cacheKey()
    assert "built-in" in item.toolTip()

    assert tab.select_preset("web")
    assert not tab.name_edit.isEnabled()
    assert not tab.description_edit.isEnabled()
    assert not tab.renditions.rows[0].short_side.isEnabled()
    assert not tab.renditions.add_button.isEnabled()
    assert not tab.poster_box.isEnabled()
    assert tab.poster_box.isChecked() and not tab.sheet_box.isChecked()
    # read-only, only what the built-in makes is shown
    assert tab.poster_box.isVisible() and tab.sheet_box.isHidden() and tab.preview_box.isHidden()
    assert tab.renditions.add_button.isHidden() and tab.renditions.rows[0].remove.isHidden()
    assert [r.name.text() for r in tab.renditions.rows] == ["1080p", "720p", "480p"]
    assert tab.builtin_banner.isVisible() and tab.duplicate_to_edit_button.isVisible()
    assert tab.save_button.isHidden()
    assert not tab.delete_button.isEnabled()
    assert tab.duplicate_button.isEnabled() and tab.export_button.isEnabled()
    assert tab.error_text() == ""


def test_headers_are_not_selectable(tab: PresetsTab) -> None:
    first = tab.list_widget.item(0)
    assert first.data(Qt.ItemDataRole.UserRole) is None
    assert not first.flags() & Qt.ItemFlag.ItemIsSelectable


def test_duplicate_creates_an_editable_copy(
    qtbot, tab: PresetsTab, catalog: PresetCatalog, presets_dir: Path
) -> None:
    _copy_of_web(qtbot, tab)
    assert (presets_dir / "web-copy.toml").is_file()
    assert tab.name_edit.isEnabled() and tab.renditions.rows[0].crf.isEnabled()
    assert tab.builtin_banner.isHidden()
    assert tab.delete_button.isEnabled()
    assert tab.sheet_box.isVisible() and tab.renditions.add_button.isVisible()
    copy = catalog.get("web-copy")
    web = catalog.get("web")
    assert copy.renditions == web.renditions and copy.poster == web.poster
    assert not copy.builtin
    # a second copy does not clash with the first
    tab.select_preset("web")
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.duplicate_button.click()
    assert tab.selected_name() == "web-copy-2"


def test_invalid_edit_shows_inline_error_and_disables_save(qtbot, tab: PresetsTab) -> None:
    _copy_of_web(qtbot, tab)
    row = tab.renditions.rows[0]
    row.short_side.setValue(721)
    assert "must be even" in tab.error_text()
    assert "Rendition 1 (1080p)" in tab.error_text()
    assert tab.error_label.isVisible() and tab.error_label.text() == tab.error_text()
    assert row.short_side.property("invalid") is True
    assert not tab.save_button.isEnabled()
    assert tab.revert_button.isEnabled()

    row.short_side.setValue(722)
    assert tab.error_text() == "" and tab.error_label.isHidden()
    assert row.short_side.property("invalid") is False
    assert tab.save_button.isEnabled()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.name_edit.setText("Bad Name"), "lowercase letters"),
        (lambda t: t.name_edit.setText("audio"), "already used by a built-in"),
        (lambda t: t.renditions.rows[1].name.setText("1080p"), "must be unique"),
        (lambda t: t.renditions.rows[0].crf.setValue(55), "out of range for h264"),
        (lambda t: t.renditions.rows[0].audio_bitrate.setCurrentText("loud"), "like 128k"),
        (lambda t: t.renditions.rows[0].max_fps.setCurrentText("fast"), "valid number"),
    ],
)
def test_each_kind_of_problem_is_reported(qtbot, tab: PresetsTab, edit, expected: str) -> None:
    _copy_of_web(qtbot, tab)
    edit(tab)
    assert expected in tab.error_text()
    assert not tab.save_button.isEnabled()


def test_crf_range_follows_the_codec(qtbot, tab: PresetsTab) -> None:
    _copy_of_web(qtbot, tab)
    row = tab.renditions.rows[0]
    row.crf.setValue(60)
    assert "out of range" in tab.error_text()
    assert row.crf.property("invalid") is True
    row.codec.set_key("vp9")
    assert tab.error_text() == ""
    assert tab.form_data()["renditions"][0]["codec"] == "vp9"


def test_a_preset_that_makes_nothing_is_reported(qtbot, tab: PresetsTab) -> None:
    _copy_of_web(qtbot, tab)
    for _ in range(3):
        tab.renditions.rows[0].remove.click()
    tab.poster_box.setChecked(False)
    assert "makes nothing" in tab.error_text()
    tab.remux_box.setChecked(True)
    assert tab.error_text() == ""


def test_another_users_preset_name_clashes(qtbot, tab: PresetsTab) -> None:
    _copy_of_web(qtbot, tab)
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.new_button.click()
    assert tab.selected_name() == "new-preset"
    tab.name_edit.setText("web-copy")
    assert "another of your presets" in tab.error_text()
    assert tab.name_edit.property("invalid") is True
    assert not tab.save_button.isEnabled()


def test_save_writes_a_file_that_loads_back_equal(
    qtbot, tab: PresetsTab, catalog: PresetCatalog, presets_dir: Path
) -> None:
    _copy_of_web(qtbot, tab)
    tab.description_edit.setText("smaller and a gif")
    tab.renditions.rows[0].crf.setValue(28)
    tab.renditions.rows[0].speed.set_key("slow")
    tab.renditions.rows[2].max_fps.setCurrentText("30")
    tab.renditions.add_button.click()
    tab.preview_box.setChecked(True)
    tab.preview_format.set_key("gif")
    tab.preview_seconds.setValue(3.0)
    tab.poster_at.setValue(25.0)
    expected = parse_preset(tab.form_data(), source="test")
    assert tab.is_dirty() and tab.save_button.isEnabled()

    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.save_button.click()

    saved = load_preset_file(presets_dir / "web-copy.toml")
    assert saved == expected
    assert saved.renditions[0].crf == 28 and saved.renditions[2].max_fps == 30.0
    assert len(saved.renditions) == 4 and saved.renditions[3].short_side == 320
    assert saved.preview is not None and saved.preview.format == "gif"
    assert saved.poster is not None and saved.poster.at == 0.25
    assert catalog.get("web-copy") == saved
    # the selection stays and the form is clean again
    assert tab.selected_name() == "web-copy"
    assert tab.list_widget.currentItem().data(Qt.ItemDataRole.UserRole) == "web-copy"
    assert not tab.is_dirty() and not tab.save_button.isEnabled()
    assert "Saved" in tab.status_label.text()


def test_renaming_moves_the_file(qtbot, tab: PresetsTab, presets_dir: Path) -> None:
    _copy_of_web(qtbot, tab)
    tab.name_edit.setText("small")
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.save()
    assert (presets_dir / "small.toml").is_file()
    assert not (presets_dir / "web-copy.toml").exists()
    assert tab.selected_name() == "small"


def test_revert_discards_edits(qtbot, tab: PresetsTab, presets_dir: Path) -> None:
    _copy_of_web(qtbot, tab)
    before = (presets_dir / "web-copy.toml").read_bytes()
    tab.renditions.rows[0].short_side.setValue(721)
    tab.revert_button.click()
    assert tab.renditions.rows[0].short_side.value() == 1080
    assert tab.error_text() == "" and not tab.is_dirty()
    assert (presets_dir / "web-copy.toml").read_bytes() == before


def test_delete_asks_inline_then_removes(
    qtbot, tab: PresetsTab, catalog: PresetCatalog, presets_dir: Path
) -> None:
    _copy_of_web(qtbot, tab)
    tab.delete_button.click()
    assert tab.message_bar.kind == "warning" and "Delete 'web-copy'" in tab.message_bar.text()
    assert (presets_dir / "web-copy.toml").exists()  # nothing happens before confirming
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.message_bar.action("delete").click()
    assert not (presets_dir / "web-copy.toml").exists()
    assert "web-copy" not in catalog.all and tab._item_for("web-copy") is None
    assert tab.selected_name() in catalog.builtin
    assert tab.message_bar.text() == ""


def test_new_preset_is_valid_and_saved(qtbot, tab: PresetsTab, presets_dir: Path) -> None:
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.new_button.click()
    assert tab.selected_name() == "new-preset"
    assert load_preset_file(presets_dir / "new-preset.toml").renditions[0].short_side == 720
    assert tab.name_edit.isEnabled() and tab.error_text() == ""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_valid_file(
    qtbot, tab: PresetsTab, tmp_path: Path, presets_dir: Path, monkeypatch
) -> None:
    src = _write(
        tmp_path / "tiny.toml",
        'description = "one small file"\n[[renditions]]\nname = "360p"\nshort_side = 360\n',
    )
    monkeypatch.setattr(tab, "_ask_import_path", lambda: str(src))
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.import_button.click()
    assert load_preset_file(presets_dir / "tiny.toml").description == "one small file"
    assert tab.selected_name() == "tiny"
    assert tab.message_bar.kind == "ok" and "tiny.toml" in tab.message_bar.text()


def test_import_invalid_file_saves_nothing(
    qtbot, tab: PresetsTab, tmp_path: Path, presets_dir: Path, monkeypatch
) -> None:
    src = _write(tmp_path / "odd.toml", '[[renditions]]\nname = "odd"\nshort_side = 721\n')
    monkeypatch.setattr(tab, "_ask_import_path", lambda: str(src))
    with qtbot.assertNotEmitted(tab.presets_changed):
        tab.import_button.click()
    assert tab.message_bar.kind == "error"
    assert "odd.toml: renditions[0].short_side: must be even" in tab.message_bar.text()
    assert not presets_dir.exists() or list(presets_dir.iterdir()) == []


def test_import_of_broken_toml_is_reported(
    qtbot, tab: PresetsTab, tmp_path: Path, monkeypatch
) -> None:
    src = _write(tmp_path / "broken.toml", "name = \n")
    monkeypatch.setattr(tab, "_ask_import_path", lambda: str(src))
    with qtbot.assertNotEmitted(tab.presets_changed):
        tab.import_preset()
    assert "not valid TOML" in tab.message_bar.text()


def test_import_with_a_taken_name_is_renamed(
    qtbot, tab: PresetsTab, tmp_path: Path, presets_dir: Path, monkeypatch
) -> None:
    src = _write(tmp_path / "mine.toml", 'name = "web"\n[remux]\ncontainer = "mp4"\n')
    monkeypatch.setattr(tab, "_ask_import_path", lambda: str(src))
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.import_preset()
    assert tab.selected_name() == "web-2"
    assert load_preset_file(presets_dir / "web-2.toml").remux is not None
    assert "'web' is taken" in tab.message_bar.text()


def test_cancelled_file_dialogs_do_nothing(qtbot, tab: PresetsTab, monkeypatch) -> None:
    monkeypatch.setattr(tab, "_ask_import_path", lambda: "")
    monkeypatch.setattr(tab, "_ask_export_path", lambda suggested: "")
    with qtbot.assertNotEmitted(tab.presets_changed):
        tab.import_preset()
        tab.export_selected()
    assert tab.message_bar.text() == ""


def test_export_writes_a_file_that_parses_back(
    qtbot, tab: PresetsTab, catalog: PresetCatalog, tmp_path: Path, monkeypatch
) -> None:
    asked: list[str] = []

    def ask(suggested: str) -> str:
        asked.append(suggested)
        return str(tmp_path / "exported")  # no suffix: .toml is added

    monkeypatch.setattr(tab, "_ask_export_path", ask)
    tab.select_preset("thumbnails")
    tab.export_button.click()
    assert asked and asked[0].endswith("thumbnails.toml")
    out = tmp_path / "exported.toml"
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert parse_preset(data, source=out.name) == catalog.get("thumbnails").model_copy(
        update={"builtin": False}
    )
    assert tab.message_bar.kind == "ok"


def test_switching_with_unsaved_edits_asks_inline_discard(
    qtbot, tab: PresetsTab, presets_dir: Path
) -> None:
    _copy_of_web(qtbot, tab)
    before = (presets_dir / "web-copy.toml").read_bytes()
    tab.renditions.rows[0].crf.setValue(30)
    assert not tab.select_preset("audio")
    assert tab.selected_name() == "web-copy"  # still here, edits kept
    assert tab.renditions.rows[0].crf.value() == 30
    assert tab.message_bar.kind == "warning" and "Unsaved changes" in tab.message_bar.text()
    tab.message_bar.action("discard").click()
    assert tab.selected_name() == "audio"
    assert (presets_dir / "web-copy.toml").read_bytes() == before
    assert tab.message_bar.text() == ""


def test_switching_with_unsaved_edits_can_save_first(
    qtbot, tab: PresetsTab, presets_dir: Path
) -> None:
    _copy_of_web(qtbot, tab)
    tab.renditions.rows[0].crf.setValue(30)
    tab.select_preset("audio")
    with qtbot.waitSignal(tab.presets_changed, timeout=2000):
        tab.message_bar.action("save").click()
    assert tab.selected_name() == "audio"
    assert load_preset_file(presets_dir / "web-copy.toml").renditions[0].crf == 30


def test_unsaved_bar_cannot_save_an_invalid_form(qtbot, tab: PresetsTab) -> None:
    _copy_of_web(qtbot, tab)
    tab.renditions.rows[0].short_side.setValue(721)
    tab.new_preset()  # guarded like a switch
    assert tab.selected_name() == "web-copy"
    assert not tab.message_bar.action("save").isEnabled()
    tab.renditions.rows[0].short_side.setValue(722)  # fixing it enables the bar's Save
    assert tab.message_bar.action("save").isEnabled()
    tab.message_bar.dismiss()  # keep editing
    assert tab.selected_name() == "web-copy" and tab.is_dirty()


def test_broken_user_files_are_reported(qtbot, presets_dir: Path) -> None:
    presets_dir.mkdir(parents=True, exist_ok=True)
    _write(presets_dir / "bad.toml", "[poster]\nwidth = 2\n")
    widget = PresetsTab(PresetCatalog(resource("presets"), presets_dir))
    qtbot.addWidget(widget)
    assert widget.message_bar.kind == "warning"
    assert "bad.toml: poster.width" in widget.message_bar.text()
    assert widget.message_bar.sticky


def test_theme_switch_restyles_without_trouble(qtbot, tab: PresetsTab) -> None:
    _copy_of_web(qtbot, tab)
    tab.renditions.rows[0].short_side.setValue(721)
    tab.delete_selected()  # a bar is showing too
    app = QApplication.instance()
    try:
        apply_theme(app, "dark")
        qtbot.wait(10)
        dark_color = tab.error_label.styleSheet()
        apply_theme(app, "light")
        qtbot.wait(10)
        assert tab.error_label.styleSheet() != dark_color
        assert "must be even" in tab.error_text()
    finally:
        apply_theme(app, "system")
