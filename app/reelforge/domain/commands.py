"""Commands: what the UI, the CLI and watch folders ask the engine to do. Nothing else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Enqueue:
    paths: tuple[str, ...]
    presets: tuple[str, ...]
    out_dir: str
    origin: str = "cli"  # cli | gui | watch | resume


@dataclass(frozen=True)
class CancelJobs:
    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class RetryJobs:
    job_ids: tuple[str, ...]
