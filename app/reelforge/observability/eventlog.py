"""Every bus event, written as one JSON line to the structured log (see jsonlog.py), with its
time (UTC) and its job and batch ids: events that carry only a job id get the batch from the
JobsQueued that announced the job.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from reelforge.domain.events import AlertRaised, Event, JobFinished, JobsQueued
from reelforge.domain.jobs import JobStatus
from reelforge.observability.jsonlog import EVENTS_LOGGER, JsonLogHandler, dumps, utc_stamp

Clock = Callable[[], float]
_TERMINAL = {s.value for s in JobStatus if s.terminal}
DETAILED_JOBS = 100
_SCALARS = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """What dataclasses.asdict makes of a field value, as far as JSON can tell: nested
    dataclasses become dicts, containers are walked, anything else is left for dumps()."""
    if isinstance(value, _SCALARS):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _event_fields(event: Event) -> dict[str, Any]:
    """event.to_dict() without asdict's deep copy: the line is dumped at once and dropped, and
    asdict copied every field of every event (a third of the log's cost per line)."""
    cls = type(event)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(event))
    fields: dict[str, Any] = {"event": cls.__name__}
    for name in names:
        value = getattr(event, name)
        fields[name] = value if isinstance(value, _SCALARS) else _plain(value)
    return fields


def event_line(event: Event, ts: float, batch_id: int | None) -> dict[str, Any]:
    """The JSON object for one event: time, level, kind, name, job and batch ids, its fields."""
    if isinstance(event, JobsQueued):
        # A drop of 10,000 files is one event: the ids always (for --job), the details of each
        # job only for small ones (the history has them all; JSON of 10,000 dicts costs ~40 ms
        # on the bus thread).
        fields: dict[str, Any] = {"event": "JobsQueued", "batch_id": event.batch_id}
        fields["job_ids"] = [j.job_id for j in event.jobs]
        if len(event.jobs) <= DETAILED_JOBS:
            fields["jobs"] = [
                {"job_id": j.job_id, "kind": j.kind, "preset": j.preset, "label": j.label,
                 "source": j.source}
                for j in event.jobs
            ]  # fmt: skip
    else:
        fields = _event_fields(event)
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
    """Subscribes to every event and writes it at once, on the bus thread.

    No writer thread on purpose: a Python thread that allocates a lot lets the cycle collector
    run there and finalize Qt objects of the GUI thread (a crash seen in the UI tests). A line
    costs tens of microseconds; a drop's JobsQueued of 10,000 jobs ~20 ms (built by hand, not
    with dataclasses.asdict).
    """

    def __init__(self, bus: Any, *, clock: Clock | None = None) -> None:
        import time

        self._clock = clock or time.time
        self._batch_of: dict[str, int] = {}
        self._logger = logging.getLogger(EVENTS_LOGGER)
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
        if not self._logger.handlers:
            return
        try:
            self._write(event_line(event, self._clock(), batch_id))
        except Exception:  # a bad event must not stop the log, nor the bus
            logging.getLogger("reelforge.eventlog").exception("could not log an event")

    def flush(self) -> None:
        for handler in self._logger.handlers:
            handler.flush()

    def close(self) -> None:
        self.flush()

    def _write(self, line: dict[str, Any]) -> None:
        text = dumps(line)
        handlers = self._logger.handlers
        if (
            len(handlers) == 1
            and type(handlers[0]) is JsonLogHandler
            and handlers[0].level <= logging.INFO
            and self._logger.isEnabledFor(logging.INFO)
            and not self._logger.disabled
            and not self._logger.filters
            and not handlers[0].filters
        ):
            # The usual case, our own file alone: the ready line goes straight to it, without
            # a LogRecord (~half of a line's cost). Same file, same line, same rotation.
            handlers[0].write_line(text)
            return
        record = self._logger.makeRecord(
            EVENTS_LOGGER, logging.INFO, __file__, 0, line["event"], None, None
        )
        record.json_line = text
        self._logger.handle(record)
