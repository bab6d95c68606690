"""alerts history, watch-folder memory, and an index for metrics over recent jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:00:00

- ``alerts``: every alert raised (rule, message, what was done) and when it cleared, for the
  Alerts view.
- ``watch_seen``: the file contents each watch folder has taken, so a file is enqueued once
  per content even across restarts.
- ``ix_jobs_finished_at``: metrics read "finished in the last hour/day/week, or not finished".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("cleared_message", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_rule", "alerts", ["rule"])
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])

    op.create_table(
        "watch_seen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watch_key", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mtime", sa.Float(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("watch_key", "fingerprint", name="uq_watch_seen_content"),
    )
    op.create_index("ix_watch_seen_path", "watch_seen", ["watch_key", "path"])

    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
    op.drop_index("ix_watch_seen_path", table_name="watch_seen")
    op.drop_table("watch_seen")
    op.drop_index("ix_alerts_raised_at", table_name="alerts")
    op.drop_index("ix_alerts_rule", table_name="alerts")
    op.drop_table("alerts")
