"""The local driver of the schedules in watch/schedule.py: heavy-lane hours and housekeeping.

Heavy hours: outside the allowed windows the heavy lane is paused (running encodes finish;
none start) and resumed when a window opens, each time with a reason the person sees. If the
lane is resumed by anything but the person while outside the hours (the disk gate's own
resume, say), it is paused again; a person's explicit resume wins until the next window change.
Housekeeping runs at start and then every PERIODS[...] seconds, on a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QTimer

from reelforge.config import Paths, Settings
from reelforge.domain.events import HousekeepingDone, QueueStateChanged
from reelforge.domain.jobs import Lane
from reelforge.storage.monitoring import MonitoringStore
from reelforge.watch.housekeeping import run_housekeeping
from reelforge.watch.schedule import (
    HOUSEKEEPING,
    PERIODS,
    Window,
    describe,
    due,
    heavy_allowed,
    parse_hours,
)

log = logging.getLogger("reelforge.schedule")
RESUMED_BY_PERSON = "resumed by you"  # what the window and the tray say (main_window.py)


class SchedulerService(QObject):
    TICK_MS = 30_000

    def __init__(
        self,
        bus: object,
        executor: object,
        settings: Callable[[], Settings],
        store: MonitoringStore,
        paths: Paths,
        *,
        clock: Callable[[], float] = time.time,
        local_now: Callable[[], datetime] = datetime.now,
    ) -> None:
        super().__init__()
        self._bus, self._executor, self._settings = bus, executor, settings
        self._store, self._paths = store, paths
        self._clock, self._local_now = clock, local_now
        self._outside = False  # heavy jobs not allowed now
        self._holding = False  # the heavy lane is paused by us
        self._overridden = False  # a person resumed it outside the hours
        self._last_run: dict[str, float] = {}
        self._housekeeping: threading.Thread | None = None
        self.problem: str | None = None  # a one-line settings problem, for the person
        self._timer = QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(self.tick)
        bus.subscribe(QueueStateChanged, self._on_queue_state)  # type: ignore[attr-defined]

    def start(self) -> None:
        self._timer.start()
        self.tick()

    def stop(self) -> None:
        self._timer.stop()
        if self._housekeeping is not None:
            self._housekeeping.join(timeout=10)

    def windows(self) -> tuple[Window, ...]:
        try:
            windows = parse_hours(self._settings().heavy_hours)
            self.problem = None
            return windows
        except ValueError as err:
            if self.problem != str(err):
                log.warning("%s; heavy jobs may start at any time", err)
            self.problem = str(err)
            return ()

    def _reason(self, windows: tuple[Window, ...]) -> str:
        return f"outside heavy-job hours ({describe(windows)})"

    def tick(self) -> None:
        self._enforce_hours()
        for task in due(PERIODS, self._last_run, self._clock()):
            self._last_run[task] = self._clock()
            if task == HOUSEKEEPING:
                self.run_housekeeping()

    # -- heavy hours -------------------------------------------------------------------------
    def _enforce_hours(self) -> None:
        windows = self.windows()
        outside = not heavy_allowed(windows, self._local_now())
        if outside == self._outside:
            return
        self._outside, self._overridden = outside, False
        paused = self._executor.is_paused(Lane.HEAVY)  # type: ignore[attr-defined]
        if outside:
            self._holding = not paused  # someone else's pause: re-pause when they resume
            if not paused:
                self._executor.pause(Lane.HEAVY, self._reason(windows))  # type: ignore[attr-defined]
        elif self._holding:
            self._holding = False
            if paused:
                self._executor.resume(  # type: ignore[attr-defined]
                    Lane.HEAVY, f"heavy-job hours began ({describe(windows)})"
                )

    def _on_queue_state(self, event: QueueStateChanged) -> None:
        if event.lane != Lane.HEAVY.value or event.paused or not self._outside:
            return
        if event.reason == RESUMED_BY_PERSON:
            self._overridden, self._holding = True, False
            return
        if not self._overridden:
            self._holding = True
            self._executor.pause(Lane.HEAVY, self._reason(self.windows()))  # type: ignore[attr-defined]

    # -- housekeeping ------------------------------------------------------------------------
    def run_housekeeping(self, *, wait: bool = False) -> None:
        if self._housekeeping is not None and self._housekeeping.is_alive():
            return
        settings = self._settings()
        folders = settings.output_folders()
        now = self._clock()

        def work() -> None:
            try:
                jobs, logs, temps = run_housekeeping(
                    self._store,
                    self._paths.job_logs,
                    folders,
                    history_days=settings.history_days,
                    log_days=settings.log_days,
                    now=now,
                )
            except Exception:
                log.exception("housekeeping failed")
                return
            self._bus.publish(HousekeepingDone(jobs, logs, temps))  # type: ignore[attr-defined]

        self._housekeeping = threading.Thread(target=work, name="rf-housekeeping", daemon=True)
        self._housekeeping.start()
        if wait:
            self._housekeeping.join()
