"""The same events as Prometheus metrics, served over HTTP for an existing Prometheus/Grafana.

`reelforge watch --metrics-port N` (and `process`/`resume`) serve PrometheusExporter, fed by
the bus events. `reelforge worker --metrics-port N` serves WorkerMetrics: a worker has no bus
(its jobs' events are the submitter's), so its task function feeds them as it runs each
delivery. Counters only ever go up (Prometheus computes rates); gauges say what is true now.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from reelforge.__about__ import __version__
from reelforge.domain.events import (
    AlertRaised,
    Event,
    JobFinished,
    JobsQueued,
    JobStarted,
    QueueStateChanged,
    WorkerLost,
)
from reelforge.domain.jobs import LANE_OF, JobKind
from reelforge.observability.live import LiveState

LANES = ("light", "heavy")
_RUN_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class _Endpoint:
    """Serves one registry's /metrics on a daemon thread."""

    registry: CollectorRegistry
    _server: Any = None

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve /metrics on a daemon thread; returns the port (0 picks a free one)."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class PrometheusExporter(_Endpoint):
    def __init__(
        self,
        bus: Any,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.live = LiveState(clock)
        self._lane_at_start: dict[str, str] = {}
        self.queued = Counter("reelforge_jobs_queued", "Jobs queued", ["lane", "kind"], registry=r)
        self.started = Counter("reelforge_jobs_started", "Jobs started", ["lane"], registry=r)
        self.finished = Counter(
            "reelforge_jobs_finished", "Jobs finished", ["lane", "status"], registry=r
        )
        self.run_seconds = Histogram(
            "reelforge_job_run_seconds",
            "Run time of finished jobs",
            ["lane"],
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.bytes_out = Counter(
            "reelforge_output_bytes", "Bytes of verified outputs written", registry=r
        )
        self.alerts = Counter("reelforge_alerts", "Alerts raised", ["rule"], registry=r)
        self.workers_lost = Counter("reelforge_workers_lost", "Cluster workers lost", registry=r)
        self.depth = Gauge("reelforge_queue_depth", "Jobs waiting", ["lane"], registry=r)
        self.running = Gauge("reelforge_jobs_running", "Jobs running", ["lane"], registry=r)
        self.paused = Gauge(
            "reelforge_lane_paused", "1 while a lane is paused", ["lane"], registry=r
        )
        self.speed = Gauge("reelforge_speed", "Sum of running jobs' speed, x real time", registry=r)
        host = Gauge("reelforge_info", "This process", ["host"], registry=r)
        host.labels(socket.gethostname()).set(1)
        for lane in LANES:  # every series exists from the first scrape, at zero
            self.depth.labels(lane).set(0)
            self.running.labels(lane).set(0)
            self.paused.labels(lane).set(0)
        self._server: Any = None
        bus.subscribe_all(self.observe)

    def observe(self, event: Event) -> None:
        self.live.observe(event)
        if isinstance(event, JobsQueued):
            for job in event.jobs:
                lane = LANE_OF[JobKind(job.kind)].value
                self.queued.labels(lane, job.kind).inc()
        elif isinstance(event, JobStarted):
            lane = self.live.lane_of.get(event.job_id)
            if lane:
                self.started.labels(lane).inc()
                self._lane_at_start[event.job_id] = lane
        elif isinstance(event, JobFinished):
            lane = self._lane_at_start.pop(event.job_id, None) or "unknown"
            self.finished.labels(lane, event.status).inc()
            if event.seconds is not None:
                self.run_seconds.labels(lane).observe(float(event.seconds))
            self.bytes_out.inc(sum(int(o.get("size") or 0) for o in event.outputs))
        elif isinstance(event, AlertRaised):
            self.alerts.labels(event.rule).inc()
        elif isinstance(event, WorkerLost):
            self.workers_lost.inc()
        elif isinstance(event, QueueStateChanged):
            self.paused.labels(event.lane).set(1 if event.paused else 0)
        for lane, n in self.live.depth().items():
            self.depth.labels(lane).set(n)
        for lane, n in self.live.running_now().items():
            self.running.labels(lane).set(n)
        self.speed.set(self.live.speed_now())


KINDS = frozenset(k.value for k in JobKind)


def _kind(spec: dict[str, Any]) -> str:
    kind = spec.get("kind")  # from a message: only known values become label values
    return kind if isinstance(kind, str) and kind in KINDS else "unknown"


class WorkerMetrics(_Endpoint):
    """A cluster worker's deliveries, jobs and queues, per queue and job kind.

    The worker runs its jobs on a thread pool in one process (cluster/worker.py), so one
    registry in that process sees every job; no multiprocess aggregation is needed.
    """

    def __init__(self, worker: str, *, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        qk = ["queue", "kind"]
        self.received = Counter(
            "reelforge_worker_tasks_received",
            "Job deliveries taken from the broker",
            qk,
            registry=r,
        )
        self.redelivered = Counter(
            "reelforge_worker_tasks_redelivered",
            "Deliveries the broker had handed out before (a lost worker's or timed-out message)",
            qk,
            registry=r,
        )
        self.dropped = Counter(
            "reelforge_worker_tasks_dropped",
            "Deliveries dropped: not the job's current attempt (cancelled or sent again)",
            qk,
            registry=r,
        )
        self.started = Counter(
            "reelforge_worker_tasks_started", "Jobs this worker started", qk, registry=r
        )
        self.finished = Counter(
            "reelforge_worker_tasks_finished",
            "Jobs finished here, by status (refused: this worker could not run it)",
            [*qk, "status"],
            registry=r,
        )
        self.running = Gauge(
            "reelforge_worker_tasks_running", "Jobs running now", ["queue"], registry=r
        )
        self.seconds = Histogram(
            "reelforge_worker_task_seconds",
            "Run time of the jobs this worker ran",
            qk,
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.speed = Gauge(
            "reelforge_worker_speed", "Sum of running jobs' ffmpeg speed, x real time", registry=r
        )
        self.consuming = Gauge(
            "reelforge_worker_consuming",
            "1 while this worker takes jobs from the queue (0: held, e.g. outside heavy hours)",
            ["queue"],
            registry=r,
        )
        info = Gauge("reelforge_worker_info", "This worker", ["worker", "version"], registry=r)
        info.labels(worker, __version__).set(1)
        self._speeds: dict[str, float] = {}  # task id -> latest ffmpeg speed
        self._lock = threading.Lock()
        self.speed.set_function(self._speed_now)
        for lane in LANES:
            self.running.labels(lane).set(0)

    def delivered(self, queue: str, spec: dict[str, Any], *, redelivered: bool) -> None:
        self.received.labels(queue, _kind(spec)).inc()
        if redelivered:
            self.redelivered.labels(queue, _kind(spec)).inc()

    def dropped_stale(self, queue: str, spec: dict[str, Any]) -> None:
        self.dropped.labels(queue, _kind(spec)).inc()

    def refused(self, queue: str, spec: dict[str, Any]) -> None:
        self.finished.labels(queue, _kind(spec), "refused").inc()

    def job_started(self, queue: str, spec: dict[str, Any]) -> None:
        self.started.labels(queue, _kind(spec)).inc()
        self.running.labels(queue).inc()

    def progress(self, task_id: str, speed: object) -> None:
        if isinstance(speed, int | float) and speed >= 0:
            with self._lock:
                self._speeds[task_id] = float(speed)

    def job_finished(
        self, queue: str, spec: dict[str, Any], task_id: str, status: str, seconds: float
    ) -> None:
        with self._lock:
            self._speeds.pop(task_id, None)
        self.running.labels(queue).dec()
        self.finished.labels(queue, _kind(spec), status).inc()
        self.seconds.labels(queue, _kind(spec)).observe(seconds)

    def _speed_now(self) -> float:
        with self._lock:
            return sum(self._speeds.values())
