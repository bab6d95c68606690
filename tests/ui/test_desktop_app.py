"""The desktop app as a whole: start-up resume, quitting with jobs, hand-over from a 2nd launch."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from reelforge.bootstrap import build
from reelforge.domain.jobs import JobStatus
from reelforge.domain.plan import probe_spec
from reelforge.ui.app import DesktopApp
from reelforge.ui.main_window import QuitChoice
from reelforge.ui.single_instance import SingleInstance


@pytest.fixture
def desktop(qapp: QApplication, qtbot, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(QApplication, "exit", lambda *a: None)  # keep pytest-qt's app alive
    core = build()
    from dataclasses import replace

    core.settings = replace(core.settings, output_dir=str(tmp_path / "out"))
    app = DesktopApp(qapp, core)
    app.window.ask_quit = lambda: QuitChoice.STOP  # no modal dialog at teardown
    qtbot.addWidget(app.window)
    yield app
    if not app._quitting:
        app.quit()


def test_interrupted_jobs_are_resumed_and_marked(qapp, qtbot, monkeypatch, tiny_clip) -> None:
    # A first session leaves a job "running" (as if the app had been killed).
    first = build()
    batch = first.repo.create_batch(["web"], "/tmp/unused", "gui")
    spec = probe_spec(str(tiny_clip))
    first.repo.add_jobs(batch, None, [spec], app_version="t", ffmpeg_version=None)
    first.repo.transition(spec.id, JobStatus.RUNNING)
    first.close(interrupt=False)

    monkeypatch.setattr(QApplication, "exit", lambda *a: None)
    core = build()  # start-up recovery marks it interrupted
    assert core.repo.get_job(spec.id).status is JobStatus.INTERRUPTED
    core.executor.pause()
    app = DesktopApp(qapp, core)
    app.window.ask_quit = lambda: QuitChoice.STOP
    qtbot.addWidget(app.window)
    app.start([])
    row = app.window.model.job(spec.id)
    assert row is not None and row.resumed
    assert "Resumed 1 job" in app.window.banner.label.text()
    assert core.repo.get_job(spec.id).status is JobStatus.QUEUED
    app.quit()


def test_quit_choices(desktop: DesktopApp, qtbot, monkeypatch, landscape_clip) -> None:
    desktop.core.executor.pause()
    desktop.start([])
    with qtbot.waitSignal(desktop.window.enqueued, timeout=10000):
        desktop.window.enqueue_paths([str(landscape_clip)])
    assert desktop.window.active_jobs() == 1

    monkeypatch.setattr(desktop.window, "ask_quit", lambda: QuitChoice.BACK)
    desktop.request_quit()
    assert not desktop._quitting and desktop.window.isVisible()

    monkeypatch.setattr(desktop.window, "ask_quit", lambda: QuitChoice.TRAY)
    desktop.request_quit()
    assert not desktop._quitting and not desktop.window.isVisible()

    monkeypatch.setattr(desktop.window, "ask_quit", lambda: QuitChoice.STOP)
    desktop.request_quit()
    assert desktop._quitting
    # Queued work stays queued in the history and is resumed next time.
    job_id = desktop.window.model.job_ids_with_status("queued")[0]
    assert desktop.core.repo.get_job(job_id).status in (JobStatus.QUEUED, JobStatus.INTERRUPTED)


def test_stopping_marks_running_jobs_interrupted(desktop: DesktopApp, qtbot, tmp_path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from mediagen import make_clip

    clip = make_clip(tmp_path / "long.mp4", size="1280x720", seconds=20)
    desktop.start([])
    with qtbot.waitSignal(desktop.window.enqueued, timeout=10000):
        desktop.window.enqueue_paths([str(clip)])
    qtbot.waitUntil(
        lambda: (
            bool(desktop.window.model.job_ids_with_status("running"))
            and any(r.kind == "encode" for r in _running(desktop))
        ),
        timeout=30000,
    )
    encode = next(r for r in _running(desktop) if r.kind == "encode")
    desktop.quit()  # what "Stop and quit" does
    rec = desktop.core.repo.get_job(encode.job_id)
    assert rec.status is JobStatus.INTERRUPTED
    out = Path(desktop.core.settings.output_dir)
    assert not [p for p in out.rglob(".rftmp-*")]  # no temp file left behind


def _running(desktop: DesktopApp):
    return [
        desktop.window.model.job(j) for j in desktop.window.model.job_ids_with_status("running")
    ]


def test_second_launch_hands_its_files_over(desktop: DesktopApp, qtbot, tiny_clip, monkeypatch):
    desktop.core.executor.pause()
    desktop.start([])
    first = SingleInstance(key="reelforge-test-handover")
    assert first.listen()
    first.files_received.connect(desktop.receive)
    second = SingleInstance(key="reelforge-test-handover")
    with qtbot.waitSignal(desktop.window.enqueued, timeout=10000):
        assert second.forward([str(tiny_clip)])
    assert desktop.window.model.rowCount() == 1
    first.close()


def test_self_check_runs_the_real_app_and_ends(tmp_path: Path) -> None:
    """End to end in a subprocess: the window shows and quitting really ends the event loop
    (Qt 6's quit() is cancelled by a window that declines to close; exit() is not)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "REELFORGE_HOME": str(tmp_path)}
    env.pop("DISPLAY", None)
    res = subprocess.run(
        [sys.executable, "-m", "reelforge", "--self-check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert [x.split(":")[0] for x in lines[:4]] == [
        "ok    resources",
        "ok    database and migrations",
        "ok    ffmpeg",
        "ok    window",
    ]
    assert lines[-1] == "self-check passed"
    assert "Traceback" not in res.stderr
