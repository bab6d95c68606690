"""`reelforge worker --metrics-port`: a real worker serves Prometheus metrics of the jobs it ran,
per queue and kind, matching what the submitter's history says."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from checkers import run_cli
from clusterkit import RedisServer, StartWorker, free_port, sample, scrape, wait_for
from mediagen import make_clip
from reelforge.domain.jobs import LANE_OF, JobKind

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", autouse=True)
def _qt(qapp: Any) -> None:
    """run_cli() builds the engine in this process; it needs a Q(Core)Application."""


def test_worker_metrics_count_the_jobs_it_ran(
    tmp_path: Path, redis_server: RedisServer, start_worker: StartWorker
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size="320x180", seconds=1.0)
    port = free_port()
    start_worker("wM", extra=("--metrics-port", str(port)))
    page = scrape(port)
    assert sample(page, "reelforge_worker_info", worker="wM", version=_version()) == 1
    assert sample(page, "reelforge_worker_consuming", queue="heavy") == 1
    assert sample(page, "reelforge_worker_consuming", queue="light") == 1

    run = run_cli(
        [
            "process",
            clip,
            "-p",
            "web",
            "-p",
            "audio",
            "-o",
            tmp_path / "out",
            "--json",
            "--broker",
            redis_server.url,
        ],
        home=tmp_path / "home",
    )
    assert run.rc == 0, run.stderr
    jobs = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    ran = Counter(
        (LANE_OF[JobKind(j["kind"])].value, j["kind"], j["status"])
        for j in jobs
        if j.get("worker") == "wM"
    )
    assert {kind for _, kind, _ in ran} >= {"encode", "audio"}  # both queues were used
    assert {status for *_, status in ran} == {"succeeded"}

    def finished() -> float:
        page = scrape(port)
        return sum(
            sample(page, "reelforge_worker_tasks_finished_total", queue=q, kind=k, status=s)
            for q, k, s in ran
        )

    # The submitter can see a result a moment before the worker's counters move on.
    wait_for(lambda: finished() == sum(ran.values()), 10, "the worker's counters")
    page = scrape(port)
    for (queue, kind, status), n in ran.items():
        labels = {"queue": queue, "kind": kind}
        assert sample(page, "reelforge_worker_tasks_received_total", **labels) == n, labels
        assert sample(page, "reelforge_worker_tasks_started_total", **labels) == n, labels
        assert sample(page, "reelforge_worker_tasks_finished_total", **labels, status=status) == n
        assert sample(page, "reelforge_worker_task_seconds_count", **labels) == n, labels
        assert sample(page, "reelforge_worker_task_seconds_sum", **labels) > 0, labels
        assert sample(page, "reelforge_worker_tasks_dropped_total", **labels) == 0, labels
    for queue in ("light", "heavy"):
        assert sample(page, "reelforge_worker_tasks_running", queue=queue) == 0
    assert sample(page, "reelforge_worker_speed") == 0  # nothing runs: no speed left behind


def _version() -> str:
    from reelforge.__about__ import __version__

    return __version__
