"""Job statuses, kinds and lanes, and the one state machine every layer obeys."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED}
)

# Allowed transitions. Anything else is a bug and raises: a job never silently jumps from a
# terminal state back to running. Retry makes a new attempt by going terminal -> queued, which
# is explicit here so the history can show it.
_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset(
        {JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.SKIPPED, JobStatus.FAILED}
    ),
    JobStatus.RUNNING: frozenset(
        {
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.INTERRUPTED,
            JobStatus.SKIPPED,
        }
    ),
    JobStatus.INTERRUPTED: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.SUCCEEDED: frozenset({JobStatus.QUEUED}),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),
    JobStatus.SKIPPED: frozenset({JobStatus.QUEUED}),
}


class IllegalTransition(ValueError):
    """A state change the state machine does not allow."""


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in _ALLOWED[current]


def check_transition(current: JobStatus | str, new: JobStatus | str) -> JobStatus:
    """Return the new status, or raise IllegalTransition naming both states."""
    cur, nxt = JobStatus(current), JobStatus(new)
    if not can_transition(cur, nxt):
        raise IllegalTransition(f"job cannot go from {cur.value} to {nxt.value}")
    return nxt


class JobKind(StrEnum):
    PROBE = "probe"
    ENCODE = "encode"  # the rendition ladder: decode once, encode every rung through a split
    THUMBNAILS = "thumbnails"  # poster and/or contact sheet by fast seeking
    AUDIO = "audio"
    PREVIEW = "preview"
    REMUX = "remux"


class Lane(StrEnum):
    """Light jobs never wait behind heavy ones: each lane has its own slots."""

    LIGHT = "light"
    HEAVY = "heavy"


LANE_OF: dict[JobKind, Lane] = {
    JobKind.PROBE: Lane.LIGHT,
    JobKind.THUMBNAILS: Lane.LIGHT,
    JobKind.AUDIO: Lane.LIGHT,
    JobKind.PREVIEW: Lane.LIGHT,
    JobKind.ENCODE: Lane.HEAVY,
    JobKind.REMUX: Lane.HEAVY,
}
