"""An alert's quiet period outlives a restart: the last notification comes from the stored
alert history, so an app that notified and restarts does not notify the same rule again
until the quiet period is over."""

from __future__ import annotations

import time
from pathlib import Path

from reelforge.bootstrap import build
from reelforge.config import Paths
from reelforge.domain.events import AlertRaised, WorkerLost
from reelforge.storage.engine import open_database
from reelforge.storage.monitoring import MonitoringStore

MIN = 60.0


def test_last_notified_replays_the_quiet_rule_over_the_stored_raises(reelforge_home: Path) -> None:
    engine = open_database(Paths.from_env().ensure().database)
    store = MonitoringStore(engine)
    t0 = 1_800_000_000.0
    try:
        # Quiet 30 min: 0 notifies, 20 is quiet, 35 notifies (35 min after 0), 50 is quiet.
        for minute in (0, 20, 35, 50):
            store.add_alert("failure_spike", "critical", f"m{minute}", "", "", t0 + minute * MIN)
        store.add_alert("worker_lost", "critical", "w", "", "wA", t0 + 5 * MIN)
        last = store.last_notified(30 * MIN)
        assert last == {"failure_spike": t0 + 35 * MIN, "worker_lost": t0 + 5 * MIN}
        # With no quiet period every raise notified: the newest one counts.
        assert store.last_notified(0)["failure_spike"] == t0 + 50 * MIN
    finally:
        engine.dispose()


def _lost(app: object, worker: str) -> AlertRaised:
    raised: list[AlertRaised] = []
    app.bus.subscribe(AlertRaised, raised.append)  # type: ignore[attr-defined]
    app.bus.publish(WorkerLost(worker, "no heartbeat"))  # type: ignore[attr-defined]
    (alert,) = raised
    return alert


def test_a_restart_does_not_notify_again_within_the_quiet_period(
    qapp: object, reelforge_home: Path
) -> None:
    (reelforge_home / "alerts.toml").write_text("quiet_minutes = 30\n")
    first = build()
    try:
        assert _lost(first, "wA").notify
    finally:
        first.close(interrupt=False)

    again = build()  # a restart: a new engine, the same history
    try:
        alert = _lost(again, "wB")
        assert alert.rule == "worker_lost" and not alert.notify
        # Raised all the same: the history has both, the second one quiet.
        assert [a.key for a in again.store.alerts()] == ["wB", "wA"]
        # Once the quiet period since the stored notification is over, it notifies again.
        later = time.time() + 31 * MIN
        again.alerts.engine.clock = lambda: later  # type: ignore[union-attr]
        assert _lost(again, "wC").notify
    finally:
        again.close(interrupt=False)
