"""The worker's half of the relay: push a job's messages to its submitter's list, in order.

Progress and log lines are best effort (dropped while Redis is away: only the latest matters).
The finished message is not: it is retried until Redis takes it, so a result survives a broker
that goes away while the job runs.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

from reelforge.cluster import keys

log = logging.getLogger("reelforge.cluster")


class RelaySender:
    def __init__(self, client: redis.Redis, submission: str, job_id: str, task_id: str) -> None:
        self._r, self._key = client, keys.relay(submission)
        self._base = {"job": job_id, "task": task_id}

    def send(self, kind: str, **fields: Any) -> bool:
        try:
            self._push({**self._base, "type": kind, **fields})
            return True
        except redis.RedisError:
            return False

    def send_surely(self, kind: str, *, give_up_after: float = 6 * 3600.0, **fields: Any) -> bool:
        deadline = time.monotonic() + give_up_after
        delay = 0.5
        while True:
            try:
                self._push({**self._base, "type": kind, **fields})
                return True
            except redis.RedisError as err:
                if time.monotonic() > deadline:
                    log.error("gave up relaying %s of job %s: %s", kind, self._base["job"], err)
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _push(self, message: dict[str, Any]) -> None:
        pipe = self._r.pipeline()
        pipe.rpush(self._key, json.dumps(message, separators=(",", ":")))
        pipe.expire(self._key, keys.RELAY_TTL)
        pipe.execute()
