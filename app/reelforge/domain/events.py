"""Events on the bus: frozen, JSON-able facts about jobs and batches (past tense)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    def to_dict(self) -> dict[str, Any]:
        return {"event": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class BatchQueued(Event):
    batch_id: int
    sources: int


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    kind: str
    preset: str
    label: str
    source: str


@dataclass(frozen=True)
class JobsQueued(Event):
    """Jobs committed as queued, announced together: a drop of 10,000 files is one event."""

    batch_id: int
    jobs: tuple[QueuedJob, ...]


@dataclass(frozen=True)
class JobStarted(Event):
    job_id: str
    worker: str | None = None


@dataclass(frozen=True)
class JobProgressed(Event):
    """Not persisted: only the latest one per job matters to anyone."""

    job_id: str
    percent: float | None
    speed: float | None = None
    eta: float | None = None
    out_time: float | None = None


@dataclass(frozen=True)
class JobLogged(Event):
    job_id: str
    line: str


@dataclass(frozen=True)
class JobFinished(Event):
    """A job reached a terminal state (or was interrupted by a shutdown)."""

    job_id: str
    status: str
    error: str | None = None
    warning: str | None = None
    seconds: float | None = None
    outputs: tuple[dict[str, Any], ...] = ()
    result: dict[str, Any] = field(default_factory=dict)  # the job function's full result


@dataclass(frozen=True)
class SourceProbed(Event):
    job_id: str
    source_id: int
    media_info: dict[str, Any]


@dataclass(frozen=True)
class BatchFinished(Event):
    batch_id: int
    counts: dict[str, int]
    seconds: float
    failures: tuple[tuple[str, str], ...] = ()  # (source path, reason)


@dataclass(frozen=True)
class QueueStateChanged(Event):
    """A lane was paused or resumed, and why (a person, an alert, a schedule)."""

    lane: str
    paused: bool
    reason: str = ""
