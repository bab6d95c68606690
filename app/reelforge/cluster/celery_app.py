"""The Celery app both sides build from the broker URL: JSON only, late acks, one at a time.

- accept_content json only: a pickled message is refused by the worker, never unpickled.
- acks_late + reject_on_worker_lost: a message is acknowledged when its job has finished, so a
  worker that dies mid-job does not lose it.
- prefetch 1: a worker holds no more messages than it has free slots.
- visibility_timeout: how long Redis waits before it redelivers an unacknowledged message; it
  must be longer than the longest job. A lost worker does not cost this long: the submitter
  watches worker heartbeats and sends such jobs again itself (keys.attempt drops the stale copy).
"""

from __future__ import annotations

from typing import Any

from celery import Celery

TASK_NAME = "reelforge.run_job"
QUEUES = ("light", "heavy")
DEFAULT_VISIBILITY_TIMEOUT = 12 * 3600.0


def make_celery(broker: str, *, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> Celery:
    app = Celery("reelforge", broker=broker, set_as_current=False)
    app.conf.update(_settings(visibility_timeout))
    return app


def _settings(visibility_timeout: float) -> dict[str, Any]:
    return {
        "accept_content": ["json"],
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {"visibility_timeout": int(visibility_timeout)},
        "worker_send_task_events": True,  # Flower sees the tasks
        "task_send_sent_event": True,
        "task_ignore_result": True,  # results travel on the relay list (keys.relay)
        "task_default_queue": "light",
        "task_create_missing_queues": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a worker waits for its broker, however long
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }
