"""The alert engine: events and clock ticks in, decisions out. Pure: no Qt, no database.

Each rule raises when its condition starts and clears when it ends (edge-triggered), so a
condition that lasts is one alert, not one per event. Notifications are limited separately: a
Raise carries notify=False when the same rule already notified within the quiet period, so the
action still protects the queue but the tray never gets a storm.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reelforge.domain.events import (
    Event,
    JobFinished,
    JobsQueued,
    QueueStateChanged,
    WorkerLost,
)
from reelforge.domain.jobs import JobStatus
from reelforge.domain.units import human_size
from reelforge.observability.alert_rules import AlertRules
from reelforge.observability.live import LiveState

RULE_TITLES: dict[str, str] = {
    "failure_spike": "Failure spike",
    "low_disk": "Low disk space",
    "queue_stalled": "Queue stalled",
    "worker_lost": "Worker lost",
    "source_failing": "Source failing repeatedly",
}
PAUSED_BY_YOU = "paused by you"


@dataclass(frozen=True)
class Raise:
    rule: str
    severity: str  # warning | critical
    message: str
    key: str = ""
    notify: bool = True


@dataclass(frozen=True)
class Clear:
    rule: str
    message: str
    key: str = ""


Decision = Raise | Clear


def _minutes(value: float) -> str:
    return f"{value:g} min"


class AlertEngine:
    def __init__(self, rules: AlertRules, clock: Callable[[], float]) -> None:
        self.rules = rules
        self.clock = clock
        self.live = LiveState(clock)
        self._failures: deque[float] = deque()
        self._source_of: dict[str, str] = {}
        self._source_failures: dict[str, deque[float]] = {}
        self._notified: dict[str, float] = {}
        self._active: set[tuple[str, str]] = set()  # (rule, key) raised and not cleared

    def remember_notified(self, last: Mapping[str, float]) -> None:
        """Seed the quiet periods with notifications made before a restart (from the history),
        so an app that restarts does not notify the same rule again within its quiet period."""
        for rule, at in last.items():
            if at > self._notified.get(rule, float("-inf")):
                self._notified[rule] = at

    def active(self, rule: str, key: str = "") -> bool:
        return (rule, key) in self._active

    # -- inputs ------------------------------------------------------------------------------
    def observe(self, event: Event) -> list[Decision]:
        moved = self.live.last_activity
        self.live.observe(event)
        out: list[Decision] = []
        if self.active("queue_stalled") and self.live.last_activity != moved:
            out += self._clear("queue_stalled", "jobs are moving again")
        if isinstance(event, JobsQueued):
            self._source_of.update((j.job_id, j.source) for j in event.jobs)
        elif isinstance(event, JobFinished) and event.status == JobStatus.FAILED.value:
            out += self._failed(event.job_id)
        elif isinstance(event, JobFinished):
            self._source_of.pop(event.job_id, None)
        elif isinstance(event, WorkerLost) and self.rules.worker_lost.enabled:
            jobs = (
                f"; {len(event.jobs)} job(s) it was running go back to the queue"
                if (event.jobs)
                else ""
            )
            reason = f" ({event.reason})" if event.reason else ""
            out += self._raise(
                "worker_lost",
                "critical",
                f"worker {event.worker} stopped answering{reason}{jobs}",
                key=event.worker,
                edge=False,  # every lost worker is news
            )
        elif (
            isinstance(event, QueueStateChanged)
            and not event.paused
            and self.active("failure_spike")
            and not self.live.paused
        ):
            out += self._clear("failure_spike", f"queue resumed ({event.reason or 'resumed'})")
        return out

    def tick(self) -> list[Decision]:
        """Time-based rules; call every few seconds."""
        rule = self.rules.queue_stalled
        idle = self.live.idle_for()
        if not rule.enabled or idle is None or self.active("queue_stalled"):
            return []
        if idle >= rule.minutes * 60:
            running = sum(self.live.running_now().values())
            return self._raise(
                "queue_stalled",
                "warning",
                f"{running} job(s) running but nothing moved for {_minutes(idle / 60 // 1)}",
            )
        return []

    def disk(
        self, volume: str, free: int | None, need: int | None, reason: str | None
    ) -> list[Decision]:
        """Disk state of an output volume: `reason` set means too little room (from the
        heavy-lane gate or the periodic margin check), None means enough."""
        if not self.rules.low_disk.enabled:
            return []
        if reason:
            return self._raise("low_disk", "critical", reason, key=volume)
        if self.active("low_disk", volume):
            extra = f" ({human_size(free)} free)" if free else ""
            return self._clear("low_disk", f"disk space is back on {volume}{extra}", key=volume)
        return []

    # -- rules -------------------------------------------------------------------------------
    def _failed(self, job_id: str) -> list[Decision]:
        now, out = self.clock(), []
        spike = self.rules.failure_spike
        if spike.enabled:
            self._failures.append(now)
            while self._failures and self._failures[0] < now - spike.minutes * 60:
                self._failures.popleft()
            if len(self._failures) >= spike.failures:
                n = len(self._failures)
                self._failures.clear()  # the next spike needs fresh failures
                out += self._raise(
                    "failure_spike",
                    "critical",
                    f"{n} jobs failed within {_minutes(spike.minutes)}",
                    edge=False,
                )
        source = self._source_of.pop(job_id, None)
        rule = self.rules.source_failing
        if source and rule.enabled:
            times = self._source_failures.setdefault(source, deque())
            times.append(now)
            while times and times[0] < now - rule.hours * 3600:
                times.popleft()
            if len(times) >= rule.failures:
                n = len(times)
                del self._source_failures[source]
                out += self._raise(
                    "source_failing",
                    "warning",
                    f"{source} failed {n} times within {rule.hours:g} h",
                    key=source,
                    edge=False,
                )
        return out

    def _raise(
        self, rule: str, severity: str, message: str, *, key: str = "", edge: bool = True
    ) -> list[Decision]:
        if edge and (rule, key) in self._active:
            return []
        self._active.add((rule, key))
        now = self.clock()
        last = self._notified.get(rule)
        notify = last is None or now - last >= self.rules.quiet_minutes * 60
        if notify:
            self._notified[rule] = now
        return [Raise(rule, severity, message, key, notify)]

    def _clear(self, rule: str, message: str, *, key: str = "") -> list[Decision]:
        if (rule, key) not in self._active:
            return []
        self._active.discard((rule, key))
        return [Clear(rule, message, key)]
