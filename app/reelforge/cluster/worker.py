"""The worker side: the Celery task that runs the ONE job function, and `reelforge worker`.

A task delivery runs only if it is the job's current attempt (keys.attempt), after the spec's
version, the path map and the worker's view of the shared storage are checked. While it runs, a
watcher thread refreshes this worker's heartbeat and turns cancel requests into the job's
CancelToken, so ffmpeg is stopped by the same staged cancel as on the local pool.

A second thread follows the cluster schedule that `reelforge beat` writes (cluster/beat.py):
outside heavy-job hours it stops this worker's heavy consumer (running jobs finish) and starts
it again when the hours begin; a new housekeeping request runs this worker's own housekeeping.
Every delivery is counted in WorkerMetrics (`--metrics-port`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery, signals
from celery.exceptions import Reject

from reelforge.cluster import keys
from reelforge.cluster.celery_app import QUEUES, TASK_NAME, make_celery
from reelforge.cluster.pathmap import PathMap
from reelforge.cluster.relay import RelaySender
from reelforge.domain.jobs import JobStatus
from reelforge.domain.spec import SPEC_VERSION
from reelforge.media.process import CancelToken
from reelforge.observability.prometheus import WorkerMetrics
from reelforge.runner import RunContext, log_path_for, run_job
from reelforge.watch.housekeeping import DAY, TEMP_MAX_AGE, remove_old_files, sweep_stale_temps

log = logging.getLogger("reelforge.cluster")
LOG_TAIL_BYTES = 256 * 1024  # the job log travels back with the result, up to this much
PROGRESS_EVERY = 0.25  # seconds between relayed progress messages
SCHEDULE_EVERY = 2.0  # seconds between looks at the schedule beat writes
HEAVY = "heavy"


def default_worker_name() -> str:
    return f"rf{os.getpid()}@{socket.gethostname()}"


@dataclass
class WorkerRuntime:
    """What one worker process holds: its name, run context, path map and Redis client."""

    name: str
    ctx: RunContext
    paths: PathMap
    client: redis.Redis
    metrics: WorkerMetrics
    queues: tuple[str, ...] = QUEUES
    log_days: int = 30  # this worker's own job-log retention (its settings.toml)
    app: Celery | None = None  # for remote control of its own consumers
    node: str | None = None  # Celery's name for this worker, once it is ready
    held: str | None = None  # why the heavy queue is not consumed now; None: it is
    out_roots: set[str] = field(default_factory=set)  # output folders its jobs wrote to
    running: dict[str, CancelToken] = field(default_factory=dict)  # task id -> token
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    _hold_lock: threading.Lock = field(default_factory=threading.Lock)
    _housekeeping_seen: bytes | None = None
    _housekeeping: threading.Thread | None = None

    def watch(self) -> None:
        """Heartbeat and cancel watch, until stopped. Survives Redis going away and back."""
        last_beat = 0.0
        while not self.stop.is_set():
            try:
                now = time.monotonic()
                if now - last_beat >= keys.HEARTBEAT_EVERY:
                    self.client.set(keys.worker(self.name), str(time.time()),
                                    ex=int(keys.HEARTBEAT_TTL))  # fmt: skip
                    last_beat = now
                with self.lock:
                    tasks = list(self.running.items())
                if tasks:
                    reasons = self.client.mget([keys.cancel(t) for t, _ in tasks])
                    for (_, token), reason in zip(tasks, reasons, strict=True):
                        if reason is not None:
                            token.cancel(reason.decode("utf-8", "replace") or "cancelled")
            except redis.RedisError:
                pass  # the broker is away: Celery reconnects, and so do we
            self.stop.wait(0.3)

    def follow_schedule(self) -> None:
        """Heavy-job hours and housekeeping as beat last said, until stopped. A thread of its
        own: a remote-control round trip must not delay the cancel watch."""
        while not self.stop.is_set():
            try:
                hold, request = self.client.mget([keys.HOLD_HEAVY, keys.HOUSEKEEPING])
                self.follow_hours(hold.decode("utf-8", "replace") if hold else None)
                self.maybe_housekeep(request)
            except redis.RedisError:
                pass  # beat's word waits for the broker; the consumers stay as they are
            except Exception:
                log.exception("following the cluster schedule failed")
            self.stop.wait(SCHEDULE_EVERY)

    def follow_hours(self, hold: str | None) -> None:
        """Stop consuming the heavy queue while beat holds it; take it again when it does not.

        Through Celery's own cancel_consumer/add_consumer, addressed to this worker only: they
        run on the consumer's thread, the one place its queues may change, and a worker that
        never served heavy (`--queues light`) is never given it.
        """
        if HEAVY not in self.queues or self.node is None or self.app is None:
            return
        with self._hold_lock:
            if (hold is None) == (self.held is None):
                self.held = hold
                return
            control = self.app.control
            command = control.cancel_consumer if hold else control.add_consumer
            replies = command(HEAVY, destination=[self.node], reply=True, timeout=5.0)
            if not any(self.node in reply for reply in replies or ()):
                return  # not heard (the broker blinked): the next look tries again
            self.held = hold
            self.metrics.consuming.labels(HEAVY).set(0 if hold else 1)
        if hold:
            log.info("heavy queue held: %s (running jobs finish)", hold)
        else:
            log.info("heavy queue taken again: heavy-job hours began")

    def heavy_held_now(self) -> str | None:
        """The hold reason if heavy jobs must not start now, with the consumer stopped at once
        (a delivery can come between the worker's start and its first look at the schedule)."""
        try:
            value = self.client.get(keys.HOLD_HEAVY)
        except redis.RedisError:
            return self.held  # keep to what we last knew
        hold = value.decode("utf-8", "replace") if value else None
        if hold:
            try:
                self.follow_hours(hold)
            except Exception as err:  # the delivery still goes back; the schedule thread retries
                log.warning("could not stop the heavy consumer: %s", err)
        return hold

    def maybe_housekeep(self, request: bytes | None) -> None:
        """Run this worker's housekeeping once per new request from beat (and at start, for
        the request beat made last), on a thread of its own: folders can be slow to walk."""
        if request is None or request == self._housekeeping_seen:
            return
        if self._housekeeping is not None and self._housekeeping.is_alive():
            return  # the one running covers it; the request is taken once it is done
        self._housekeeping_seen = request
        try:
            folders = [str(f) for f in json.loads(request).get("folders") or ()]
        except (ValueError, AttributeError):
            folders = []
        with self.lock:
            roots = set(self.out_roots)
        roots.update(self.paths.to_worker(f) for f in folders)
        self._housekeeping = threading.Thread(
            target=self.housekeep, args=(sorted(roots),), name="rf-housekeeping", daemon=True
        )
        self._housekeeping.start()

    def housekeep(self, folders: list[str]) -> tuple[int, int]:
        """Job logs older than log_days and our temp files nobody touched for hours (never any
        other file). The history is the submitter's: its own app keeps it."""
        now = time.time()
        logs = (
            remove_old_files(Path(self.ctx.log_dir), now - self.log_days * DAY)
            if self.log_days
            else 0
        )
        temps = sweep_stale_temps(folders, now - TEMP_MAX_AGE)
        log.info("housekeeping: removed %d old job log(s) and %d stale temp file(s)", logs, temps)
        return logs, temps


_runtime: WorkerRuntime | None = None


def execute(
    rt: WorkerRuntime,
    spec: dict[str, Any],
    submission: str,
    task_id: str,
    *,
    queue: str = "light",
    redelivered: bool = False,
) -> str:
    """One delivery of a job. Returns what happened to it, for the worker's own log."""
    job_id = str(spec.get("id", "unknown"))
    metrics = rt.metrics
    metrics.delivered(queue, spec, redelivered=redelivered)
    relay = RelaySender(rt.client, submission, job_id, task_id)
    current = _current_attempt(rt, job_id)
    if current is None or current.decode() != task_id:
        metrics.dropped_stale(queue, spec)
        return "dropped: not the current attempt of this job (cancelled, or sent again)"
    refusal = _refusal(rt, spec)
    if refusal:
        metrics.refused(queue, spec)
        relay.send_surely("finished", result=_failed(rt, job_id, refusal))
        return f"refused: {refusal}"
    local_spec = rt.paths.spec_to_worker(spec)
    token = CancelToken()
    with rt.lock:
        rt.running[task_id] = token
        # <out>/<source stem>/<file>: the output folder, swept for stale temps by housekeeping.
        rt.out_roots.update(str(Path(o["path"]).parent.parent) for o in local_spec["outputs"])
    relay.send_surely("started", worker=rt.name)
    metrics.job_started(queue, spec)
    began = time.monotonic()
    last_progress = [0.0]

    def report(msg: dict[str, Any]) -> None:
        if msg.get("type") == "progress":
            metrics.progress(task_id, msg.get("speed"))
            now = time.monotonic()
            if now - last_progress[0] < PROGRESS_EVERY and (msg.get("percent") or 0) < 100:
                return
            last_progress[0] = now
        kind = str(msg.get("type", "log"))
        relay.send(kind, **{k: v for k, v in msg.items() if k != "type"})

    status = JobStatus.FAILED.value
    try:
        result = run_job(local_spec, report, token, rt.ctx)
        status = str(result.get("status"))
    finally:
        with rt.lock:
            rt.running.pop(task_id, None)
        metrics.job_finished(queue, spec, task_id, status, time.monotonic() - began)
    result = rt.paths.result_to_submitter(result)
    result["log_text"] = _log_tail(result.get("log_path"))
    relay.send_surely("finished", result=result)
    return str(result.get("status"))


def _current_attempt(rt: WorkerRuntime, job_id: str, patience: float = 300.0) -> bytes | None:
    """The job's current attempt id. The broker handed us the message a moment ago, so a failure
    here is a blip: wait for Redis rather than drop a job nobody would send again."""
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            value: bytes | None = rt.client.get(keys.attempt(job_id))
            return value
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def _refusal(rt: WorkerRuntime, spec: dict[str, Any]) -> str | None:
    """Why this worker cannot run the job, naming the worker and the path; None when it can."""
    version = spec.get("v")
    if version != SPEC_VERSION:
        return (
            f"worker {rt.name} refuses job spec version {version}: it reads version "
            f"{SPEC_VERSION} (run the same Reelforge version everywhere)"
        )
    local = rt.paths.spec_to_worker(spec)
    source = local["source"]
    if not os.path.isfile(source):
        hint = "" if rt.paths.pairs else " (mount the shared storage, or use --path-map)"
        return f"worker {rt.name} cannot see the source {source}{hint}"
    for folder in sorted({str(Path(o["path"]).parent) for o in local["outputs"]}):
        with contextlib.suppress(OSError):
            os.makedirs(folder, exist_ok=True)
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            return f"worker {rt.name} cannot write the output folder {folder}"
    return None


def _failed(rt: WorkerRuntime, job_id: str, reason: str) -> dict[str, Any]:
    with contextlib.suppress(OSError):
        path = log_path_for(rt.ctx.log_dir, job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"FAILED: {reason}\n")
    return {
        "job": job_id,
        "status": JobStatus.FAILED.value,
        "error": reason,
        "warning": None,
        "outputs": [],
        "worker": rt.name,
        "ffmpeg_version": rt.ctx.ffmpeg_version,
        "seconds": 0.0,
    }


def _log_tail(path: str | None) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - LOG_TAIL_BYTES))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def register_task(app: Celery) -> None:
    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_job_task(self: Any, spec: dict[str, Any], submission: str) -> str:
        if _runtime is None:
            raise RuntimeError("this process is not a Reelforge worker")
        delivery = self.request.delivery_info or {}
        queue = str(delivery.get("routing_key") or "")
        queue = queue if queue in QUEUES else "other"
        if queue == HEAVY and (hold := _runtime.heavy_held_now()):
            # Back to the queue untouched, for whichever worker may run heavy jobs.
            raise Reject(f"heavy jobs are held: {hold}", requeue=True)
        outcome = execute(
            _runtime,
            spec,
            submission,
            str(self.request.id),
            queue=queue,
            redelivered=bool(delivery.get("redelivered")),
        )
        log.info("job %s: %s", spec.get("id"), outcome)
        return outcome


