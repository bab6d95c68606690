"""SQLModel tables of the local history.

The schema is owned by the Alembic migrations in ``migrations/versions``; these classes must
stay in step with them (tests/unit/test_migrations.py compares the two). Nothing outside
``reelforge.storage`` sees these classes: the repository hands out frozen records instead.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


# The covering index history search walks (Repository forces it with INDEXED BY).
HISTORY_SEARCH_INDEX = "ix_jobs_history_search"


def search_key(text: str) -> str:
    """``text`` as history search compares it: Unicode case folded and NFC-normalised.

    Stored in jobs.search_key at insert and applied to the search term, so search is a plain
    substring test in SQLite's C code (its LIKE and lower() fold ASCII only). Normalising makes
    a decomposed name (macOS writes "e" + combining accent) match what the user types.
    Changing this needs a migration that refills jobs.search_key (0002 wrote the current form).
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite, which has no timezone type.

    Values are stored as naive UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), so text order is time
    order and the created_at indexes sort correctly; they come back tz-aware. A naive value
    handed in is a bug elsewhere, so it is refused rather than guessed to be local time.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the history; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _when(*, nullable: bool = False) -> object:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class SourceRow(SQLModel, table=True):
    __tablename__ = "sources"

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(index=True)
    size: int
    mtime: float
    fingerprint: str | None = Field(default=None, index=True)
    duration: float | None = None
    width: int | None = None  # display size (rotation applied), as a person sees it
    height: int | None = None
    vcodec: str | None = None
    acodec: str | None = None
    media_info: str | None = Field(default=None, sa_type=sa.Text)  # MediaInfo.to_dict() JSON
    created_at: datetime = _when()  # type: ignore[assignment]


class BatchRow(SQLModel, table=True):
    __tablename__ = "batches"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _when()  # type: ignore[assignment]
    finished_at: datetime | None = _when(nullable=True)  # type: ignore[assignment]
    presets: str  # comma list, in the order the user picked them
    out_dir: str
    origin: str  # "cli", "gui", "watch", "resume"


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"
    # Indexes for the history view over ~100,000 jobs: every filter it offers leads a composite
    # index ending in created_at (SQLite appends the rowid, the tie-breaker), so "newest first,
    # one page" walks an index and never sorts the table.
    __table_args__ = (
        sa.Index("ix_jobs_created_at", "created_at"),
        sa.Index("ix_jobs_status_created_at", "status", "created_at"),
        sa.Index("ix_jobs_preset_created_at", "preset", "created_at"),
        # Search: a substring test cannot seek, so it scans; this index holds every column the
        # history filters on, so the scan never reads the (wide) table rows of non-matches.
        sa.Index(HISTORY_SEARCH_INDEX, "created_at", "search_key", "status", "preset"),
        # Metrics read "finished in the last hour/day/week, or not finished" (0003).
        sa.Index("ix_jobs_finished_at", "finished_at"),
    )

    id: str = Field(primary_key=True)  # JobSpec.id, a uuid4 hex
    batch_id: int = Field(foreign_key="batches.id", ondelete="CASCADE", index=True)
    source_id: int | None = Field(
        default=None, foreign_key="sources.id", ondelete="SET NULL", index=True
    )
    # Copied from the spec so search and the list view need neither a join nor JSON parsing,
    # and so jobs whose source row is missing (source_id NULL) are still searchable.
    source_path: str = Field(index=True)
    # search_key(source_path): what history search matches. Always set; NULL-able in SQLite only
    # because adding a NOT NULL column means copying the table, so a trigger (0002) refuses NULL.
    search_key: str = Field(nullable=True)
    kind: str
    lane: str
    preset: str
    label: str
    status: str  # a JobStatus value
    spec_json: str = Field(sa_type=sa.Text)
    spec_version: int
    spec_hash: str | None = Field(default=None, index=True)
    attempt: int = 1
    error: str | None = None  # one line
    warning: str | None = None
    log_path: str | None = None
    app_version: str
    ffmpeg_version: str | None = None
    worker: str | None = None  # hostname or worker name that ran the last attempt
    created_at: datetime = _when()  # type: ignore[assignment]
    queued_at: datetime = _when()  # type: ignore[assignment]
    started_at: datetime | None = _when(nullable=True)  # type: ignore[assignment]
    finished_at: datetime | None = _when(nullable=True)  # type: ignore[assignment]
    seconds: float | None = None  # run time of the last attempt


class OutputRow(SQLModel, table=True):
    __tablename__ = "outputs"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", ondelete="CASCADE", index=True)
    role: str
    path: str = Field(index=True)
    size: int
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    vcodec: str | None = None
    acodec: str | None = None


class TransitionRow(SQLModel, table=True):
    __tablename__ = "transitions"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", ondelete="CASCADE", index=True)
    from_status: str | None = None  # None for the row written when the job is added
    to_status: str
    at: datetime = _when()  # type: ignore[assignment]
    reason: str | None = None


class AlertRow(SQLModel, table=True):
    """One raised alert and, once its condition is gone, when it cleared (0003)."""

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(index=True)
    severity: str
    message: str
    action: str = ""
    key: str = ""  # what it is about: a volume, a worker, a source path
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    cleared_at: datetime | None = _when(nullable=True)  # type: ignore[assignment]
    cleared_message: str | None = None


class WatchSeenRow(SQLModel, table=True):
    """A file content a watch folder has taken: never taken twice, across restarts (0003).

    ``watch_key`` names the folder and its recipe (folder, presets, output), so the same content
    dropped into another watch folder, or watched with other presets, is new work there.
    """

    __tablename__ = "watch_seen"
    __table_args__ = (
        sa.UniqueConstraint("watch_key", "fingerprint", name="uq_watch_seen_content"),
        sa.Index("ix_watch_seen_path", "watch_key", "path"),
    )

    id: int | None = Field(default=None, primary_key=True)
    watch_key: str
    fingerprint: str
    path: str
    size: int
    mtime: float
    batch_id: int | None = None  # the batch it went into (kept when history retention drops it)
    taken_at: datetime = _when()  # type: ignore[assignment]
