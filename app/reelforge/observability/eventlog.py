"""Every bus event, written as one JSON line to the structured log (see jsonlog.py).

The subscriber itself only stamps the time and the batch id on the bus thread; turning an event
into JSON and writing it happens on a writer thread, so a drop of 10,000 files (one JobsQueued
event with 10,000 jobs) never stalls the window on disk I/O.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from reelforge.domain.events import AlertRaised, Event, JobFinished, JobsQueued
from reelforge.domain.jobs import JobStatus
from reelforge.observability.jsonlog import EVENTS_LOGGER, dumps, utc_stamp

Clock = Callable[[], float]
_TERMINAL = {s.value for s in JobStatus if s.terminal}


def event_line(event: Event, ts: float, batch_id: int | None) -> dict[str, Any]:
    """The JSON object for one event: time, level, kind, name, job and batch ids, its fields."""
    fields = event.to_dict()
    name = fields.pop("event")
    level = "info"
    if isinstance(event, JobFinished) and event.status == JobStatus.FAILED.value:
        level = "warning"
    elif isinstance(event, AlertRaised):
        level = "error" if event.severity == "critical" else "warning"
    return {
        "ts": utc_stamp(ts),
        "level": level,
        "kind": "event",
        "event": name,
        "job_id": fields.pop("job_id", None),
        "batch_id": fields.pop("batch_id", batch_id),
        **fields,
    }


class EventLog:
    """Subscribes to every event; `flush()` waits until what was published is on disk."""

    def __init__(self, bus: Any, *, clock: Clock | None = None) -> None:
        import time

        self._clock = clock or time.time
        self._batch_of: dict[str, int] = {}
        self._queue: queue.Queue[tuple[float, Event, int | None] | None] = queue.Queue()
        self._logger = logging.getLogger(EVENTS_LOGGER)
        self._thread = threading.Thread(target=self._write_loop, name="rf-eventlog", daemon=True)
        self._thread.start()
        bus.subscribe_all(self.handle)

    def handle(self, event: Event) -> None:
        batch_id: int | None = getattr(event, "batch_id", None)
        if isinstance(event, JobsQueued):
            self._batch_of.update((j.job_id, event.batch_id) for j in event.jobs)
        job_id = getattr(event, "job_id", None)
        if batch_id is None and job_id is not None:
            batch_id = self._batch_of.get(job_id)
            if isinstance(event, JobFinished) and event.status in _TERMINAL:
                self._batch_of.pop(job_id, None)  # a retry announces it again (JobsQueued)
        self._queue.put((self._clock(), event, batch_id))

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                ts, event, batch_id = item
                self._write(event_line(event, ts, batch_id))
            except Exception:  # a bad event must not stop the log
                logging.getLogger("reelforge.eventlog").exception("could not log an event")
            finally:
                self._queue.task_done()

    def _write(self, line: dict[str, Any]) -> None:
        if not self._logger.handlers:
            return
        record = self._logger.makeRecord(
            EVENTS_LOGGER, logging.INFO, __file__, 0, line["event"], None, None
        )
        record.json_line = dumps(line)
        self._logger.handle(record)
