"""The local executor: two lanes of worker threads, so thumbnails never wait behind an encode.

Every decision (what starts next, what a result means) happens on the bus thread; pool threads
only run the job function and publish what it reports. A job is announced as started on the bus
(and so committed to the history as running) before it is handed to a pool thread.

The pools are the standard library's: we decide what starts when, so a pool only needs to run
a callable. (A QRunnable subclass with auto-delete crashed PySide6 6.12 at interpreter exit.)
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer

from reelforge.bus import Bus, ThreadHop
from reelforge.domain.events import (
    JobFinished,
    JobLogged,
    JobProgressed,
    JobStarted,
    QueueStateChanged,
)
from reelforge.domain.jobs import JobStatus, Lane
from reelforge.domain.spec import JobSpec
from reelforge.domain.split import is_split, parent_id
from reelforge.executors.base import INTERRUPTED
from reelforge.executors.chunked import ChunkedJobs
from reelforge.media.process import CancelToken
from reelforge.runner import RunContext, run_job

log = logging.getLogger("reelforge.executor")
_MAX_SLOTS = 16


Report = Callable[[dict[str, Any]], None]


def job_reporter(bus: Bus, job_id: str) -> Report:
    """What a job's progress and log lines become on the bus."""

    def report(msg: dict[str, Any]) -> None:
        if msg.get("type") == "progress":
            bus.publish(
                JobProgressed(
                    job_id,
                    msg.get("percent"),
                    msg.get("speed"),
                    msg.get("eta"),
                    msg.get("out_time"),
                )
            )
        elif msg.get("type") == "log":
            bus.publish(JobLogged(job_id, str(msg.get("line", ""))))

    return report


def _run_one(
    spec: JobSpec, token: CancelToken, ctx: RunContext, report: Report, done: ThreadHop
) -> None:
    """Body of a pool thread: run the job function, publish what it reports, hand back."""
    try:
        result = run_job(spec.to_dict(), report, token, ctx)
    except BaseException as err:  # run_job never raises; this is the last line of defence
        result = {"status": JobStatus.FAILED.value, "error": f"internal error: {err!r}"}
    done.post((spec.id, result))


@dataclass
class _LaneState:
    lane: Lane
    slots: int
    pool: ThreadPoolExecutor
    pending: deque[JobSpec] = field(default_factory=deque)
    running: dict[str, CancelToken] = field(default_factory=dict)
    paused: bool = False
    gate_reason: str = ""  # paused by the gate (low disk), not by a person


