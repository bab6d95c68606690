"""The screenshot tool: every state grabbed, at the window's size, the busy one really busy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from reelforge.ui import screenshots

WINDOW_SHOTS = (
    "01-empty.png",
    "02-busy-queue.png",
    "03-history.png",
    "04-presets-editor.png",
    "05-presets-editor-error.png",
    "07-dark-queue.png",
    "08-dark-history.png",
)


@pytest.mark.timeout(120)
def test_quick_run_writes_every_state(
    qapp, tmp_path: Path, reelforge_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shots"
    assert screenshots.main([str(out), "--quick"]) == 0

    printed = capsys.readouterr().out.split()
    manifest = json.loads((out / "screenshots.json").read_text(encoding="utf-8"))
    expected = [*WINDOW_SHOTS, "06-settings.png"]
    if manifest["skipped"]:
        assert manifest["skipped"] == ["09-tray-menu.png (no system tray)"]
    else:
        expected.append("09-tray-menu.png")
    assert sorted(Path(f).name for f in manifest["files"]) == sorted(expected)
    assert sorted(Path(f).name for f in printed) == sorted(expected)

    for name in expected:
        path = out / name
        image = QImage(str(path))
        assert not image.isNull(), name
        if name in WINDOW_SHOTS:
            assert path.stat().st_size > 10_000, name
            assert (image.width(), image.height()) == (screenshots.WIDTH, screenshots.HEIGHT)
        elif name == "06-settings.png":
            assert path.stat().st_size > 10_000, name
            assert image.width() >= 400 and image.height() >= 300, name
        else:  # the tray menu: a small popup of four entries
            assert path.stat().st_size > 1_000, name
            assert image.width() >= 80 and image.height() >= 60, name
    # Light and dark are different pictures of the same moment.
    assert QImage(str(out / "02-busy-queue.png")) != QImage(str(out / "07-dark-queue.png"))

    busy = manifest["busy"]
    assert busy["running"] >= 1, busy  # grabbed while a job was running
    assert busy["failed"] >= 1 and busy["posters"] >= 1 and busy["done"] >= 1, busy

    # The person's own data folder (here the test's) was never used.
    assert not (reelforge_home / "history.sqlite3").exists()
