"""The "Run jobs on: this computer / cluster at URL" setting, and that build() obeys it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from reelforge.config import Settings, load_settings, save_settings
from reelforge.ui.settings_dialog import SettingsDialog


def test_run_on_cluster_is_saved_and_shown_again(qtbot: Any, reelforge_home: Path) -> None:
    path = reelforge_home / "settings.toml"
    dlg = SettingsDialog(Settings(), path)
    qtbot.addWidget(dlg)
    assert dlg.run_on_combo.currentData() == "local"
    assert not dlg.broker_edit.isEnabled()
    dlg.run_on_combo.setCurrentIndex(dlg.run_on_combo.findData("cluster"))
    assert dlg.broker_edit.isEnabled()
    dlg.broker_edit.setText("  redis://nas.local:6379/0 ")
    dlg.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert load_settings(path).broker_url == "redis://nas.local:6379/0"
    again = SettingsDialog(load_settings(path), path)
    qtbot.addWidget(again)
    assert again.run_on_combo.currentData() == "cluster"
    again.run_on_combo.setCurrentIndex(again.run_on_combo.findData("local"))
    assert again.current().broker_url == ""  # this computer: no broker


@pytest.mark.parametrize("where", ["setting", "flag"])
def test_build_picks_the_executor_from_the_broker(
    qapp: Any, reelforge_home: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from reelforge.bootstrap import build
    from reelforge.executors.cluster import CeleryExecutor
    from reelforge.executors.local import LocalExecutor

    monkeypatch.delenv("REELFORGE_BROKER", raising=False)
    local = build()
    try:
        assert isinstance(local.executor, LocalExecutor)
    finally:
        local.close()
    url = "redis://127.0.0.1:9/0"  # nothing listens there: building must not need the broker
    if where == "setting":
        save_settings(reelforge_home / "settings.toml", replace(Settings(), broker_url=url))
    cluster = build(broker=url if where == "flag" else None)
    try:
        assert isinstance(cluster.executor, CeleryExecutor)
    finally:
        cluster.close()