class LocalExecutor(QObject):
    GATE_RECHECK_MS = 5000

    def __init__(
        self,
        bus: Bus,
        ctx: RunContext,
        *,
        light: int = 2,
        heavy: int = 1,
        gate: Callable[[JobSpec], str | None] | None = None,
    ):
        """`gate` is asked before a heavy job starts; a reason pauses the heavy lane until
        the gate lets the job through again (checked every few seconds)."""
        super().__init__()
        self._gate = gate
        self._gate_timer = QTimer(self)
        self._gate_timer.setInterval(self.GATE_RECHECK_MS)
        self._gate_timer.timeout.connect(self._recheck_gate)
        self._bus, self._ctx = bus, ctx
        self._done = ThreadHop(self._on_finished)
        # Threads are made on demand up to the cap; the lane's slot count is what limits work.
        self._lanes = {
            lane: _LaneState(lane, max(1, n), ThreadPoolExecutor(_MAX_SLOTS, f"rf-{lane.value}"))
            for lane, n in ((Lane.LIGHT, light), (Lane.HEAVY, heavy))
        }
        self._futures: set[Future[None]] = set()
        self._lane_of: dict[str, Lane] = {}
        self._starting: dict[str, tuple[JobSpec, CancelToken, _LaneState]] = {}
        # Long encodes in segments (domain/split.py): their stages are pending and running in
        # the lanes like jobs, but only the job itself is seen on the bus.
        self._chunked = ChunkedJobs(
            bus, start=self._queue_stages, stop=self._stop_stage, running=self._stage_running
        )
        self._closed = False
        bus.subscribe(JobStarted, self._launch)

    # -- Executor protocol -------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> None:
        if is_split(spec) and self._lanes[Lane.HEAVY].slots > 1:
            self._chunked.submit(spec)  # with one heavy slot, segments would only add a join
            return
        self._queue(spec, front=False)

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        if self._chunked.owns(job_id):
            return self._chunked.cancel(job_id, reason)
        lane = self._lane_of.get(job_id)
        if lane is None:
            return False
        state = self._lanes[lane]
        if job_id in state.running:
            state.running[job_id].cancel(reason)
            return True
        for spec in state.pending:
            if spec.id == job_id:
                state.pending.remove(spec)
                self._lane_of.pop(job_id, None)
                if reason != INTERRUPTED:
                    self._bus.publish(JobFinished(job_id, JobStatus.CANCELLED.value, error=reason))
                # On shutdown a job that never started stays queued in the history: nothing
                # happened to it, and resume picks it up next time.
                return True
        return False

    def cancel_all(self, reason: str = "cancelled") -> None:
        for state in self._lanes.values():
            for spec in list(state.pending):
                self.cancel(spec.id, reason)
            for token in state.running.values():
                token.cancel(reason)

    def pause(self, lane: Lane | None = None, reason: str = "") -> None:
        for state in self._select(lane):
            if not state.paused:
                state.paused = True
                self._bus.publish(QueueStateChanged(state.lane.value, True, reason))

    def resume(self, lane: Lane | None = None, reason: str = "") -> None:
        for state in self._select(lane):
            if state.paused:
                state.paused = False
                self._bus.publish(QueueStateChanged(state.lane.value, False, reason))
                self._pump(state)

    def is_paused(self, lane: Lane) -> bool:
        return self._lanes[lane].paused

    def set_concurrency(self, lane: Lane, slots: int) -> None:
        state = self._lanes[lane]
        state.slots = max(1, min(_MAX_SLOTS, slots))
        self._pump(state)

    def active(self) -> int:
        return sum(len(s.pending) + len(s.running) for s in self._lanes.values())

    def running_ids(self) -> list[str]:
        # a job in segments runs in several slots at once
        return self._chunked.job_ids(job for s in self._lanes.values() for job in s.running)

    def shutdown(self, *, interrupt: bool = True, timeout: float = 10.0) -> None:
        reason = INTERRUPTED if interrupt else "cancelled"
        self._closed = True
        self.cancel_all(reason)
        wait(list(self._futures), timeout=timeout)
        for state in self._lanes.values():
            state.pool.shutdown(wait=False, cancel_futures=True)
        # Results handed over by now wait for the bus thread; deliver them before we return.
        self._bus.flush()
        self._done.drain()

    def _recheck_gate(self) -> None:
        for state in self._lanes.values():
            if not state.gate_reason:
                continue
            if not state.paused:  # resumed by a person meanwhile: the next pump asks again
                state.gate_reason = ""
            elif not state.pending or not self._gate or not self._gate(state.pending[0]):
                state.gate_reason = ""
                self.resume(state.lane, "disk space is back")
        if not any(s.gate_reason for s in self._lanes.values()):
            self._gate_timer.stop()

    # -- internals ---------------------------------------------------------------------------
    def _queue(self, spec: JobSpec, *, front: bool) -> None:
        self._queue_all([spec], front=front)

    def _queue_all(self, specs: list[JobSpec], *, front: bool) -> None:
        """Queue in this order, at the back of the lanes or at the front; then start what can."""
        for spec in specs if not front else reversed(specs):
            state = self._lanes[spec.lane]
            self._lane_of[spec.id] = spec.lane
            if front:
                state.pending.appendleft(spec)
            else:
                state.pending.append(spec)
        for lane in dict.fromkeys(s.lane for s in specs):
            self._pump(self._lanes[lane])

    def _queue_stages(self, stages: list[JobSpec], first: bool) -> None:
        """Later stages of a started job go first in their lane: it finishes before others
        start, as a job in one piece would."""
        self._queue_all(stages, front=not first)

    def _stop_stage(self, stage_id: str, reason: str) -> bool:
        lane = self._lane_of.get(stage_id)
        if lane is None:
            return False
        state = self._lanes[lane]
        if stage_id in state.running:
            state.running[stage_id].cancel(reason)  # its result comes back as usual
        else:
            state.pending = deque(s for s in state.pending if s.id != stage_id)
            self._lane_of.pop(stage_id, None)
        return True

    def _stage_running(self, stage_id: str) -> bool:
        lane = self._lane_of.get(stage_id)
        return lane is not None and stage_id in self._lanes[lane].running

    def _select(self, lane: Lane | None) -> list[_LaneState]:
        return list(self._lanes.values()) if lane is None else [self._lanes[lane]]

    def _pump(self, state: _LaneState) -> None:
        while not state.paused and state.pending and len(state.running) < state.slots:
            if self._gate and state.lane is Lane.HEAVY:
                reason = self._gate(state.pending[0])
                if reason:
                    state.gate_reason = reason
                    self.pause(state.lane, reason)
                    self._gate_timer.start()
                    return
            spec = state.pending.popleft()
            token = CancelToken()
            state.running[spec.id] = token  # the slot is taken now
            job_id = parent_id(spec.id)
            if job_id != spec.id and not self._chunked.announce(spec.id):
                self._start(spec, token, state)  # a later stage of a job already running
                continue
            self._starting[job_id] = (spec, token, state)
            # The work itself starts in _launch, our own JobStarted handler: it runs after the
            # history recorder (subscribed first) has committed "running", even when this pump
            # happens inside another event's dispatch and the bus defers JobStarted.
            self._bus.publish(JobStarted(job_id, self._ctx.worker))

    def _launch(self, event: JobStarted) -> None:
        entry = self._starting.pop(event.job_id, None)
        if entry is None or self._closed:  # shut down meanwhile: recovery marks it interrupted
            return
        self._start(*entry)

    def _start(self, spec: JobSpec, token: CancelToken, state: _LaneState) -> None:
        staged = spec.id != parent_id(spec.id)
        report = self._chunked.reporter(spec.id) if staged else job_reporter(self._bus, spec.id)
        future = state.pool.submit(_run_one, spec, token, self._ctx, report, self._done)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)

    def _on_finished(self, item: tuple[str, dict[str, Any]]) -> None:
        job_id, result = item
        lane = self._lane_of.pop(job_id, None)
        state = self._lanes[lane] if lane else None
        token = state.running.pop(job_id, None) if state else None
        if job_id != parent_id(job_id):
            interrupted = bool(token and token.reason == INTERRUPTED)
            self._chunked.finished(job_id, result, interrupted=interrupted)
            if state:
                self._pump(state)
            return
        status = result.get("status", JobStatus.FAILED.value)
        if status == JobStatus.CANCELLED.value and token and token.reason == INTERRUPTED:
            status = JobStatus.INTERRUPTED.value
        self._bus.publish(
            JobFinished(
                job_id,
                status,
                error=result.get("error"),
                warning=result.get("warning"),
                seconds=result.get("seconds"),
                outputs=tuple(result.get("outputs") or ()),
                result=result,
            )
        )
        if state:
            self._pump(state)
