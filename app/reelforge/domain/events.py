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
    """One or more log lines of a job (newline-separated): ffmpeg's stderr comes in bursts."""

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


@dataclass(frozen=True)
class WorkerLost(Event):
    """A cluster worker stopped answering (published by the cluster executor)."""

    worker: str
    reason: str = ""
    jobs: tuple[str, ...] = ()  # jobs it was running


@dataclass(frozen=True)
class AlertRaised(Event):
    """An alert rule fired. Published at most once per rule per quiet period."""

    rule: str  # failure_spike | low_disk | queue_stalled | worker_lost | source_failing
    severity: str  # warning | critical
    message: str  # one line for a person
    action: str = ""  # what was done about it ("paused the heavy lane"), empty for none
    key: str = ""  # what it is about (a volume, a worker, a source path), for the history
    notify: bool = True  # False: this rule already notified within its quiet period


@dataclass(frozen=True)
class AlertCleared(Event):
    """The condition behind an alert is gone (disk space is back, progress again)."""

    rule: str
    message: str
    action: str = ""
    key: str = ""


@dataclass(frozen=True)
class WatchedFileTaken(Event):
    """A watch folder enqueued a file that had become stable."""

    folder: str
    path: str
    batch_id: int | None


@dataclass(frozen=True)
class HousekeepingDone(Event):
    """Periodic retention and sweeping finished (counts of what was removed)."""

    jobs: int = 0
    logs: int = 0
    temp_files: int = 0
