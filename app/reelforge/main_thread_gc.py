"""Python's cyclic garbage collector runs on the Qt main thread only.

Left alone, the collector runs on whichever thread happens to allocate when a threshold trips:
often a pool thread reading ffmpeg's output. If the garbage it finds holds a QObject (a bus, a
service with a QTimer, a widget), the C++ destructor then runs on a thread that does not own
the object. Qt cannot stop a timer from another thread ("Timers cannot be stopped from another
thread"), so the timer stays registered against freed memory and the main thread crashes the
next time it fires: a segfault or abort inside the event loop with no Python frame to blame.
tests/unit/test_main_thread_gc.py reproduces exactly that without this module.

So automatic collection is switched off and a QTimer on the main thread collects instead,
generation by generation with Python's own thresholds: the same work, on the right thread.
Calibre and other long-lived PyQt/PySide apps do the same. Python also holds back a full
collection until the long-lived objects have grown by a quarter (the count it keeps for that is
not visible from Python); here a full collection waits instead until 20 times its last duration
has passed, so with 10,000 jobs in the window it takes at most 5 % of the GUI thread.
"""

from __future__ import annotations

import gc
import threading
import time

from PySide6.QtCore import QCoreApplication, QObject, QTimer

_PROPERTY = "reelforge_main_thread_gc"


class MainThreadCollector(QObject):
    INTERVAL_MS = 500
    FULL_DUTY = 20  # a full collection waits this many times its last duration

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._owner = threading.get_ident()
        self._thresholds = gc.get_threshold()
        self._full_allowed_at = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self.check)
        gc.disable()
        self._timer.start()

    def check(self) -> int:
        """Collect the generations whose thresholds are exceeded, as Python itself would.
        Returns how many unreachable objects were found. Main thread only."""
        if threading.get_ident() != self._owner:
            raise RuntimeError("MainThreadCollector.check() called off the main thread")
        found = 0
        counts = gc.get_count()
        if counts[0] > self._thresholds[0]:
            found += gc.collect(0)
            if counts[1] > self._thresholds[1]:
                found += gc.collect(1)
                if counts[2] > self._thresholds[2] and time.monotonic() >= self._full_allowed_at:
                    began = time.monotonic()
                    found += gc.collect(2)
                    took = time.monotonic() - began
                    self._full_allowed_at = began + took * (1 + self.FULL_DUTY)
        return found

    def uninstall(self) -> None:
        self._timer.stop()
        gc.enable()


def install() -> MainThreadCollector:
    """Once per Q(Core)Application, from its thread; later calls return the same collector."""
    qt = QCoreApplication.instance()
    if qt is None:
        raise RuntimeError("install() needs a Q(Core)Application")
    existing = qt.findChild(MainThreadCollector, _PROPERTY)
    if isinstance(existing, MainThreadCollector):
        return existing
    collector = MainThreadCollector(qt)
    collector.setObjectName(_PROPERTY)
    return collector
