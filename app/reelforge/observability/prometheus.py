"""The same events as Prometheus metrics, served over HTTP for an existing Prometheus/Grafana.

`reelforge watch --metrics-port N` (and `process`/`resume`) serve them; a cluster worker will
do the same. Counters only ever go up (Prometheus computes rates); gauges say what is true now.
Everything is fed by bus events, nothing is counted anywhere else.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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


class PrometheusExporter:
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
