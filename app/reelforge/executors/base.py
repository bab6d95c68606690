"""What the app asks of an executor. The choice between local and cluster is made in bootstrap."""

from __future__ import annotations

from typing import Protocol

from reelforge.domain.jobs import Lane
from reelforge.domain.spec import JobSpec

INTERRUPTED = "interrupted"  # cancel reason used by shutdown: the job resumes next time


class Executor(Protocol):
    def submit(self, spec: JobSpec) -> None:
        """Queue a job whose QUEUED state is already committed to the history."""

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        """Cancel a pending or running job; False when the executor does not know it."""

    def cancel_all(self, reason: str = "cancelled") -> None: ...

    def pause(self, lane: Lane | None = None, reason: str = "") -> None:
        """Stop starting new jobs in a lane (None: both). Running jobs go on."""

    def resume(self, lane: Lane | None = None, reason: str = "") -> None: ...

    def is_paused(self, lane: Lane) -> bool: ...

    def set_concurrency(self, lane: Lane, slots: int) -> None: ...

    def active(self) -> int:
        """Jobs pending or running in this executor."""

    def shutdown(self, *, interrupt: bool = True, timeout: float = 10.0) -> None:
        """Stop everything; with interrupt, running jobs are marked interrupted (resumed later)."""
