"""The history repository: every read and write of the database goes through here.

Each method is one short transaction, committed (or rolled back) before it returns, and gives
back frozen records, never ORM objects. The app calls it from one thread (the bus thread); an
RLock still serialises callers so a stray call from another thread cannot interleave.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reelforge.domain.jobs import JobKind, JobStatus, Lane, check_transition
from reelforge.domain.media_info import MediaInfo
from reelforge.domain.spec import JobSpec
from reelforge.storage.engine import DatabaseLocked, is_locked_error, writer
from reelforge.storage.models import (
    HISTORY_SEARCH_INDEX,
    BatchRow,
    JobRow,
    OutputRow,
    SourceRow,
    TransitionRow,
    search_key,
    utcnow,
)
from reelforge.storage.records import (
    BatchRecord,
    JobRecord,
    OutputRecord,
    SourceRecord,
    TransitionRecord,
)

# Not terminal: their planned output paths are still spoken for.
_PENDING = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.INTERRUPTED)
_MAX_TEXT = 2000
_IN_CHUNK = 900
_OUTPUT_FIELDS = ("size", "duration", "width", "height", "vcodec", "acodec")
# SQLite's rowid follows insertion order; it breaks created_at ties (all jobs of one add_jobs
# call share a timestamp) and is free, being the last key of every index.
_ROWID = sa.literal_column("jobs.rowid")
# A search reads the covering index alone. The planner would rather walk ix_jobs_created_at
# (it gives the exact page order) and read each table row to test it: ~60 ms instead of ~15 ms
# over 100,000 jobs. SQLAlchemy renders no index hints for SQLite, hence the text FROM (and
# table-less columns below, so that no second "jobs" joins the FROM). A missing index is then
# an error, not a silent slowdown.
_SEARCH_FROM = sa.text(f"jobs INDEXED BY {HISTORY_SEARCH_INDEX}")
_JOBS_T: sa.Table = JobRow.__table__  # type: ignore[attr-defined]
_SOURCES_T: sa.Table = SourceRow.__table__  # type: ignore[attr-defined]
_OUTPUTS_T: sa.Table = OutputRow.__table__  # type: ignore[attr-defined]
_TRANSITIONS_T: sa.Table = TransitionRow.__table__  # type: ignore[attr-defined]
_JOBS = _JOBS_T.c
# The hot statements, built once: constructing and cache-keying a statement cost more than
# running it. The UPDATE's SET clause follows the keys of the parameters it is given.
_JOB_BY_ID = sa.select(_JOBS_T).where(_JOBS.id == sa.bindparam("_id"))
_JOB_STATE = sa.select(_JOBS.status, _JOBS.attempt).where(_JOBS.id == sa.bindparam("_id"))
_UPDATE_JOB = sa.update(_JOBS_T).where(_JOBS.id == sa.bindparam("_id")).returning(*_JOBS_T.columns)
_OUTPUTS_OF = (
    sa.select(_OUTPUTS_T)
    .where(_OUTPUTS_T.c.job_id == sa.bindparam("_id"))
    .order_by(_OUTPUTS_T.c.id)
)
_DELETE_OUTPUTS = sa.delete(_OUTPUTS_T).where(_OUTPUTS_T.c.job_id == sa.bindparam("_id"))
_INSERT_OUTPUT = sa.insert(_OUTPUTS_T)
_INSERT_TRANSITION = sa.insert(_TRANSITIONS_T)
_INSERT_JOB = sa.insert(_JOBS_T)
# upsert_source's statements, built once (building them per call cost more than running them).
_SRC = _SOURCES_T.c
_SOURCE_BY_FINGERPRINT = (
    sa.select(_SRC.id)
    .where(_SRC.path == sa.bindparam("_path"), _SRC.fingerprint == sa.bindparam("_fingerprint"))
    .order_by(_SRC.id.desc())
    .limit(1)
)
_SOURCE_BY_STAT = (
    sa.select(_SRC.id)
    .where(_SRC.path == sa.bindparam("_path"), _SRC.fingerprint.is_(None),
           _SRC.size == sa.bindparam("_size"), _SRC.mtime == sa.bindparam("_mtime"))
    .order_by(_SRC.id.desc())
    .limit(1)
)  # fmt: skip
_INSERT_SOURCE = sa.insert(_SOURCES_T).returning(_SRC.id)
_UPDATE_SOURCE = sa.update(_SOURCES_T).where(_SRC.id == sa.bindparam("_id"))
_REUSABLE = (
    sa.select(_JOBS.id)
    .where(_JOBS.spec_hash == sa.bindparam("_hash"), _JOBS.status == JobStatus.SUCCEEDED.value)
    .order_by(_JOBS.finished_at.desc(), _ROWID.desc())
    .limit(1)
)
_SEARCH_COLUMNS: dict[str, sa.ColumnClause[Any]] = {
    name: sa.column(name, _JOBS[name].type)
    for name in ("created_at", "search_key", "status", "preset")
}


# Records written by transition() that get_job() serves without a query (see transition).
_RECENT_RECORDS = 256


class UnknownJob(LookupError):
    """No job with that id in the history."""


def _one_line(text: str | None) -> str | None:
    """Errors and warnings are shown in a table cell: one line, bounded length."""
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_TEXT else flat[: _MAX_TEXT - 1] + "…"


def _media_columns(media_info: Mapping[str, Any]) -> dict[str, Any]:
    """The summary columns of a source from a MediaInfo dict (what the history list shows)."""
    info = MediaInfo.from_dict(dict(media_info))
    video, audio = info.main_video, info.default_audio
    width, height = video.display_size if video else (None, None)
    return {
        "duration": info.duration or None,
        "width": width,
        "height": height,
        "vcodec": video.codec if video else None,
        "acodec": audio.codec if audio else None,
        "media_info": json.dumps(info.to_dict(), sort_keys=True),
    }


def _output(o: OutputRecord | Mapping[str, Any]) -> OutputRecord:
    if isinstance(o, OutputRecord):
        return o
    return OutputRecord(**{k: v for k, v in o.items() if k in OutputRecord.__dataclass_fields__})


def _output_record(row: OutputRow) -> OutputRecord:
    return OutputRecord(
        role=row.role, path=row.path, **{f: getattr(row, f) for f in _OUTPUT_FIELDS}
    )


def _job_record(row: JobRow, outputs: Sequence[OutputRow] = ()) -> JobRecord:
    return JobRecord(
        id=row.id,
        batch_id=row.batch_id,
        source_id=row.source_id,
        source_path=row.source_path,
        kind=JobKind(row.kind),
        lane=Lane(row.lane),
        preset=row.preset,
        label=row.label,
        status=JobStatus(row.status),
        spec_json=row.spec_json,
        spec_version=row.spec_version,
        spec_hash=row.spec_hash,
        attempt=row.attempt,
        error=row.error,
        warning=row.warning,
        log_path=row.log_path,
        app_version=row.app_version,
        ffmpeg_version=row.ffmpeg_version,
        worker=row.worker,
        created_at=row.created_at,
        queued_at=row.queued_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        seconds=row.seconds,
        outputs=tuple(_output_record(o) for o in outputs),
    )


def _source_record(row: SourceRow) -> SourceRecord:
    assert row.id is not None
    return SourceRecord(
        id=row.id,
        path=row.path,
        size=row.size,
        mtime=row.mtime,
        fingerprint=row.fingerprint,
        duration=row.duration,
        width=row.width,
        height=row.height,
        vcodec=row.vcodec,
        acodec=row.acodec,
        media_info=row.media_info,
        created_at=row.created_at,
    )


def _batch_record(row: BatchRow) -> BatchRecord:
    assert row.id is not None
    return BatchRecord(
        id=row.id,
        created_at=row.created_at,
        finished_at=row.finished_at,
        presets=tuple(p for p in row.presets.split(",") if p),
        out_dir=row.out_dir,
        origin=row.origin,
    )


def _job_values(
    spec: JobSpec,
    batch_id: int,
    source_id: int | None,
    status: JobStatus,
    now: datetime,
    app_version: str,
    ffmpeg_version: str | None,
    *,
    spec_hash: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A new job's row, for a Core executemany insert."""
    return {
        "id": spec.id,
        "batch_id": batch_id,
        "source_id": source_id,
        "source_path": spec.source,
        "search_key": search_key(spec.source),
        "kind": spec.kind.value,
        "lane": spec.lane.value,
        "preset": spec.preset,
        "label": spec.label,
        "status": status.value,
        "spec_json": spec.to_json(),
        "spec_version": spec.v,
        "spec_hash": spec_hash,
        "attempt": 1,
        "error": _one_line(error),
        "app_version": app_version,
        "ffmpeg_version": ffmpeg_version,
        "created_at": now,
        "queued_at": now,
        "finished_at": now if status.terminal else None,
    }


