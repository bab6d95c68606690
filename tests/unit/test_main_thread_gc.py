"""Cyclic garbage holding QObjects must be finalized on the Qt main thread, never a pool thread.

The scenario below is what crashed CI runs: a service with a running QTimer sits in a reference
cycle; a pool thread allocates, Python's collector trips on that thread and destroys the timer
there; the main thread's event loop later fires the dangling timer and dies in C++.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading

import pytest

SCENARIO = textwrap.dedent(
    """
    import sys, threading
    from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer

    qt = QCoreApplication([])
    if sys.argv[1] == "guarded":
        from reelforge.main_thread_gc import install
        install()

    class Service(QObject):
        def __init__(self):
            super().__init__()
            self.timer = QTimer(self)
            self.timer.setInterval(5)
            self.timer.timeout.connect(self.tick)
            self.timer.start()
            self.me = self  # a cycle: only the cyclic collector can free it

        def tick(self):
            pass

    for _ in range(50):
        Service()

    class Node:
        def __init__(self):
            self.me = self

    def pool_thread_work():  # allocations like a log reader's: enough to trip the collector
        for _ in range(200_000):
            Node()

    worker = threading.Thread(target=pool_thread_work)
    worker.start()
    worker.join()
    loop = QEventLoop()
    QTimer.singleShot(1200, loop.quit)  # long enough for the timers and the collector to run
    loop.exec()
    print("survived", flush=True)
    """
)


def run_scenario(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCENARIO, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def test_without_the_guard_a_pool_thread_destroys_qt_timers() -> None:
    # The hazard is real in this Python and Qt: the control for the test below.
    run = run_scenario("unguarded")
    assert "Timers cannot be stopped from another thread" in run.stderr


def test_with_the_guard_qobjects_die_on_the_main_thread_and_the_loop_survives() -> None:
    run = run_scenario("guarded")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "survived" in run.stdout
    assert "another thread" not in run.stderr


@pytest.mark.usefixtures("qapp")
def test_collector_collects_on_the_main_thread_with_pythons_thresholds() -> None:
    from reelforge.main_thread_gc import install

    collector = install()
    assert install() is collector  # one per application
    assert not gc.isenabled()

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    gc.collect()
    threshold0 = gc.get_threshold()[0]
    for _ in range(threshold0 + 10):
        Cycle()
    assert collector.check() >= threshold0  # generation 0 was over its threshold: collected
    assert collector.check() == 0  # and nothing is over it now


@pytest.mark.usefixtures("qapp")
def test_collector_refuses_to_run_off_the_main_thread() -> None:
    from reelforge.main_thread_gc import install

    collector = install()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            collector.check()
        except RuntimeError as err:
            errors.append(err)

    t = threading.Thread(target=call)
    t.start()
    t.join()
    assert errors and "main thread" in str(errors[0])


@pytest.mark.usefixtures("qapp")
def test_a_full_collection_waits_twenty_times_its_last_duration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reelforge import main_thread_gc

    clock = [1000.0]
    ran: list[int] = []

    def fake_collect(generation: int = 2) -> int:
        ran.append(generation)
        if generation == 2:
            clock[0] += 0.05  # a full collection of a big heap: 50 ms
        return 0

    thresholds = gc.get_threshold()
    over = (thresholds[0] + 1, thresholds[1] + 1, thresholds[2] + 1)
    monkeypatch.setattr(main_thread_gc.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(main_thread_gc.gc, "collect", fake_collect)
    monkeypatch.setattr(main_thread_gc.gc, "get_count", lambda: over)
    collector = main_thread_gc.MainThreadCollector()
    collector.check()
    assert ran == [0, 1, 2]
    ran.clear()
    clock[0] += 0.9  # less than 20 x 50 ms after it ended: generations 0 and 1 only
    collector.check()
    assert ran == [0, 1]
    ran.clear()
    clock[0] += 0.2
    collector.check()
    assert ran == [0, 1, 2]
    collector.uninstall()
    gc.disable()  # the session's own collector is still installed: keep its rule
