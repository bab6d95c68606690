"""The Prometheus exporter: events in, counters and gauges out, scraped over HTTP."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from reelforge.bus import Bus
from reelforge.domain.events import (
    AlertRaised,
    JobFinished,
    JobsQueued,
    JobStarted,
    QueuedJob,
    QueueStateChanged,
)
from reelforge.observability.prometheus import PrometheusExporter


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_events_become_metrics_on_a_port(qapp) -> None:
    bus = Bus()
    exporter = PrometheusExporter(bus, clock=lambda: 1000.0)
    port = exporter.serve(0)
    try:
        before = scrape(port)
        assert before[("reelforge_queue_depth", (("lane", "heavy"),))] == 0
        jobs = (
            QueuedJob("e1", "encode", "web", "web: 720p", "/v/a.mp4"),
            QueuedJob("e2", "encode", "web", "web: 720p", "/v/b.mp4"),
            QueuedJob("p1", "thumbnails", "web", "web: poster", "/v/a.mp4"),
        )
        bus.publish(JobsQueued(1, jobs))
        bus.publish(JobStarted("e1"))
        bus.publish(JobStarted("p1"))
        bus.publish(
            JobFinished(
                "p1", "succeeded", seconds=1.5, outputs=({"path": "/o/p.jpg", "size": 300},)
            )
        )
        bus.publish(JobFinished("e1", "failed", error="boom", seconds=4.0))
        bus.publish(QueueStateChanged("heavy", True, "low disk"))
        bus.publish(AlertRaised("low_disk", "critical", "low disk on /", "paused"))
        m = scrape(port)
        assert m[("reelforge_jobs_queued_total", (("kind", "encode"), ("lane", "heavy")))] == 2
        assert m[("reelforge_jobs_started_total", (("lane", "heavy"),))] == 1
        assert m[("reelforge_jobs_finished_total", (("lane", "heavy"), ("status", "failed")))] == 1
        assert (
            m[("reelforge_jobs_finished_total", (("lane", "light"), ("status", "succeeded")))] == 1
        )
        assert m[("reelforge_job_run_seconds_count", (("lane", "heavy"),))] == 1
        assert m[("reelforge_job_run_seconds_sum", (("lane", "light"),))] == 1.5
        assert m[("reelforge_output_bytes_total", ())] == 300
        assert m[("reelforge_queue_depth", (("lane", "heavy"),))] == 1  # e2 still waits
        assert m[("reelforge_jobs_running", (("lane", "heavy"),))] == 0
        assert m[("reelforge_lane_paused", (("lane", "heavy"),))] == 1
        assert m[("reelforge_alerts_total", (("rule", "low_disk"),))] == 1
    finally:
        exporter.close()
