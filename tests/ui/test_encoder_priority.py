"""The desktop app runs ffmpeg below its own priority, so encodes that fill every core leave the
GUI thread a CPU when its timers wake it (bench_ui --diagnose measured ~20 ms waits before).
The CLI keeps ffmpeg at its own priority. Nice values are read from Linux /proc."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from checkers import ffmpeg_children
from mediagen import FFMPEG
from reelforge.bootstrap import build
from reelforge.media import process
from reelforge.media.process import CancelToken, child_priority, run_ffmpeg, set_child_priority
from reelforge.ui.app import ENCODER_NICE, DesktopApp
from reelforge.ui.main_window import QuitChoice

linux_only = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="nice values are read from Linux /proc"
)


@pytest.fixture(autouse=True)
def restore_child_priority() -> Iterator[None]:
    before = child_priority()
    yield
    set_child_priority(before)


def nice_of(pid: int, tid: int | None = None) -> int:
    """Field 19 of /proc/<pid>[/task/<tid>]/stat."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    text = Path(path).read_text()
    return int(text.rpartition(")")[2].split()[16])


def ffmpeg_child() -> int | None:
    children = ffmpeg_children(os.getpid())
    return children[0] if children else None


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_the_desktop_app_lowers_its_encoders(qapp: QApplication, qtbot, monkeypatch) -> None:
    set_child_priority(0)  # what the CLI runs with
    monkeypatch.setattr(QApplication, "exit", lambda *a: None)  # keep pytest-qt's app alive
    app = DesktopApp(qapp, build())
    app.window.ask_quit = lambda: QuitChoice.STOP
    qtbot.addWidget(app.window)
    try:
        assert child_priority() == ENCODER_NICE == 10
    finally:
        app.quit()


def test_priority_steps_are_clamped() -> None:
    set_child_priority(-5)
    assert child_priority() == 0
    set_child_priority(40)
    assert child_priority() == 19


@linux_only
@pytest.mark.parametrize("steps", [0, 10])
def test_ffmpeg_and_all_its_threads_run_that_many_steps_lower(steps: int) -> None:
    set_child_priority(steps)
    own = os.getpriority(os.PRIO_PROCESS, 0)
    cancel = CancelToken()
    # A realtime source (-re) keeps ffmpeg alive for a while; x264 with 2 threads shows that
    # the threads ffmpeg starts after the spawn inherit the lowered priority.
    args = ["-re", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=20", "-c:v", "libx264",
            "-preset", "ultrafast", "-threads", "2", "-f", "null", "-"]  # fmt: skip
    runner = threading.Thread(
        target=run_ffmpeg, args=(str(FFMPEG), args), kwargs={"duration": 20, "cancel": cancel}
    )
    runner.start()
    try:
        assert wait_for(lambda: ffmpeg_child() is not None, 10), "ffmpeg never started"
        pid = ffmpeg_child()
        assert pid is not None
        tasks = Path(f"/proc/{pid}/task")
        assert wait_for(lambda: len(list(tasks.iterdir())) > 1, 10), "ffmpeg started no thread"
        wanted = min(19, own + steps)
        assert {nice_of(pid, int(t.name)) for t in tasks.iterdir()} == {wanted}
    finally:
        cancel.cancel()
        runner.join(timeout=20)
    assert not runner.is_alive()


@linux_only
def test_a_child_gone_before_it_is_lowered_is_not_an_error() -> None:
    set_child_priority(10)
    process._lower_priority(2**22 + 12345)  # no such pid: logged, not raised
