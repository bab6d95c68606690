"""Alert rules: a TOML file with defaults, validated on load.

``$REELFORGE_HOME/alerts.toml`` (every key optional; a missing file means the defaults)::

    quiet_minutes = 30        # at most one notification per rule in this time

    [failure_spike]           # N failures within M minutes pause the whole queue
    enabled = true
    failures = 5
    minutes = 10
    pause_queue = true

    [low_disk]                # free space on an output volume under the margin; the heavy lane
    enabled = true            # also pauses when the next job's estimate + margin do not fit,
    margin_gb = 0.5           # and resumes by itself when space is back

    [queue_stalled]           # jobs running but nothing moved (progress, log, finish)
    enabled = true
    minutes = 15

    [worker_lost]             # a cluster worker stopped answering
    enabled = true

    [source_failing]          # the same source failed N times within H hours
    enabled = true
    failures = 3
    hours = 24

A bad file is reported in one line naming the field, and the defaults are used.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ALERTS_FILE = "alerts.toml"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True


class FailureSpike(_Rule):
    failures: int = Field(5, ge=1, le=10_000)
    minutes: float = Field(10.0, gt=0, le=24 * 60)
    pause_queue: bool = True


class LowDisk(_Rule):
    margin_gb: float = Field(0.5, ge=0, le=100_000)  # DiskGuard's margin: 512 MB

    @property
    def margin_bytes(self) -> int:
        return int(self.margin_gb * 1024**3)


class QueueStalled(_Rule):
    minutes: float = Field(15.0, gt=0, le=7 * 24 * 60)


class WorkerLostRule(_Rule):
    pass


class SourceFailing(_Rule):
    failures: int = Field(3, ge=1, le=10_000)
    hours: float = Field(24.0, gt=0, le=24 * 365)


class AlertRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    quiet_minutes: float = Field(30.0, ge=0, le=7 * 24 * 60)
    failure_spike: FailureSpike = FailureSpike()
    low_disk: LowDisk = LowDisk()
    queue_stalled: QueueStalled = QueueStalled()
    worker_lost: WorkerLostRule = WorkerLostRule()
    source_failing: SourceFailing = SourceFailing()


def load_rules(path: Path) -> tuple[AlertRules, str | None]:
    """The rules in the file (defaults for what it leaves out), and a one-line problem if the
    file could not be used (then every rule has its default)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AlertRules(), None
    except OSError as err:
        return AlertRules(), f"{path.name}: {err.strerror or err}"
    try:
        return AlertRules.model_validate(tomllib.loads(text)), None
    except tomllib.TOMLDecodeError as err:
        return AlertRules(), f"{path.name}: {err}"
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return AlertRules(), f"{path.name}: {where}: {first['msg']} (defaults used)"
