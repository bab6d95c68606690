"""Reads and writes for metrics, alerts, watch folders and retention.

Kept apart from repository.py (the job history's own reads and writes): these tables and
queries serve observability and the watch service. Same rules: one short transaction per call,
plain values out, never ORM objects.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reelforge.storage.engine import writer

_FMT = "%Y-%m-%d %H:%M:%S.%f"  # how UTCDateTime stores a time in SQLite (see models.py)


def _to_db(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(_FMT)


def _from_db(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(str(text)).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class JobFact:
    """What metrics need to know about one job (times are epoch seconds, UTC)."""

    kind: str
    lane: str
    preset: str
    status: str
    source: str
    queued_at: float
    started_at: float | None
    finished_at: float | None
    seconds: float | None
    source_bytes: int
    media_seconds: float
    fps: float | None
    bytes_out: int


@dataclass(frozen=True)
class AlertRecord:
    id: int
    rule: str
    severity: str
    message: str
    action: str
    key: str
    raised_at: float
    cleared_at: float | None
    cleared_message: str | None


_FACTS = sa.text(
    """
    SELECT j.kind, j.lane, j.preset, j.status, j.source_path, j.queued_at, j.started_at,
           j.finished_at, j.seconds, s.size, s.duration,
           json_extract(s.media_info, '$.video[0].fps'),
           (SELECT coalesce(sum(o.size), 0) FROM outputs o WHERE o.job_id = j.id)
    FROM jobs j LEFT JOIN sources s ON s.id = j.source_id
    WHERE j.finished_at IS NULL OR j.finished_at >= :since
    """
)


class MonitoringStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._lock = threading.RLock()

    @contextmanager
    def _conn(self, *, write: bool = False) -> Iterator[sa.Connection]:
        with self._lock, (self._writer if write else self._engine).begin() as conn:
            yield conn

    # -- metrics -----------------------------------------------------------------------------

    def job_facts(self, since: float) -> list[JobFact]:
        """Jobs finished since `since`, and every job not finished (queued, running, ...)."""
        with self._conn() as conn:
            rows = conn.execute(_FACTS, {"since": _to_db(since)}).all()
        facts = []
        for r in rows:
            fps = r[11]
            facts.append(
                JobFact(
                    kind=r[0],
                    lane=r[1],
                    preset=r[2],
                    status=r[3],
                    source=r[4],
                    queued_at=_from_db(r[5]) or 0.0,
                    started_at=_from_db(r[6]),
                    finished_at=_from_db(r[7]),
                    seconds=r[8],
                    source_bytes=int(r[9] or 0),
                    media_seconds=float(r[10] or 0.0),
                    fps=float(fps) if isinstance(fps, int | float) and fps > 0 else None,
                    bytes_out=int(r[12] or 0),
                )
            )
        return facts

    def output_folders(self, since: float) -> list[str]:
        """Output folders of batches created since `since` (to measure their free space)."""
        with self._conn() as conn:
            rows = conn.execute(
                sa.text("SELECT DISTINCT out_dir FROM batches WHERE created_at >= :since"),
                {"since": _to_db(since)},
            ).all()
        return [r[0] for r in rows]

    # -- alerts ------------------------------------------------------------------------------

    def add_alert(
        self, rule: str, severity: str, message: str, action: str, key: str, at: float
    ) -> int:
        with self._conn(write=True) as conn:
            result = conn.execute(
                sa.text(
                    "INSERT INTO alerts (rule, severity, message, action, key, raised_at) "
                    "VALUES (:rule, :severity, :message, :action, :key, :at)"
                ),
                {
                    "rule": rule,
                    "severity": severity,
                    "message": message,
                    "action": action,
                    "key": key,
                    "at": _to_db(at),
                },
            )
            return int(result.lastrowid or 0)

    def clear_alerts(self, rule: str, key: str, message: str, at: float) -> int:
        """Mark the open alerts of this rule (and key) cleared; how many were open."""
        with self._conn(write=True) as conn:
            result = conn.execute(
                sa.text(
                    "UPDATE alerts SET cleared_at = :at, cleared_message = :message "
                    "WHERE rule = :rule AND key = :key AND cleared_at IS NULL"
                ),
                {"at": _to_db(at), "message": message, "rule": rule, "key": key},
            )
            return int(result.rowcount or 0)

    def last_notified(self, quiet_seconds: float) -> dict[str, float]:
        """When each rule last notified, so a restart keeps its quiet period.

        Replayed from the stored raises with the engine's own rule (a raise notifies when its
        rule's previous notification is at least `quiet_seconds` old) rather than kept in a
        column: the answer is the same while quiet_minutes is unchanged, and no schema change
        is needed. The newest raise alone would be wrong: one that stayed quiet within the
        period would push the next notification later than the rule says.
        """
        with self._conn() as conn:
            rows = conn.execute(
                sa.text("SELECT rule, raised_at FROM alerts ORDER BY rule, raised_at, id")
            ).all()
        last: dict[str, float] = {}
        for rule, raised in rows:
            at = _from_db(raised)
            if at is None:
                continue
            before = last.get(rule)
            if before is None or at - before >= quiet_seconds:
                last[rule] = at
        return last

    def alerts(self, limit: int = 500) -> list[AlertRecord]:
        """Newest first."""
        with self._conn() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT id, rule, severity, message, action, key, raised_at, cleared_at, "
                    "cleared_message FROM alerts ORDER BY raised_at DESC, id DESC LIMIT :n"
                ),
                {"n": limit},
            ).all()
        return [
            AlertRecord(
                id=r[0],
                rule=r[1],
                severity=r[2],
                message=r[3],
                action=r[4],
                key=r[5],
                raised_at=_from_db(r[6]) or 0.0,
                cleared_at=_from_db(r[7]),
                cleared_message=r[8],
            )
            for r in rows
        ]

    # -- watch folders -----------------------------------------------------------------------

    def seen_file(self, watch_key: str, path: str, size: int, mtime: float) -> bool:
        """This very file state (path, size, mtime) was taken already: no need to hash it."""
        with self._conn() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT 1 FROM watch_seen WHERE watch_key = :k AND path = :p "
                    "AND size = :s AND mtime = :m LIMIT 1"
                ),
                {"k": watch_key, "p": path, "s": size, "m": mtime},
            ).first()
        return row is not None

    def seen_content(self, watch_key: str, fingerprint: str) -> bool:
        with self._conn() as conn:
            row = conn.execute(
                sa.text("SELECT 1 FROM watch_seen WHERE watch_key = :k AND fingerprint = :f"),
                {"k": watch_key, "f": fingerprint},
            ).first()
        return row is not None

    def remember_taken(
        self,
        watch_key: str,
        fingerprint: str,
        path: str,
        size: int,
        mtime: float,
        batch_id: int | None,
        at: float,
    ) -> bool:
        """Record a taken content; False if it was already recorded (nothing written)."""
        with self._conn(write=True) as conn:
            result = conn.execute(
                sa.text(
                    "INSERT OR IGNORE INTO watch_seen "
                    "(watch_key, fingerprint, path, size, mtime, batch_id, taken_at) "
                    "VALUES (:k, :f, :p, :s, :m, :b, :at)"
                ),
                {
                    "k": watch_key,
                    "f": fingerprint,
                    "p": path,
                    "s": size,
                    "m": mtime,
                    "b": batch_id,
                    "at": _to_db(at),
                },
            )
            return bool(result.rowcount)

    def is_output(self, path: str) -> bool:
        """A file some job wrote (a watch folder must never feed on outputs)."""
        with self._conn() as conn:
            row = conn.execute(
                sa.text("SELECT 1 FROM outputs WHERE path = :p LIMIT 1"), {"p": path}
            ).first()
        return row is not None

    # -- retention ---------------------------------------------------------------------------

    def forget_before(self, cutoff: float, *, chunk: int = 100) -> int:
        """Delete batches finished before `cutoff` with their jobs, outputs and transitions
        (foreign keys cascade), sources no job refers to any more, and cleared alerts.

        A few batches per transaction, so the bus thread's own writes never wait long for the
        lock. Returns the number of jobs removed. What a watch folder took is kept: forgetting
        it would make the folder take those files again.
        """
        at = _to_db(cutoff)
        removed = 0
        while True:
            with self._conn(write=True) as conn:
                ids = [
                    r[0]
                    for r in conn.execute(
                        sa.text(
                            "SELECT id FROM batches WHERE finished_at IS NOT NULL "
                            "AND finished_at < :at ORDER BY id LIMIT :n"
                        ),
                        {"at": at, "n": chunk},
                    )
                ]
                if not ids:
                    break
                marks = ", ".join(str(int(i)) for i in ids)
                removed += conn.execute(
                    sa.text(f"SELECT count(*) FROM jobs WHERE batch_id IN ({marks})")
                ).scalar_one()
                conn.execute(sa.text(f"DELETE FROM batches WHERE id IN ({marks})"))
        with self._conn(write=True) as conn:
            conn.execute(
                sa.text(
                    "DELETE FROM sources WHERE created_at < :at AND id NOT IN "
                    "(SELECT source_id FROM jobs WHERE source_id IS NOT NULL)"
                ),
                {"at": at},
            )
            conn.execute(
                sa.text("DELETE FROM alerts WHERE cleared_at IS NOT NULL AND cleared_at < :at"),
                {"at": at},
            )
        return int(removed)