def run_worker(
    *,
    broker: str,
    queues: tuple[str, ...] = QUEUES,
    concurrency: int = 1,
    path_map: PathMap | None = None,
    name: str | None = None,
    ctx: RunContext,
    visibility_timeout: float | None = None,
    loglevel: str = "INFO",
    metrics: WorkerMetrics | None = None,
    log_days: int = 30,
) -> int:
    """Run a Celery worker in this process until it is stopped (SIGTERM: warm shutdown)."""
    global _runtime
    kwargs = {} if visibility_timeout is None else {"visibility_timeout": visibility_timeout}
    app = make_celery(broker, **kwargs)
    register_task(app)
    name = name or default_worker_name()
    metrics = metrics or WorkerMetrics(name)
    for queue in QUEUES:
        metrics.consuming.labels(queue).set(1 if queue in queues else 0)
    rt = _runtime = WorkerRuntime(
        name,
        ctx,
        path_map or PathMap(),
        redis.Redis.from_url(broker),
        metrics,
        queues=tuple(queues),
        log_days=log_days,
        app=app,
    )

    def on_ready(sender: Any, **_: Any) -> None:
        rt.node = str(sender.hostname)  # remote control reaches its consumer from now on

    signals.worker_ready.connect(on_ready, weak=False, dispatch_uid="reelforge-worker-ready")
    for target, thread_name in ((rt.watch, "rf-heartbeat"), (rt.follow_schedule, "rf-schedule")):
        threading.Thread(target=target, name=thread_name, daemon=True).start()
    argv = [
        "worker",
        f"--hostname={name}",
        f"--queues={','.join(queues)}",
        f"--concurrency={max(1, concurrency)}",
        # run_job waits on ffmpeg: threads are enough, like the local lanes. One process also
        # keeps WorkerMetrics exact with one registry (a prefork pool would need prometheus
        # multiprocess mode), and lets the heartbeat and schedule threads see every job.
        "--pool=threads",
        "--task-events",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={loglevel}",
    ]
    try:
        app.worker_main(argv)
    finally:
        _runtime.stop.set()
        with contextlib.suppress(redis.RedisError):
            _runtime.client.delete(keys.worker(name))
    return 0