class Repository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._lock = threading.RLock()
        # The last records transition() committed, newest last. Every subscriber of a job's
        # JobFinished reads the job right after the history recorder wrote it (queue service,
        # CLI reporter, ...): those reads are served from here. Any write of a job through this
        # repository replaces or drops its entry; the repository is the history's one writer.
        self._recent: OrderedDict[str, JobRecord] = OrderedDict()

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _locked_is_an_error(self) -> Iterator[None]:
        """Serialise callers; a lock held past the busy timeout becomes DatabaseLocked."""
        with self._lock:
            try:
                yield
            except sa.exc.OperationalError as exc:
                if is_locked_error(exc):
                    raise DatabaseLocked(
                        "the history database stayed locked by another program"
                    ) from exc
                raise

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any exception."""
        with (
            self._locked_is_an_error(),
            Session(self._writer if write else self._engine) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction on a Core connection: for the hot paths (a job's transitions and
        reads, several per job, all on the bus thread), where the ORM's unit of work cost
        ~3 ms a call against ~0.5 ms for the same statements in Core."""
        with (
            self._locked_is_an_error(),
            (self._writer if write else self._engine).begin() as conn,
        ):
            yield conn

    @staticmethod
    def _core_record(conn: sa.Connection, job_id: str) -> JobRecord | None:
        row = conn.execute(_JOB_BY_ID, {"_id": job_id}).first()
        if row is None:
            return None
        outputs = conn.execute(_OUTPUTS_OF, {"_id": job_id}).all()
        return _job_record(row, outputs)  # type: ignore[arg-type]  # Rows quack like the models

    @staticmethod
    def _outputs_by_job(session: Session, job_ids: Sequence[str]) -> dict[str, list[OutputRow]]:
        """Outputs for a page of jobs in one IN query (no query per job)."""
        found: dict[str, list[OutputRow]] = {jid: [] for jid in job_ids}
        # Chunked: SQLite caps bound parameters (32766), and jobs_with_status may list them all.
        for start in range(0, len(job_ids), _IN_CHUNK):
            chunk = job_ids[start : start + _IN_CHUNK]
            rows = session.exec(
                select(OutputRow)
                .where(col(OutputRow.job_id).in_(chunk))
                .order_by(col(OutputRow.id))
            )
            for row in rows:
                found[row.job_id].append(row)
        return found

    def _records(self, session: Session, rows: Sequence[JobRow]) -> list[JobRecord]:
        outputs = self._outputs_by_job(session, [r.id for r in rows])
        return [_job_record(r, outputs[r.id]) for r in rows]

    @staticmethod
    def _job_row(session: Session, job_id: str) -> JobRow:
        row = session.get(JobRow, job_id)
        if row is None:
            raise UnknownJob(f"no job {job_id} in the history")
        return row

    # -- batches -----------------------------------------------------------------------------

    def create_batch(self, presets: list[str], out_dir: str, origin: str) -> int:
        with self._session(write=True) as s:
            row = BatchRow(presets=",".join(presets), out_dir=out_dir, origin=origin)
            s.add(row)
            s.flush()
            assert row.id is not None
            return row.id

    def finish_batch(self, batch_id: int) -> None:
        with self._session(write=True) as s:
            row = s.get(BatchRow, batch_id)
            if row is None:
                raise LookupError(f"no batch {batch_id} in the history")
            row.finished_at = utcnow()

    def unfinished_batch_ids(self) -> list[int]:
        """Batches never marked finished: cut off by a crash, or still running."""
        with self._session() as s:
            rows = s.exec(
                select(BatchRow.id).where(col(BatchRow.finished_at).is_(None)).order_by(BatchRow.id)
            ).all()
            return [int(r) for r in rows if r is not None]

    def get_batch(self, batch_id: int) -> BatchRecord | None:
        with self._session() as s:
            row = s.get(BatchRow, batch_id)
            return None if row is None else _batch_record(row)

    # -- sources -----------------------------------------------------------------------------

    def upsert_source(
        self,
        path: str,
        *,
        size: int,
        mtime: float,
        fingerprint: str | None = None,
        media_info: Mapping[str, Any] | None = None,
    ) -> int:
        """The source row for this file state, created if new; media fields updated if given.

        Same path + fingerprint is the same row. A row recorded before its fingerprint was known
        (same path, size and mtime, fingerprint NULL) is adopted and gets the fingerprint, so
        enqueue (stat only) and probe (fingerprint + media info) land on one row. Without a
        fingerprint, path + size + mtime identify the row: an edited file gets a new row and
        the history of the old content stays attached to the old one.
        """
        media = _media_columns(media_info) if media_info is not None else {}
        with self._connection(write=True) as conn:
            source_id = None
            if fingerprint is not None:
                source_id = conn.execute(
                    _SOURCE_BY_FINGERPRINT, {"_path": path, "_fingerprint": fingerprint}
                ).scalar()
            if source_id is None:
                source_id = conn.execute(
                    _SOURCE_BY_STAT, {"_path": path, "_size": size, "_mtime": mtime}
                ).scalar()
            values: dict[str, Any] = {"size": size, "mtime": mtime, **media}
            if fingerprint is not None:
                values["fingerprint"] = fingerprint
            if source_id is None:
                row = {"path": path, "created_at": utcnow(), **values}
                return int(conn.execute(_INSERT_SOURCE, row).scalar_one())
            conn.execute(_UPDATE_SOURCE, {"_id": source_id, **values})
            return int(source_id)

    def get_source(self, source_id: int) -> SourceRecord | None:
        with self._session() as s:
            row = s.get(SourceRow, source_id)
            return None if row is None else _source_record(row)

    # -- jobs: writes ------------------------------------------------------------------------

    def add_jobs(
        self,
        batch_id: int,
        source_id: int | None,
        specs: list[JobSpec],
        *,
        status: JobStatus = JobStatus.QUEUED,
        error: str | None = None,
        spec_hashes: Mapping[str, str] | None = None,
        app_version: str,
        ffmpeg_version: str | None,
    ) -> None:
        """Record planned jobs, all or none, each with its first transition (None -> status).

        A job starts queued or already settled (skipped, failed, ...): never running or
        interrupted, which only the runner can cause.
        """
        status = JobStatus(status)
        if status in (JobStatus.RUNNING, JobStatus.INTERRUPTED):
            raise ValueError(f"a job cannot be added as {status.value}")
        hashes = spec_hashes or {}
        now = utcnow()
        if not specs:
            return
        self._forget(spec.id for spec in specs)
        with self._connection(write=True) as conn:
            conn.execute(
                _INSERT_JOB,
                [
                    _job_values(spec, batch_id, source_id, status, now, app_version,
                                ffmpeg_version, spec_hash=hashes.get(spec.id), error=error)
                    for spec in specs
                ],
            )  # fmt: skip
            conn.execute(
                _INSERT_TRANSITION,
                [{"job_id": spec.id, "from_status": None, "to_status": status.value, "at": now,
                  "reason": None} for spec in specs],
            )  # fmt: skip

    def add_probes(
        self,
        batch_id: int,
        entries: Sequence[tuple[JobSpec, int, float]],
        *,
        app_version: str,
        ffmpeg_version: str | None,
    ) -> None:
        """A dropped batch in one transaction: a source row and a queued probe job per file.

        ``entries`` are (probe spec, size, mtime). Core executemany instead of the ORM: a drop of
        10,000 files must not cost 10,000 round trips through the unit of work.
        """
        if not entries:
            return
        now = utcnow()
        self._forget(spec.id for spec, _, _ in entries)
        with self._session(write=True) as s:
            ids = (
                s.execute(
                    sa.insert(SourceRow).returning(SourceRow.id, sort_by_parameter_order=True),
                    [
                        {"path": spec.source, "size": size, "mtime": mtime, "created_at": now}
                        for spec, size, mtime in entries
                    ],
                )
                .scalars()
                .all()
            )
            s.execute(
                _INSERT_JOB,
                [
                    _job_values(spec, batch_id, source_id, JobStatus.QUEUED, now, app_version,
                                ffmpeg_version)
                    for (spec, _, _), source_id in zip(entries, ids, strict=True)
                ],
            )  # fmt: skip
            s.execute(
                sa.insert(TransitionRow.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "job_id": spec.id,
                        "from_status": None,
                        "to_status": JobStatus.QUEUED.value,
                        "at": now,
                    }
                    for spec, _, _ in entries
                ],
            )

    def set_source(self, job_id: str, source_id: int) -> None:
        self._forget([job_id])
        with self._session(write=True) as s:
            self._job_row(s, job_id).source_id = source_id

    def transition(
        self,
        job_id: str,
        new_status: JobStatus | str,
        *,
        error: str | None = None,
        warning: str | None = None,
        reason: str | None = None,
        seconds: float | None = None,
        worker: str | None = None,
        log_path: str | None = None,
        ffmpeg_version: str | None = None,
        outputs: Sequence[OutputRecord | Mapping[str, Any]] | None = None,
    ) -> JobRecord:
        """Move a job to a new status, checked against the state machine, in one transaction.

        Raises IllegalTransition (nothing written) for a move the state machine forbids and
        UnknownJob for an unknown id. Re-queueing a settled or interrupted job starts a new
        attempt: attempt + 1, and the previous attempt's error, warning, times and outputs
        are cleared (its transitions stay, so the history still shows it).
        ``outputs`` replaces the job's recorded outputs.
        """
        now = utcnow()
        self._forget([job_id])  # whatever happens below, an older record is no longer news
        with self._connection(write=True) as conn:
            row = conn.execute(_JOB_STATE, {"_id": job_id}).first()
            if row is None:
                raise UnknownJob(f"no job {job_id} in the history")
            old = JobStatus(row.status)
            new = check_transition(old, new_status)
            values: dict[str, Any] = {"status": new.value}
            replace_outputs = outputs is not None
            if new is JobStatus.QUEUED:
                values.update(attempt=row.attempt + 1, queued_at=now, error=None, warning=None,
                              started_at=None, finished_at=None, seconds=None)  # fmt: skip
                replace_outputs = True
            elif new is JobStatus.RUNNING:
                values["started_at"] = now
            if new.terminal:
                values["finished_at"] = now
            if error is not None:
                values["error"] = _one_line(error)
            if warning is not None:
                values["warning"] = _one_line(warning)
            for name, value in (("seconds", seconds), ("worker", worker), ("log_path", log_path),
                                ("ffmpeg_version", ffmpeg_version)):  # fmt: skip
                if value is not None:
                    values[name] = value
            # The record is built from what is written: the UPDATE returns the row, and the
            # outputs are those inserted (or, when kept, read), in insertion (= id) order.
            job_row = conn.execute(_UPDATE_JOB, {"_id": job_id, **values}).one()
            if replace_outputs:
                conn.execute(_DELETE_OUTPUTS, {"_id": job_id})
            kept: Sequence[Any] = (
                () if replace_outputs else conn.execute(_OUTPUTS_OF, {"_id": job_id}).all()
            )
            new_outputs = [_output(o) for o in outputs or ()]
            if new_outputs:
                conn.execute(
                    _INSERT_OUTPUT,
                    [
                        {"job_id": job_id, "role": o.role, "path": o.path,
                         **{f: getattr(o, f) for f in _OUTPUT_FIELDS}}
                        for o in new_outputs
                    ],
                )  # fmt: skip
            conn.execute(
                _INSERT_TRANSITION,
                {"job_id": job_id, "from_status": old.value, "to_status": new.value, "at": now,
                 "reason": _one_line(reason)},
            )  # fmt: skip
            record = _job_record(job_row, [*kept, *new_outputs])  # type: ignore[arg-type]
        with self._lock:  # committed: from now on this is what the history says
            self._recent[job_id] = record
            if len(self._recent) > _RECENT_RECORDS:
                self._recent.popitem(last=False)
        return record

    def interrupt_running(self, reason: str = "app stopped while running") -> list[JobRecord]:
        """Start-up recovery: every job still marked running was cut off; mark it interrupted."""
        now = utcnow()
        with self._lock:
            self._recent.clear()
        with self._session(write=True) as s:
            rows = list(
                s.exec(
                    select(JobRow)
                    .where(JobRow.status == JobStatus.RUNNING.value)
                    .order_by(col(JobRow.created_at), _ROWID)
                )
            )
            for row in rows:
                check_transition(row.status, JobStatus.INTERRUPTED)
                row.status = JobStatus.INTERRUPTED.value
                s.add(
                    TransitionRow(
                        job_id=row.id,
                        from_status=JobStatus.RUNNING.value,
                        to_status=JobStatus.INTERRUPTED.value,
                        at=now,
                        reason=_one_line(reason),
                    )
                )
            s.flush()
            return self._records(s, rows)

    # -- jobs: reads -------------------------------------------------------------------------

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            recent = self._recent.get(job_id)
        if recent is not None:
            return recent
        with self._connection() as conn:
            return self._core_record(conn, job_id)

    def _forget(self, job_ids: Iterable[str]) -> None:
        with self._lock:
            for job_id in job_ids:
                self._recent.pop(job_id, None)

    def jobs_in_batch(self, batch_id: int) -> list[JobRecord]:
        with self._session() as s:
            rows = s.exec(
                select(JobRow)
                .where(JobRow.batch_id == batch_id)
                .order_by(col(JobRow.created_at), _ROWID)
            ).all()
            return self._records(s, rows)

    def jobs_with_status(self, *statuses: JobStatus | str) -> list[JobRecord]:
        """Jobs in any of these statuses, oldest first (the order to resume them in)."""
        values = [JobStatus(x).value for x in statuses]
        with self._session() as s:
            rows = s.exec(
                select(JobRow)
                .where(col(JobRow.status).in_(values))
                .order_by(col(JobRow.created_at), _ROWID)
            ).all()
            return self._records(s, rows)

    @staticmethod
    def _history_terms(
        cols: Mapping[str, sa.ColumnElement[Any]],
        status: JobStatus | str | None,
        preset: str | None,
        search: str | None,
        since: datetime | None,
    ) -> list[sa.ColumnElement[bool]]:
        terms: list[sa.ColumnElement[bool]] = []
        if status is not None:
            terms.append(cols["status"] == JobStatus(status).value)
        if preset is not None:
            terms.append(cols["preset"] == preset)
        if since is not None:
            terms.append(cols["created_at"] >= since)
        if search:
            # Both sides folded the same way, so a plain substring test (no LIKE escaping).
            terms.append(sa.func.instr(cols["search_key"], search_key(search)) > 0)
        return terms

    def history(
        self,
        *,
        status: JobStatus | str | None = None,
        preset: str | None = None,
        search: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[JobRecord]:
        """Jobs newest first, filtered; ``search`` is a case-insensitive substring of the
        source path."""
        newest_first = (col(JobRow.created_at).desc(), _ROWID.desc())
        page: Any
        if search:
            # The page's rowids from the covering index; only those rows are read from the table.
            page = (
                sa.select(_ROWID)
                .select_from(_SEARCH_FROM)
                .where(*self._history_terms(_SEARCH_COLUMNS, status, preset, search, since))
                .order_by(_SEARCH_COLUMNS["created_at"].desc(), _ROWID.desc())
            )
        else:
            page = (
                select(JobRow)
                .where(*self._history_terms(_JOBS, status, preset, None, since))
                .order_by(*newest_first)
            )
        if limit is not None:
            page = page.limit(limit)
        if offset:
            page = page.offset(offset)
        stmt = select(JobRow).where(_ROWID.in_(page)).order_by(*newest_first) if search else page
        with self._session() as s:
            rows = s.exec(stmt).all()
            return self._records(s, rows)

    def count_history(
        self,
        *,
        status: JobStatus | str | None = None,
        preset: str | None = None,
        search: str | None = None,
        since: datetime | None = None,
    ) -> int:
        if search:
            cols: Mapping[str, sa.ColumnElement[Any]] = _SEARCH_COLUMNS
            source: Any = _SEARCH_FROM
        else:
            cols, source = _JOBS, JobRow
        stmt = (
            sa.select(sa.func.count())
            .select_from(source)
            .where(*self._history_terms(cols, status, preset, search, since))
        )
        with self._session() as s:
            return int(s.execute(stmt).scalar_one())

    def find_reusable(self, spec_hash: str) -> JobRecord | None:
        """The newest succeeded job that did exactly this work (the caller checks its files)."""
        with self._connection() as conn:
            job_id = conn.execute(_REUSABLE, {"_hash": spec_hash}).scalar()
            return None if job_id is None else self._core_record(conn, job_id)

    def reserved_output_paths(self) -> set[str]:
        """Final output paths planned by jobs that have not settled yet (queued, running,
        interrupted), so a new plan never picks a name another job will write."""
        pending = [x.value for x in _PENDING]
        with self._session() as s:
            texts = s.exec(select(JobRow.spec_json).where(col(JobRow.status).in_(pending))).all()
        paths: set[str] = set()
        for text in texts:
            # Read the raw JSON, not JobSpec: a spec of another version still reserves its paths.
            paths.update(str(o["path"]) for o in json.loads(text).get("outputs", ()))
        return paths

    def transitions(self, job_id: str) -> list[TransitionRecord]:
        with self._session() as s:
            rows = s.exec(
                select(TransitionRow)
                .where(TransitionRow.job_id == job_id)
                .order_by(col(TransitionRow.id))
            ).all()
            return [
                TransitionRecord(
                    id=r.id or 0,
                    job_id=r.job_id,
                    from_status=None if r.from_status is None else JobStatus(r.from_status),
                    to_status=JobStatus(r.to_status),
                    at=r.at,
                    reason=r.reason,
                )
                for r in rows
            ]

    def integrity_ok(self) -> bool:
        """Full PRAGMA integrity_check (slow on a big history: for a "check database" action)."""
        with self._session() as s:
            rows = s.connection().exec_driver_sql("PRAGMA integrity_check").fetchall()
        return [r[0] for r in rows] == ["ok"]
