"""Plain frozen records handed out by the repository.

They are detached copies, safe to pass between threads and to keep after the transaction that
read them; live ORM objects never leave ``reelforge.storage``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reelforge.domain.jobs import JobKind, JobStatus, Lane
from reelforge.domain.media_info import MediaInfo
from reelforge.domain.spec import JobSpec


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC ("2024-05-01T12:00:00.123456+00:00"), None stays None."""
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class OutputRecord:
    """One file a job produced (also the shape ``Repository.transition(outputs=...)`` takes)."""

    role: str
    path: str
    size: int = 0
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    vcodec: str | None = None
    acodec: str | None = None


@dataclass(frozen=True)
class SourceRecord:
    id: int
    path: str
    size: int
    mtime: float
    fingerprint: str | None
    duration: float | None
    width: int | None
    height: int | None
    vcodec: str | None
    acodec: str | None
    media_info: str | None  # JSON text, kept as text so the record stays immutable
    created_at: datetime

    @property
    def info(self) -> MediaInfo | None:
        return None if self.media_info is None else MediaInfo.from_dict(json.loads(self.media_info))


@dataclass(frozen=True)
class BatchRecord:
    id: int
    created_at: datetime
    finished_at: datetime | None
    presets: tuple[str, ...]
    out_dir: str
    origin: str


@dataclass(frozen=True)
class TransitionRecord:
    id: int
    job_id: str
    from_status: JobStatus | None
    to_status: JobStatus
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class JobRecord:
    id: str
    batch_id: int
    source_id: int | None
    source_path: str
    kind: JobKind
    lane: Lane
    preset: str
    label: str
    status: JobStatus
    spec_json: str
    spec_version: int
    spec_hash: str | None
    attempt: int
    error: str | None
    warning: str | None
    log_path: str | None
    app_version: str
    ffmpeg_version: str | None
    worker: str | None
    created_at: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    outputs: tuple[OutputRecord, ...] = ()

    @property
    def spec(self) -> JobSpec:
        """The stored spec (raises SpecVersionError for a spec from another spec version)."""
        return JobSpec.from_json(self.spec_json)

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's JSON-lines object for this job."""
        return {
            "source": self.source_path,
            "job": self.id,
            "kind": self.kind.value,
            "preset": self.preset,
            "label": self.label,
            "status": self.status.value,
            "outputs": [o.path for o in self.outputs],
            "error": self.error,
            "warning": self.warning,
            "seconds": self.seconds,
            "attempt": self.attempt,
            "batch": self.batch_id,
            "created_at": iso(self.created_at),
            "finished_at": iso(self.finished_at),
            "app_version": self.app_version,
            "ffmpeg_version": self.ffmpeg_version,
            "worker": self.worker,
        }
