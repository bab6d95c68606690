"""The worker side: the Celery task that runs the ONE job function, and `reelforge worker`.

A task delivery runs only if it is the job's current attempt (keys.attempt), after the spec's
version, the path map and the worker's view of the shared storage are checked. While it runs, a
watcher thread refreshes this worker's heartbeat and turns cancel requests into the job's
CancelToken, so ffmpeg is stopped by the same staged cancel as on the local pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from reelforge.cluster import keys
from reelforge.cluster.celery_app import QUEUES, TASK_NAME, make_celery
from reelforge.cluster.pathmap import PathMap
from reelforge.cluster.relay import RelaySender
from reelforge.domain.jobs import JobStatus
from reelforge.domain.spec import SPEC_VERSION
from reelforge.media.process import CancelToken
from reelforge.runner import RunContext, log_path_for, run_job

log = logging.getLogger("reelforge.cluster")
LOG_TAIL_BYTES = 256 * 1024  # the job log travels back with the result, up to this much
PROGRESS_EVERY = 0.25  # seconds between relayed progress messages


def default_worker_name() -> str:
    return f"rf{os.getpid()}@{socket.gethostname()}"


@dataclass
class WorkerRuntime:
    """What one worker process holds: its name, run context, path map and Redis client."""

    name: str
    ctx: RunContext
    paths: PathMap
    client: redis.Redis
    running: dict[str, CancelToken] = field(default_factory=dict)  # task id -> token
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

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


_runtime: WorkerRuntime | None = None


def execute(rt: WorkerRuntime, spec: dict[str, Any], submission: str, task_id: str) -> str:
    """One delivery of a job. Returns what happened to it, for the worker's own log."""
    job_id = str(spec.get("id", "unknown"))
    relay = RelaySender(rt.client, submission, job_id, task_id)
    current = _current_attempt(rt, job_id)
    if current is None or current.decode() != task_id:
        return "dropped: not the current attempt of this job (cancelled, or sent again)"
    refusal = _refusal(rt, spec)
    if refusal:
        relay.send_surely("finished", result=_failed(rt, job_id, refusal))
        return f"refused: {refusal}"
    local_spec = rt.paths.spec_to_worker(spec)
    token = CancelToken()
    with rt.lock:
        rt.running[task_id] = token
    relay.send_surely("started", worker=rt.name)
    last_progress = [0.0]

    def report(msg: dict[str, Any]) -> None:
        if msg.get("type") == "progress":
            now = time.monotonic()
            if now - last_progress[0] < PROGRESS_EVERY and (msg.get("percent") or 0) < 100:
                return
            last_progress[0] = now
        kind = str(msg.get("type", "log"))
        relay.send(kind, **{k: v for k, v in msg.items() if k != "type"})

    try:
        result = run_job(local_spec, report, token, rt.ctx)
    finally:
        with rt.lock:
            rt.running.pop(task_id, None)
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
        outcome = execute(_runtime, spec, submission, str(self.request.id))
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
) -> int:
    """Run a Celery worker in this process until it is stopped (SIGTERM: warm shutdown)."""
    global _runtime
    kwargs = {} if visibility_timeout is None else {"visibility_timeout": visibility_timeout}
    app = make_celery(broker, **kwargs)
    register_task(app)
    name = name or default_worker_name()
    _runtime = WorkerRuntime(name, ctx, path_map or PathMap(), redis.Redis.from_url(broker))
    watcher = threading.Thread(target=_runtime.watch, name="rf-heartbeat", daemon=True)
    watcher.start()
    argv = [
        "worker",
        f"--hostname={name}",
        f"--queues={','.join(queues)}",
        f"--concurrency={max(1, concurrency)}",
        "--pool=threads",  # run_job waits on ffmpeg: threads are enough, like the local lanes
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
