"""Alerts that act: the engine's decisions become events, history rows and queue actions.

- A failure spike pauses every lane until a person resumes (the window's Resume, or a restart
  of a headless `reelforge watch`).
- Low disk: the heavy lane's gate (the existing DiskGuard, wrapped here so its answers become
  alerts) pauses the heavy lane and the executor resumes it when space is back; a periodic check
  also warns when an output volume is under the margin before any job asks.
- Every Raise is an AlertRaised event (notify=False within the rule's quiet period), stored in
  the alerts table; every Clear an AlertCleared.

Actions are taken only after start() (the window and `reelforge watch`): a one-off
`reelforge process` still records alerts but never pauses itself into a hang.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from reelforge.domain.events import AlertCleared, AlertRaised, Event, QueueStateChanged
from reelforge.domain.spec import JobSpec
from reelforge.domain.units import human_size
from reelforge.observability.alerts import AlertEngine, Clear, Decision, Raise
from reelforge.observability.metrics import Usage, disk_free
from reelforge.services.diskguard import DiskGuard, existing_parent
from reelforge.storage.monitoring import MonitoringStore

log = logging.getLogger("reelforge.alerts")

SPIKE_PAUSE = "failure spike"


def mount_point(path: Path) -> str:
    """The volume a path is on, named by its mount point (one alert per volume)."""
    path = existing_parent(path.absolute())
    try:
        dev = os.stat(path).st_dev
        while path.parent != path and os.stat(path.parent).st_dev == dev:
            path = path.parent
    except OSError:
        pass
    return str(path)


class DiskGate:
    """The heavy lane's gate: DiskGuard.check, with each answer reported to a listener."""

    def __init__(self, guard: DiskGuard) -> None:
        self.guard = guard
        self.listener: Callable[[str, str | None], None] | None = None

    def check(self, spec: JobSpec) -> str | None:
        reason = self.guard.check(spec)
        if self.listener is not None and spec.outputs:
            self.listener(mount_point(Path(spec.outputs[0].path).parent), reason)
        return reason


class AlertService(QObject):
    TICK_MS = 15_000

    def __init__(
        self,
        bus: object,
        engine: AlertEngine,
        executor: object,
        store: MonitoringStore,
        gate: DiskGate,
        folders: Callable[[], list[str]],
        *,
        usage: Usage | None = None,
    ) -> None:
        super().__init__()
        self._bus, self.engine, self._executor, self._store = bus, engine, executor, store
        self._folders, self._usage = folders, usage
        self.acting = False
        self._gate_low: dict[str, str] = {}  # volume -> reason the gate gave
        self._margin_low: dict[str, str] = {}  # volume -> reason of the periodic check
        self.gate = gate
        gate.listener = self._on_gate
        try:  # quiet periods outlive a restart: the history says when each rule last notified
            engine.remember_notified(store.last_notified(engine.rules.quiet_minutes * 60))
        except Exception:  # a history we cannot read costs at most one early notification
            log.exception("could not read when alerts last notified")
        self._timer = QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(self.tick)
        bus.subscribe_all(self._on_event)  # type: ignore[attr-defined]

    def start(self) -> None:
        """From now on, take actions and run the time-based rules."""
        self.acting = True
        self._timer.start()
        self.tick()

    def stop(self) -> None:
        self._timer.stop()

    # -- inputs ------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if isinstance(event, AlertRaised | AlertCleared):
            return
        if isinstance(event, QueueStateChanged) and event.lane == "heavy" and not event.paused:
            # The executor resumes the heavy lane only when its gate passes, nothing is left to
            # gate, or a person said so: the gate's last word no longer stands.
            for volume in list(self._gate_low):
                del self._gate_low[volume]
                self._disk(volume)
        self._apply(self.engine.observe(event))

    def tick(self) -> None:
        self._apply(self.engine.tick())
        self._check_margins()

    def _on_gate(self, volume: str, reason: str | None) -> None:
        if reason:
            self._gate_low[volume] = reason
        else:
            self._gate_low.pop(volume, None)
        self._disk(volume)

    def _check_margins(self) -> None:
        rule = self.engine.rules.low_disk
        if not rule.enabled:
            return
        for d in disk_free(self._folders(), self._usage):
            volume = mount_point(Path(d.path))
            if d.free < rule.margin_bytes:
                self._margin_low[volume] = (
                    f"low disk space on {volume}: {human_size(d.free) or '0 B'} free, under "
                    f"the {rule.margin_gb:g} GB margin"
                )
            else:
                self._margin_low.pop(volume, None)
            self._disk(volume, d.free)

    def _disk(self, volume: str, free: int | None = None) -> None:
        reason = self._gate_low.get(volume) or self._margin_low.get(volume)
        self._apply(self.engine.disk(volume, free, None, reason))

    # -- outputs -----------------------------------------------------------------------------
    def _apply(self, decisions: list[Decision]) -> None:
        for d in decisions:
            if isinstance(d, Raise):
                self._raised(d)
            elif isinstance(d, Clear):
                self._cleared(d)

    def _raised(self, d: Raise) -> None:
        action = self._act(d)
        try:
            self._store.add_alert(d.rule, d.severity, d.message, action, d.key, self.engine.clock())
        except Exception:  # the alert itself matters more than its history row
            log.exception("could not record alert %s", d.rule)
        self._bus.publish(  # type: ignore[attr-defined]
            AlertRaised(d.rule, d.severity, d.message, action, d.key, d.notify)
        )

    def _cleared(self, d: Clear) -> None:
        try:
            self._store.clear_alerts(d.rule, d.key, d.message, self.engine.clock())
        except Exception:
            log.exception("could not record the end of alert %s", d.rule)
        action = "heavy lane resumed" if d.rule == "low_disk" else ""
        self._bus.publish(AlertCleared(d.rule, d.message, action, d.key))  # type: ignore[attr-defined]

    def _act(self, d: Raise) -> str:
        """Do what the rule asks; say what was done (empty: nothing)."""
        if d.rule == "failure_spike" and self.engine.rules.failure_spike.pause_queue:
            if not self.acting:
                return ""
            self._executor.pause(  # type: ignore[attr-defined]
                None, f"{SPIKE_PAUSE}: {d.message}; resume when you have looked"
            )
            return "queue paused until you resume it"
        if d.rule == "low_disk" and d.key in self._gate_low:
            return "heavy lane paused until space is back"
        return ""
