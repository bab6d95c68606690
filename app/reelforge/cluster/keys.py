"""Redis keys shared by the submitter and the workers (beside Celery's own, never inside them).

- attempt:{job}  the task id of the job's current attempt. A worker runs a delivery only when its
  task id is the current one, so a late redelivery (visibility timeout) or a revoked attempt
  that slipped through is dropped instead of run a second time.
- cancel:{task}  set by the submitter to stop a running attempt (value: the reason).
- worker:{name}  a worker's heartbeat; it expires when the worker stops refreshing it.
- relay:{submission}  the list workers push started/progress/log/finished messages to; the
  submitter pops them in order and republishes them as bus events.
- hold:heavy  set by `reelforge beat` outside heavy-job hours (value: the reason, with a TTL so
  a beat that is gone holds nothing); workers stop taking heavy jobs while it exists.
- housekeeping  the latest housekeeping request from beat (JSON: time and output folders);
  each worker runs its own housekeeping once per new value, and at start.
"""

from __future__ import annotations

PREFIX = "reelforge:"
ATTEMPT_TTL = 7 * 24 * 3600  # a job may wait in the broker for days; then it is abandoned
CANCEL_TTL = 24 * 3600
RELAY_TTL = 24 * 3600
HEARTBEAT_EVERY = 2.0  # seconds between a worker's heartbeats
HEARTBEAT_TTL = 12.0  # a worker silent this long is gone (the submitter resends its jobs)


HOLD_HEAVY = f"{PREFIX}hold:heavy"
HOUSEKEEPING = f"{PREFIX}housekeeping"


def attempt(job_id: str) -> str:
    return f"{PREFIX}attempt:{job_id}"


def cancel(task_id: str) -> str:
    return f"{PREFIX}cancel:{task_id}"


def worker(name: str) -> str:
    return f"{PREFIX}worker:{name}"


def relay(submission: str) -> str:
    return f"{PREFIX}relay:{submission}"
