"""The history subscriber: turns job events into committed state transitions.

It is subscribed first, so by the time any other subscriber (queue service, UI, notifier, CLI)
sees an event, the history already says so.
"""

from __future__ import annotations

import logging

from reelforge.bus import Bus
from reelforge.domain.events import JobFinished, JobStarted
from reelforge.domain.jobs import IllegalTransition, JobStatus
from reelforge.storage.repository import Repository

log = logging.getLogger("reelforge.history")


class HistoryRecorder:
    def __init__(self, bus: Bus, repo: Repository):
        self._repo = repo
        bus.subscribe(JobStarted, self._started)
        bus.subscribe(JobFinished, self._finished)

    def _started(self, event: JobStarted) -> None:
        self._repo.transition(event.job_id, JobStatus.RUNNING, worker=event.worker)

    def _finished(self, event: JobFinished) -> None:
        result = event.result or {}
        try:
            self._repo.transition(
                event.job_id,
                JobStatus(event.status),
                error=event.error if event.status != JobStatus.SUCCEEDED else None,
                warning=event.warning,
                reason=event.error,
                seconds=event.seconds,
                worker=result.get("worker"),
                log_path=result.get("log_path"),
                ffmpeg_version=result.get("ffmpeg_version"),
                outputs=list(event.outputs) if event.outputs else None,
            )
        except IllegalTransition:
            # e.g. a result arriving for a job already cancelled: the first word stands.
            log.warning("ignored %s for job %s: already settled", event.status, event.job_id)
