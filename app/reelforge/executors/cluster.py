"""The cluster executor: the Executor interface over Celery workers and Redis.

Jobs go to the `light` or `heavy` queue as Celery tasks (JSON only). Workers push what the job
function reports to this submission's relay list; a listener thread pops it, in order, and hands
it to the bus thread, where it becomes the same events the local pool publishes. The history
stays here: workers never open it.

Every attempt of a job has its own task id, recorded as the job's current attempt in Redis. A
worker drops a delivery that is not current, so a redelivered, revoked or re-sent copy never
runs twice. A worker whose heartbeat stops (killed, machine gone) has its running jobs sent
again as new attempts, within HEARTBEAT_TTL plus a poll, not after the visibility timeout.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from PySide6.QtCore import QObject

from reelforge.bus import Bus, ThreadHop
from reelforge.cluster import keys
from reelforge.cluster.broker import shown
from reelforge.cluster.celery_app import TASK_NAME, make_celery
from reelforge.domain.events import (
    AlertCleared,
    AlertRaised,
    JobFinished,
    JobLogged,
    JobProgressed,
    JobStarted,
    QueueStateChanged,
    WorkerLost,
)
from reelforge.domain.jobs import JobStatus, Lane
from reelforge.domain.naming import TEMP_PREFIX
from reelforge.domain.spec import JobSpec
from reelforge.domain.split import SEGMENT, is_split, parent_id, piece_path, stage_of
from reelforge.executors.base import INTERRUPTED
from reelforge.executors.chunked import ChunkedJobs

log = logging.getLogger("reelforge.cluster")
# Called when a job must run again as a new attempt: records it in the history (interrupted,
# then queued: attempt + 1) before the executor sends it again.
NewAttempt = Callable[[str, str], None]


@dataclass
class _Sent:
    spec: JobSpec
    task_id: str
    worker: str | None = None  # known once a worker says it started
    cancel_reason: str | None = None


class CeleryExecutor(QObject):
    POLL = 1.0  # seconds a relay pop waits; also the pace of the heartbeat watch

    def __init__(
        self,
        bus: Bus,
        *,
        broker: str,
        log_dir: Path,
        visibility_timeout: float | None = None,
        new_attempt: NewAttempt | None = None,
    ) -> None:
        super().__init__()
        self._bus, self._broker, self._log_dir = bus, broker, Path(log_dir)
        self._new_attempt = new_attempt
        kwargs = {} if visibility_timeout is None else {"visibility_timeout": visibility_timeout}
        self._celery = make_celery(broker, **kwargs)
        self._redis = redis.Redis.from_url(broker, socket_timeout=10, socket_connect_timeout=5)
        self.submission = uuid.uuid4().hex
        self._relay_key = keys.relay(self.submission)
        self._pending: dict[Lane, deque[JobSpec]] = {lane: deque() for lane in Lane}
        self._paused: dict[Lane, bool] = dict.fromkeys(Lane, False)
        self._sent: dict[str, _Sent] = {}
        self._broker_down = False
        self._hop = ThreadHop(self._on_item)
        # Long encodes in segments (domain/split.py): each stage is a task like any job (its own
        # attempts, heartbeats, re-sends); only the job itself is seen on the bus.
        self._chunked = ChunkedJobs(
            bus, start=self._start_stages, stop=self._stop_stage, running=self._stage_running
        )
        self._watch_lock = threading.Lock()
        self._workers_busy: set[str] = set()  # read by the listener thread
        self._stop = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="rf-relay", daemon=True)
        self._listener.start()

    # -- Executor protocol -------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> None:
        if is_split(spec):
            self._chunked.submit(spec)
            return
        if self._paused[spec.lane] or self._broker_down:
            self._pending[spec.lane].append(spec)
            return
        self._send(spec)

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        if self._chunked.owns(job_id):
            return self._chunked.cancel(job_id, reason)
        return self._cancel_one(job_id, reason)

    def _cancel_one(self, job_id: str, reason: str) -> bool:
        for pending in self._pending.values():
            for spec in pending:
                if spec.id == job_id:
                    pending.remove(spec)
                    if reason != INTERRUPTED:
                        self._finish(job_id, JobStatus.CANCELLED.value, reason)
                    return True
        sent = self._sent.get(job_id)
        if sent is None:
            return False
        self._stop_attempt(sent, reason)
        if sent.worker is None:  # not started anywhere: settled now, like a pending local job
            del self._sent[job_id]
            self._update_watch()
            if reason != INTERRUPTED:
                self._finish(job_id, JobStatus.CANCELLED.value, reason)
        elif self._broker_down:  # the worker cannot be told: left for `reelforge resume`
            del self._sent[job_id]
            self._update_watch()
            self._finish(job_id, JobStatus.INTERRUPTED.value,
                         f"broker unreachable while stopping it on {sent.worker}")  # fmt: skip
        else:
            sent.cancel_reason = reason  # the worker answers with its cancelled result
        return True

    def cancel_all(self, reason: str = "cancelled") -> None:
        for lane in Lane:
            for spec in list(self._pending[lane]):
                self.cancel(spec.id, reason)
        for job_id in list(self._sent):
            self.cancel(job_id, reason)

    def pause(self, lane: Lane | None = None, reason: str = "") -> None:
        for ln in self._lanes(lane):
            if self._paused[ln]:
                continue
            self._paused[ln] = True
            # Jobs sent but not started come back here, so nothing new starts while paused.
            back = [s for s in self._sent.values() if s.spec.lane is ln and s.worker is None]
            for sent in back:
                self._stop_attempt(sent, "paused")
                del self._sent[sent.spec.id]
            self._pending[ln].extendleft(reversed([s.spec for s in back]))
            self._bus.publish(QueueStateChanged(ln.value, True, reason))

    def resume(self, lane: Lane | None = None, reason: str = "") -> None:
        for ln in self._lanes(lane):
            if self._paused[ln]:
                self._paused[ln] = False
                self._bus.publish(QueueStateChanged(ln.value, False, reason))
                self._send_pending(ln)

    def is_paused(self, lane: Lane) -> bool:
        return self._paused[lane]

    def set_concurrency(self, lane: Lane, slots: int) -> None:
        """Slots belong to the workers (`reelforge worker --concurrency`): nothing to do here."""

    def active(self) -> int:
        return len(self._sent) + sum(len(p) for p in self._pending.values())

    def running_ids(self) -> list[str]:
        return self._chunked.job_ids(job for job, s in self._sent.items() if s.worker is not None)

    def shutdown(self, *, interrupt: bool = True, timeout: float = 10.0) -> None:
        self.cancel_all(INTERRUPTED if interrupt else "cancelled")
        deadline = time.monotonic() + timeout
        while self._sent and time.monotonic() < deadline:
            time.sleep(0.05)
            self._hop.drain()  # results the workers send back while they stop
        for job_id, sent in list(self._sent.items()):  # no answer: resumed next time
            del self._sent[job_id]
            if sent.worker is not None:
                self._finish(job_id, JobStatus.INTERRUPTED.value, "no answer from the cluster")
        self._stop.set()
        self._listener.join(timeout=self.POLL + 2)
        self._bus.flush()
        self._hop.drain()
        self._redis.close()
        self._celery.close()

    # -- sending -----------------------------------------------------------------------------
    @staticmethod
    def _lanes(lane: Lane | None) -> list[Lane]:
        return list(Lane) if lane is None else [lane]

    def _send(self, spec: JobSpec) -> bool:
        task_id = uuid.uuid4().hex
        try:
            self._redis.set(keys.attempt(spec.id), task_id, ex=keys.ATTEMPT_TTL)
            self._celery.send_task(
                TASK_NAME,
                args=[spec.to_dict(), self.submission],
                task_id=task_id,
                queue=spec.lane.value,
                serializer="json",
                # A few quick retries ride over a stale pooled connection; an outage still
                # fails fast and the job waits here for the broker to come back.
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
            )
        except Exception as err:  # broker unreachable (redis or kombu error): hold it here
            self._pending[spec.lane].appendleft(spec)
            self._broker_lost(err)
            return False
        self._sent[spec.id] = _Sent(spec, task_id)
        return True

    def _send_pending(self, lane: Lane) -> None:
        pending = self._pending[lane]
        while pending and not self._paused[lane] and not self._broker_down:
            if not self._send(pending.popleft()):
                return

    def _stop_attempt(self, sent: _Sent, reason: str) -> None:
        """Make this attempt stale everywhere: dropped if delivered later, stopped if running."""
        try:
            pipe = self._redis.pipeline()
            pipe.delete(keys.attempt(sent.spec.id))
            pipe.set(keys.cancel(sent.task_id), reason, ex=keys.CANCEL_TTL)
            pipe.execute()
            self._celery.control.revoke(sent.task_id)
        except Exception as err:
            log.warning("could not reach the broker to stop job %s: %s", sent.spec.id, err)

    def _finish(self, job_id: str, status: str, error: str | None, **kw: Any) -> None:
        if job_id != parent_id(job_id):  # a stage: its news is for its job's run
            result = {**(kw.get("result") or {}), "status": status, "error": error}
            self._chunked.finished(job_id, result, interrupted=False)
            return
        self._bus.publish(JobFinished(job_id, status, error=error, **kw))

    # -- stages of long encodes (ChunkedJobs calls these) ------------------------------------
    def _start_stages(self, stages: list[JobSpec], first: bool) -> None:
        for stage in stages:
            self.submit(stage)

    def _stop_stage(self, stage_id: str, reason: str) -> bool:
        return self._cancel_one(stage_id, reason)

    def _stage_running(self, stage_id: str) -> bool:
        sent = self._sent.get(stage_id)
        return sent is not None and sent.worker is not None

    def _update_watch(self) -> None:
        with self._watch_lock:
            self._workers_busy = {s.worker for s in self._sent.values() if s.worker}

    # -- the listener thread -----------------------------------------------------------------
    def _listen(self) -> None:
        client = redis.Redis.from_url(self._broker, socket_timeout=self.POLL + 5,
                                      socket_connect_timeout=5)  # fmt: skip
        last_watch = 0.0
        down = False
        trust_beats_from = 0.0  # after an outage, workers need a beat to write their keys again
        while not self._stop.is_set():
            try:
                item = client.blpop([self._relay_key], timeout=self.POLL)
                if down or self._broker_down:  # reachable again (a send may have failed alone)
                    if down:
                        trust_beats_from = time.monotonic() + keys.HEARTBEAT_TTL
                    down = False
                    self._hop.post(("broker", True))
                if item is not None:
                    try:
                        self._hop.post(("message", json.loads(item[1])))
                    except ValueError:  # not ours to understand; the rest still counts
                        log.warning("ignored a malformed relay message: %.200r", item[1])
                now = time.monotonic()
                if now - last_watch >= self.POLL and now >= trust_beats_from:
                    last_watch = now
                    self._check_heartbeats(client)
            except redis.RedisError as err:
                if not down:
                    down = True
                    self._hop.post(("broker", err))
                self._stop.wait(1.0)
        client.close()

    def _check_heartbeats(self, client: redis.Redis) -> None:
        with self._watch_lock:
            busy = sorted(self._workers_busy)
        if not busy:
            return
        beats = client.mget([keys.worker(w) for w in busy])
        for worker, beat in zip(busy, beats, strict=True):
            if beat is None:
                self._hop.post(("lost", worker))

    # -- on the bus thread -------------------------------------------------------------------
    def _on_item(self, item: tuple[str, Any]) -> None:
        kind, value = item
        if kind == "message":
            self._on_message(value)
        elif kind == "lost":
            self._on_worker_lost(value)
        elif kind == "broker":
            if value is True:
                self._broker_back()
            else:
                self._broker_lost(value)

    def _on_message(self, msg: dict[str, Any]) -> None:
        job_id, kind = str(msg.get("job")), msg.get("type")
        sent = self._sent.get(job_id)
        if sent is None or sent.task_id != msg.get("task"):
            return  # an attempt that is no longer current: its word does not count
        staged = job_id != parent_id(job_id)
        if kind == "started":
            sent.worker = str(msg.get("worker") or "?")
            self._update_watch()
            if not staged or self._chunked.announce(job_id):
                self._bus.publish(JobStarted(parent_id(job_id), sent.worker))
        elif staged and kind in ("progress", "log"):
            self._chunked.reporter(job_id)(msg)
        elif kind == "progress":
            self._bus.publish(JobProgressed(job_id, msg.get("percent"), msg.get("speed"),
                                            msg.get("eta"), msg.get("out_time")))  # fmt: skip
        elif kind == "log":
            self._bus.publish(JobLogged(job_id, str(msg.get("line", ""))))
        elif kind == "finished":
            del self._sent[job_id]
            self._update_watch()
            self._on_result(sent, dict(msg.get("result") or {}))
            self._send_pending(sent.spec.lane)

    def _on_result(self, sent: _Sent, result: dict[str, Any]) -> None:
        job_id = sent.spec.id
        log_path = self._log_dir / f"{job_id}.log"
        text = result.pop("log_text", "") or ""
        try:  # the worker's job log, kept here with the history
            self._log_dir.mkdir(parents=True, exist_ok=True)
            with log_path.open("a", encoding="utf-8") as fh:
                fh.write(text)
            result["log_path"] = str(log_path)
        except OSError:
            pass
        status = str(result.get("status") or JobStatus.FAILED.value)
        if status == JobStatus.CANCELLED.value and sent.cancel_reason == INTERRUPTED:
            status = JobStatus.INTERRUPTED.value
        self._finish(
            job_id,
            status,
            result.get("error"),
            warning=result.get("warning"),
            seconds=result.get("seconds"),
            outputs=tuple(result.get("outputs") or ()),
            result=result,
        )

    def _on_worker_lost(self, worker: str) -> None:
        jobs = [s for s in self._sent.values() if s.worker == worker]
        if not jobs:
            return
        reason = f"worker {worker} stopped answering (no heartbeat for {keys.HEARTBEAT_TTL:.0f} s)"
        job_ids = tuple(self._chunked.job_ids(s.spec.id for s in jobs))
        self._bus.publish(WorkerLost(worker, reason, job_ids))
        for sent in jobs:
            del self._sent[sent.spec.id]
            self._stop_attempt(sent, "worker lost")
            if sent.cancel_reason is not None:  # it was being cancelled anyway
                status = JobStatus.INTERRUPTED if sent.cancel_reason == INTERRUPTED else (
                    JobStatus.CANCELLED)  # fmt: skip
                self._finish(sent.spec.id, status.value, sent.cancel_reason)
                continue
            _remove_attempt_temps(sent.spec)  # the dead worker could not clean up after itself
            if sent.spec.id != parent_id(sent.spec.id):  # a stage: its job goes on running
                self._chunked.resent(sent.spec.id, reason)
            elif self._new_attempt is not None:
                self._new_attempt(sent.spec.id, reason)
            self.submit(sent.spec)  # a new attempt, with a new task id
        self._update_watch()

    def _broker_lost(self, err: object) -> None:
        if self._broker_down:
            return
        self._broker_down = True
        message = (
            f"broker {shown(self._broker)} unreachable ({str(err).splitlines()[0][:120]}); "
            "finished jobs are kept, the rest resume when it is back"
        )
        self._bus.publish(AlertRaised("broker_lost", "critical", message, key=self._broker))

    def _broker_back(self) -> None:
        if not self._broker_down:
            return
        self._broker_down = False
        self._bus.publish(AlertCleared("broker_lost", f"broker {shown(self._broker)} is back"))
        self._take_back_lost_messages()
        for lane in Lane:
            self._send_pending(lane)

    def _take_back_lost_messages(self) -> None:
        """A broker that came back empty (restarted without persistence) lost the jobs still
        waiting in it: their attempt keys are gone too, so send those again. Jobs a worker has
        started are left to it: its result waits for the broker (RelaySender.send_surely)."""
        waiting = [s for s in self._sent.values() if s.worker is None]
        if not waiting:
            return
        try:
            current = self._redis.mget([keys.attempt(s.spec.id) for s in waiting])
        except redis.RedisError:
            return
        for sent, value in zip(waiting, current, strict=True):
            if value is None or value.decode() != sent.task_id:
                del self._sent[sent.spec.id]
                self._pending[sent.spec.lane].append(sent.spec)


def _remove_attempt_temps(spec: JobSpec) -> int:
    """Delete the temp files earlier attempts of this job left at its output names.

    Called before the job is sent again, so no attempt of it is writing any more (a worker that
    is only cut off, not dead, finds its temp gone and fails; its result is ignored anyway).
    """
    removed = 0
    stage = stage_of(spec)
    if stage is not None and stage["name"] == SEGMENT:  # a segment writes its pieces
        finals = [piece_path(t.path, spec.id, stage["index"], t.role) for t in spec.outputs]
    else:
        finals = [Path(t.path) for t in spec.outputs]
    for final in finals:
        try:
            stale = [  # not glob(): a file name may hold [, * or ?
                p
                for p in final.parent.iterdir()
                if p.name.startswith(TEMP_PREFIX)
                and p.name.endswith(f"-{final.name}")
                and p.is_file()
            ]
        except OSError:
            continue
        for path in stale:
            try:
                path.unlink()
                removed += 1
            except OSError as err:
                log.warning("could not remove %s: %s", path, err)
    return removed
