"""Files opened by the OS (macOS's QEvent.FileOpen) reach the queue; About names every version."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import PySide6
import pytest
from PySide6.QtCore import QEvent, QUrl, qVersion
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from reelforge.__about__ import __version__
from reelforge.bootstrap import build
from reelforge.ui.app import DesktopApp, FileOpenQueue
from reelforge.ui.main_window import MainWindow, QuitChoice, about_text


@pytest.fixture
def file_opens(qapp: QApplication):
    queue = FileOpenQueue.install(qapp)
    yield queue
    qapp.removeEventFilter(queue)
    queue.deleteLater()


def open_event(target: str | QUrl) -> bool:
    """What Qt does when Finder asks the app to open a file: a FileOpen sent to the app."""
    return QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(target))


def test_files_opened_before_start_wait_then_arrive_as_one_batch(file_opens, qtbot) -> None:
    received: list[list[str]] = []
    file_opens.files_opened.connect(received.append)
    assert open_event("/videos/a b.mp4") is True  # consumed: not handled anywhere else
    assert open_event(QUrl.fromLocalFile("/videos/c.mkv")) is True
    qtbot.wait(FileOpenQueue.BURST_MS * 3)
    assert received == []  # no window yet: nothing may be lost or delivered early
    assert file_opens.pending == ["/videos/a b.mp4", "/videos/c.mkv"]

    file_opens.start()
    qtbot.waitUntil(lambda: received == [["/videos/a b.mp4", "/videos/c.mkv"]], timeout=2000)
    assert file_opens.pending == []

    # After start each burst is one hand-over.
    open_event("/videos/d.mov")
    open_event("/videos/e.mov")
    qtbot.waitUntil(lambda: len(received) == 2, timeout=2000)
    assert received[1] == ["/videos/d.mov", "/videos/e.mov"]


def test_other_events_and_remote_urls_are_not_queued(file_opens, qtbot) -> None:
    received: list[list[str]] = []
    file_opens.files_opened.connect(received.append)
    file_opens.start()
    assert file_opens.eventFilter(QApplication.instance(), QEvent(QEvent.Type.User)) is False
    open_event(QUrl("https://example.com/clip.mp4"))
    qtbot.wait(FileOpenQueue.BURST_MS * 3)
    assert received == [] and file_opens.pending == []


def test_an_opened_file_is_queued_in_the_window(
    qapp: QApplication, qtbot, tmp_path: Path, monkeypatch, file_opens, tiny_clip: Path
) -> None:
    monkeypatch.setattr(QApplication, "exit", lambda *a: None)  # keep pytest-qt's app alive
    core = build()
    core.settings = replace(core.settings, output_dir=str(tmp_path / "out"))
    core.executor.pause()  # queued is enough: nothing needs to run
    app = DesktopApp(qapp, core)
    app.window.ask_quit = lambda: QuitChoice.STOP
    qtbot.addWidget(app.window)
    open_event(str(tiny_clip))  # e.g. the file that launched the app, before the window
    app.start([])
    with qtbot.waitSignal(app.window.enqueued, timeout=10000) as blocker:
        app.accept_file_opens(file_opens)
    assert blocker.args[0] > 0  # a batch was committed
    assert app.window.active_jobs() >= 1
    jobs = core.repo.history(limit=10)
    assert [Path(j.source_path) for j in jobs] == [tiny_clip]
    app.quit()


def test_about_names_app_qt_pyside_ffmpeg_and_pyav_versions(qapp, qtbot, monkeypatch) -> None:
    core = build()
    try:
        text = about_text(core)
        assert f"Reelforge {__version__}" in text
        assert f"Qt {qVersion()}" in text
        assert f"PySide6 {PySide6.__version__}" in text
        assert f"ffmpeg {core.ctx.ffmpeg_version}" in text and core.ctx.ffmpeg_version
        assert f"PyAV {av.__version__}" in text

        # The Help menu's action shows exactly that text.
        shown: list[tuple[str, str]] = []
        monkeypatch.setattr(
            QMessageBox, "about", lambda _parent, title, body: shown.append((title, body))
        )
        window = MainWindow(core)
        qtbot.addWidget(window)
        window.act_about.trigger()
        assert shown == [("About Reelforge", text)]
    finally:
        core.close(interrupt=False)
