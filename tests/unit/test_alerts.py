"""Alert rules: defaults and the TOML file; each rule fires once per condition, notifies once
per quiet period, and clears when its condition ends. Fake clock throughout."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.domain.events import (
    JobFinished,
    JobProgressed,
    JobsQueued,
    JobStarted,
    QueuedJob,
    QueueStateChanged,
    WorkerLost,
)
from reelforge.observability.alert_rules import AlertRules, load_rules
from reelforge.observability.alerts import AlertEngine, Clear, Raise

T0 = 1_790_000_000.0
MIN = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def engine(toml: str = "", tmp_path: Path | None = None) -> tuple[AlertEngine, Clock]:
    rules = AlertRules()
    if toml and tmp_path is not None:
        (tmp_path / "alerts.toml").write_text(toml)
        rules, problem = load_rules(tmp_path / "alerts.toml")
        assert problem is None
    clock = Clock()
    return AlertEngine(rules, clock), clock


def queue(e: AlertEngine, n: int, source: str | None = None, prefix: str = "j") -> list[str]:
    """n jobs, of one source, or (None) each of its own."""
    ids = [f"{prefix}{i}" for i in range(n)]
    jobs = tuple(QueuedJob(i, "encode", "web", "web", source or f"/v/{i}.mp4") for i in ids)
    e.observe(JobsQueued(1, jobs))
    return ids


def fail(e: AlertEngine, job_id: str) -> list:
    return e.observe(JobFinished(job_id, "failed", error="boom"))


def test_rules_default_and_from_toml(tmp_path: Path) -> None:
    rules, problem = load_rules(tmp_path / "missing.toml")
    assert problem is None and rules == AlertRules()
    assert (rules.failure_spike.failures, rules.failure_spike.minutes) == (5, 10.0)
    assert rules.quiet_minutes == 30 and rules.low_disk.margin_bytes == 512 * 1024**2
    path = tmp_path / "alerts.toml"
    path.write_text(
        "quiet_minutes = 5\n[failure_spike]\nfailures = 2\n[worker_lost]\nenabled = false\n"
    )
    rules, problem = load_rules(path)
    assert problem is None
    assert rules.quiet_minutes == 5 and rules.failure_spike.failures == 2
    assert rules.failure_spike.minutes == 10.0 and not rules.worker_lost.enabled
    path.write_text("[failure_spike]\nfailures = 0\n")
    rules, problem = load_rules(path)
    assert rules == AlertRules()
    assert problem is not None and "failure_spike.failures" in problem and "defaults" in problem
    path.write_text("[nonsense\n")
    assert load_rules(path)[1].startswith("alerts.toml: ")


def test_failure_spike_fires_once_per_spike_and_notifies_once_per_quiet_period() -> None:
    e, clock = engine()
    ids = queue(e, 20)
    for job in ids[:4]:
        assert fail(e, job) == []
        clock.now += MIN
    (first,) = fail(e, ids[4])
    assert isinstance(first, Raise) and first.rule == "failure_spike" and first.notify
    assert first.severity == "critical" and first.message == "5 jobs failed within 10 min"
    # Five more failures soon after: the action repeats, the notification does not.
    out = [d for job in ids[5:10] for d in fail(e, job)]
    assert len(out) == 1 and out[0].notify is False
    clock.now += 31 * MIN
    out = [d for job in ids[10:15] for d in fail(e, job)]
    assert len(out) == 1 and out[0].notify is True


def test_failures_spread_out_are_no_spike() -> None:
    e, clock = engine()
    for job in queue(e, 10):
        assert not any(d.rule == "failure_spike" for d in fail(e, job))
        clock.now += 3 * MIN  # 10 failures, but never 5 within 10 minutes


def test_spike_clears_when_the_queue_is_resumed() -> None:
    e, _ = engine()
    for job in queue(e, 5):
        fail(e, job)
    assert e.active("failure_spike")
    e.observe(QueueStateChanged("light", True, "failure spike"))
    e.observe(QueueStateChanged("heavy", True, "failure spike"))
    assert e.observe(QueueStateChanged("light", False, "resumed by you")) == []
    (clear,) = e.observe(QueueStateChanged("heavy", False, "resumed by you"))
    assert isinstance(clear, Clear) and clear.rule == "failure_spike"


def test_same_source_failing_repeatedly(tmp_path: Path) -> None:
    e, clock = engine("[failure_spike]\nenabled = false\n", tmp_path)
    a = queue(e, 3, "/v/a.mp4", "a")
    b = queue(e, 2, "/v/b.mp4", "b")
    assert fail(e, a[0]) == [] and fail(e, b[0]) == [] and fail(e, a[1]) == []
    clock.now += 3600
    (d,) = fail(e, a[2])
    assert (d.rule, d.key, d.severity) == ("source_failing", "/v/a.mp4", "warning")
    assert d.message == "/v/a.mp4 failed 3 times within 24 h"
    assert fail(e, b[1]) == []


def test_queue_stalled_fires_once_and_clears_on_progress() -> None:
    e, clock = engine()
    (job,) = queue(e, 1)
    assert e.tick() == []  # nothing running: never stalled
    e.observe(JobStarted(job))
    clock.now += 14 * MIN
    assert e.tick() == []
    clock.now += MIN
    (d,) = e.tick()
    assert d.rule == "queue_stalled" and "nothing moved for 15 min" in d.message
    clock.now += 10 * MIN
    assert e.tick() == []  # still the same stall: no second alert
    (c,) = e.observe(JobProgressed(job, 50.0))
    assert isinstance(c, Clear) and c.rule == "queue_stalled"


def test_worker_lost_each_time() -> None:
    e, _ = engine()
    (d,) = e.observe(WorkerLost("node-2", "no heartbeat for 60 s", ("j1", "j2")))
    assert d.rule == "worker_lost" and d.key == "node-2" and d.severity == "critical"
    assert "2 job(s) it was running go back to the queue" in d.message
    (d2,) = e.observe(WorkerLost("node-3"))
    assert d2.notify is False  # same rule within the quiet period


def test_low_disk_is_one_alert_per_condition() -> None:
    e, _ = engine()
    (d,) = e.disk("/srv", 10, None, "low disk space on /srv: 10 B free")
    assert d.rule == "low_disk" and d.key == "/srv"
    assert e.disk("/srv", 10, None, "low disk space on /srv: 10 B free") == []
    assert e.disk("/other", 10**12, None, None) == []
    (c,) = e.disk("/srv", 10**12, None, None)
    assert isinstance(c, Clear) and c.message.startswith("disk space is back on /srv")


@pytest.mark.parametrize("rule", ["failure_spike", "queue_stalled", "low_disk"])
def test_a_disabled_rule_stays_quiet(tmp_path: Path, rule: str) -> None:
    e, clock = engine(f"[{rule}]\nenabled = false\n", tmp_path)
    ids = queue(e, 6)
    out = [d for job in ids[:5] for d in fail(e, job)]
    e.observe(JobStarted(ids[5]))
    clock.now += 60 * MIN
    out += e.tick() + e.disk("/srv", 0, None, "low")
    assert rule not in {d.rule for d in out}
