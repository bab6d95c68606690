"""Redis keys shared by the submitter and the workers (beside Celery's own, never inside them).

- attempt:{job}  the task id of the job's current attempt. A worker runs a delivery only when its
  task id is the current one, so a late redelivery (visibility timeout) or a revoked attempt
  that slipped through is dropped instead of run a second time.
- cancel:{task}  set by the submitter to stop a running attempt (value: the reason).
- worker:{name}  a worker's heartbeat; it expires when the worker stops refreshing it.
- relay:{submission}  the list workers push started/progress/log/finished messages to; the
  submitter pops them in order and republishes them as bus events.
"""

from __future__ import annotations

PREFIX = "reelforge:"
ATTEMPT_TTL = 7 * 24 * 3600  # a job may wait in the broker for days; then it is abandoned
CANCEL_TTL = 24 * 3600
RELAY_TTL = 24 * 3600
HEARTBEAT_EVERY = 2.0  # seconds between a worker's heartbeats
HEARTBEAT_TTL = 12.0  # a worker silent this long is gone (the submitter resends its jobs)


def attempt(job_id: str) -> str:
    return f"{PREFIX}attempt:{job_id}"


def cancel(task_id: str) -> str:
    return f"{PREFIX}cancel:{task_id}"


def worker(name: str) -> str:
    return f"{PREFIX}worker:{name}"


def relay(submission: str) -> str:
    return f"{PREFIX}relay:{submission}"
