"""Live state of the queue, from events alone: depth and running per lane, current speeds, and
when work last moved. Clock injected; no Qt, no database.

The Dashboard's "now" tiles read it, and the queue-stalled alert rule asks it how long it has
been since anything progressed while jobs were running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reelforge.domain.events import (
    Event,
    JobFinished,
    JobLogged,
    JobProgressed,
    JobsQueued,
    JobStarted,
    QueueStateChanged,
)
from reelforge.domain.jobs import LANE_OF, JobKind


@dataclass
class LiveState:
    clock: Callable[[], float]
    lane_of: dict[str, str] = field(default_factory=dict)
    queued: dict[str, set[str]] = field(default_factory=lambda: {"light": set(), "heavy": set()})
    running: dict[str, set[str]] = field(default_factory=lambda: {"light": set(), "heavy": set()})
    speeds: dict[str, float] = field(default_factory=dict)  # running job -> x real time
    paused: dict[str, str] = field(default_factory=dict)  # lane -> reason, while paused
    last_activity: float | None = None  # last start, progress, log line or finish

    def observe(self, event: Event) -> None:
        now = self.clock()
        if isinstance(event, JobsQueued):
            for job in event.jobs:
                lane = LANE_OF[JobKind(job.kind)].value
                self.lane_of[job.job_id] = lane
                self.queued[lane].add(job.job_id)
        elif isinstance(event, JobStarted):
            lane = self.lane_of.get(event.job_id)
            if lane:
                self.queued[lane].discard(event.job_id)
                self.running[lane].add(event.job_id)
            self.last_activity = now
        elif isinstance(event, JobProgressed):
            if event.speed is not None:
                self.speeds[event.job_id] = float(event.speed)
            self.last_activity = now
        elif isinstance(event, JobLogged):
            self.last_activity = now
        elif isinstance(event, JobFinished):
            lane = self.lane_of.pop(event.job_id, None)
            if lane:
                self.queued[lane].discard(event.job_id)
                self.running[lane].discard(event.job_id)
            self.speeds.pop(event.job_id, None)
            self.last_activity = now
        elif isinstance(event, QueueStateChanged):
            if event.paused:
                self.paused[event.lane] = event.reason
            else:
                self.paused.pop(event.lane, None)

    def depth(self) -> dict[str, int]:
        return {lane: len(jobs) for lane, jobs in self.queued.items()}

    def running_now(self) -> dict[str, int]:
        return {lane: len(jobs) for lane, jobs in self.running.items()}

    def speed_now(self) -> float:
        """Sum of the running jobs' speeds (x real time): how fast media goes through now."""
        return sum(self.speeds.values())

    def idle_for(self) -> float | None:
        """Seconds since work last moved while jobs are running; None when nothing runs."""
        if not any(self.running.values()):
            return None
        if self.last_activity is None:
            return None
        return max(0.0, self.clock() - self.last_activity)
