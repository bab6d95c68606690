"""The main window with a real core (lanes paused so nothing runs unless a test wants it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from reelforge.bootstrap import build
from reelforge.domain.events import BatchFinished
from reelforge.ui.main_window import MainWindow, QuitChoice


@pytest.fixture
def core(qapp, tmp_path: Path):
    app = build()
    from dataclasses import replace

    app.settings = replace(app.settings, output_dir=str(tmp_path / "out"))
    yield app
    app.close(interrupt=False)


@pytest.fixture
def window(core, qtbot):
    w = MainWindow(core)
    qtbot.addWidget(w)
    w.show()
    return w


def add(window: MainWindow, qtbot, paths: list[str]) -> None:
    """Enqueue through the window and wait until the worker thread's result is committed."""
    with qtbot.waitSignal(window.enqueued, timeout=10000):
        window.enqueue_paths(paths)


def drop(window: MainWindow, urls: list[QUrl], qtbot=None) -> None:
    mime = QMimeData()
    mime.setUrls(urls)
    enter = QDragEnterEvent(
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    ev = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    if qtbot is None:
        window.dropEvent(ev)
        return
    with qtbot.waitSignal(window.enqueued, timeout=10000):
        window.dropEvent(ev)


def test_empty_state_then_queue(window: MainWindow, core, qtbot, landscape_clip: Path) -> None:
    assert window.windowTitle() == "Reelforge"
    assert window.queue_view.stack.currentIndex() == 0  # the inviting empty state
    core.executor.pause()
    drop(window, [QUrl.fromLocalFile(str(landscape_clip))], qtbot)
    assert window.queue_view.stack.currentIndex() == 1
    assert window.model.rowCount() == 1
    window.update_status()
    assert window.windowTitle().startswith("Reelforge — ")
    assert "1 queued" in window.windowTitle()


def test_drop_folder_reports_non_media_and_refuses_remote(
    window, core, qtbot, tmp_path, landscape_clip
) -> None:
    core.executor.pause()
    folder = tmp_path / "drop"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "clip.mp4").write_bytes(landscape_clip.read_bytes())
    for name in ("notes.txt", "cover.jpg", "readme.md"):
        (folder / name).write_text("x")
    drop(window, [QUrl.fromLocalFile(str(folder)), QUrl("https://example.com/v.mp4")], qtbot)
    assert window.model.rowCount() == 1
    text = window.banner.label.text()
    assert "3 files skipped: not media" in text or "remote URL" in text
    assert window.banner.isVisible()


def test_only_remote_urls_are_refused_with_a_message(window) -> None:
    drop(window, [QUrl("https://example.com/a.mp4")])
    assert window.model.rowCount() == 0
    assert "refused" in window.banner.label.text()


def test_a_batch_runs_to_the_end(window, core, qtbot, tiny_clip) -> None:
    add(window, qtbot, [str(tiny_clip)])
    finished: list[BatchFinished] = []
    core.bus.subscribe(BatchFinished, finished.append)
    qtbot.waitUntil(lambda: bool(finished), timeout=60000)
    c = window.model.counts()
    assert c["failed"] == 0 and c["done"] == c["total"] >= 3
    window.update_status()
    assert "done" in window.counts_label.text()
    assert window.last_output_dir and Path(window.last_output_dir).is_dir()


def test_cancel_and_retry_selected(window, core, qtbot, landscape_clip) -> None:
    core.executor.pause()
    add(window, qtbot, [str(landscape_clip)])
    tree = window.queue_view.tree
    tree.selectAll()
    window.cancel_selected()
    qtbot.waitUntil(lambda: window.model.counts()["queued"] == 0, timeout=5000)
    assert window.model.job_ids_with_status("cancelled")
    tree.selectAll()
    window.retry_selected()
    assert window.model.counts()["queued"] == 1


def test_pause_toggle_reflects_lane_state(window, core) -> None:
    window.act_pause.setChecked(True)
    window.toggle_pause()
    assert all(core.executor.is_paused(lane) for lane in _lanes())
    assert window.act_pause.text() == "Resume queue"
    window.act_pause.setChecked(False)
    window.toggle_pause()
    assert not any(core.executor.is_paused(lane) for lane in _lanes())


def test_quit_asks_only_when_jobs_are_active(
    window, core, qtbot, monkeypatch, landscape_clip
) -> None:
    asked: list[bool] = []
    monkeypatch.setattr(window, "ask_quit", lambda: asked.append(True) or QuitChoice.BACK)
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    window.close()
    assert quits == [True]  # closing the window asks the app to quit; the app decides
    core.executor.pause()
    add(window, qtbot, [str(landscape_clip)])
    assert window.active_jobs() == 1


def test_presets_chooser_keeps_at_least_one(window, core) -> None:
    actions = {a.data(): a for a in window.preset_menu.actions()}
    assert {"web", "thumbnails", "audio", "preview", "remux"} <= set(actions)
    actions["thumbnails"].setChecked(True)
    assert set(window.chosen_presets()) == {"web", "thumbnails"}
    assert set(core.settings.presets) == {"web", "thumbnails"}
    for a in window.preset_menu.actions():
        a.setChecked(False)
    assert window.chosen_presets()  # never empty


def _lanes():
    from reelforge.domain.jobs import Lane

    return (Lane.LIGHT, Lane.HEAVY)
