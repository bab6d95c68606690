"""The queue service: enqueue, plan after probe, settle names, retry, cancel, batch completion.

Runs on the bus thread. Order of every enqueue: persist as QUEUED (one transaction) -> announce
-> hand to the executor. A job that cannot run (rejected by the planner, already done, output
exists with the skip policy) is still recorded as a job and settled through a JobFinished event,
so every consumer sees every job end the same way.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from reelforge.__about__ import __version__
from reelforge.bus import Bus
from reelforge.domain.commands import CancelJobs, Enqueue, RetryJobs
from reelforge.domain.events import (
    BatchFinished,
    BatchQueued,
    JobFinished,
    JobsQueued,
    QueuedJob,
    SourceProbed,
)
from reelforge.domain.jobs import TERMINAL, JobKind, JobStatus
from reelforge.domain.media_info import MediaInfo
from reelforge.domain.naming import first_free
from reelforge.domain.plan import PlannedJob, plan_jobs, probe_spec
from reelforge.domain.spec import JobSpec, OutputTarget, new_job_id
from reelforge.domain.split import mark_for_split
from reelforge.executors.base import Executor
from reelforge.services.presets import PresetCatalog
from reelforge.services.sources import expand_paths
from reelforge.storage.records import JobRecord
from reelforge.storage.repository import Repository

log = logging.getLogger("reelforge.queue")


@dataclass
class EnqueueResult:
    batch_id: int | None
    sources: int
    skipped_non_media: int = 0
    missing: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@dataclass
class PreparedBatch:
    result: EnqueueResult
    presets: tuple[str, ...]
    out_dir: Path
    specs: list[JobSpec] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # job id -> reason, never run


@dataclass
class _Batch:
    id: int
    presets: tuple[str, ...]
    out_dir: Path
    started: float = field(default_factory=time.monotonic)
    outstanding: set[str] = field(default_factory=set)  # announced, not yet terminal


class QueueService:
    def __init__(
        self,
        bus: Bus,
        repo: Repository,
        executor: Executor,
        presets: PresetCatalog,
        *,
        collision: str = "counter",
        ffmpeg_version: str | None = None,
        split_after: float = 0.0,
        segment_seconds: float = 120.0,
    ):
        self._bus, self._repo, self._executor, self._presets = bus, repo, executor, presets
        self.collision = collision
        self.split_after, self.segment_seconds = split_after, segment_seconds
        self._ffmpeg_version = ffmpeg_version
        self._batches: dict[int, _Batch] = {}
        self._stopping = False
        # Final output paths of jobs not settled yet. Read from the history once per drop (so
        # jobs of another process or an earlier run count too), then kept up to date here:
        # reading it for every planned source made a big drop quadratic.
        self._reserved: set[str] | None = None
        bus.subscribe(JobFinished, self._on_finished)

    # -- commands ----------------------------------------------------------------------------
    def enqueue(self, cmd: Enqueue) -> EnqueueResult:
        """prepare() then commit(), on the calling (bus) thread: what the CLI does."""
        prepared = self.prepare(cmd)
        self.commit(prepared)
        return prepared.result

    def prepare(self, cmd: Enqueue) -> PreparedBatch:
        """The slow half, safe on any thread: walk folders, stat files, persist the batch and
        its probe jobs as QUEUED in one transaction. Touches no bus and no executor.

        Raises PresetError for an unknown preset before anything is stored.
        """
        for name in cmd.presets:
            self._presets.get(name)
        out_dir = Path(cmd.out_dir).expanduser().absolute()
        found = expand_paths(cmd.paths, exclude=out_dir)
        result = EnqueueResult(
            None,
            len(found.files),
            len(found.skipped),
            [str(p) for p in found.missing],
            found.refused,
        )
        prepared = PreparedBatch(result, tuple(cmd.presets), out_dir)
        if not found.files and not found.missing:
            return prepared
        entries = []
        # A named path that does not exist is a failed probe with a reason, like any bad input.
        for path in [*found.files, *found.missing]:
            name = str(path)
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:  # bytes that are not UTF-8: the history cannot hold them
                shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                spec = probe_spec(shown)
                prepared.rejected[spec.id] = "file name is not valid UTF-8 (rename the file)"
                entries.append((spec, 0, 0.0))
                continue
            try:
                st = path.stat()
                size, mtime = st.st_size, st.st_mtime
            except OSError:
                size, mtime = 0, 0.0
            entries.append((probe_spec(name), size, mtime))
        batch_id = self._repo.create_batch(list(cmd.presets), str(out_dir), cmd.origin)
        self._repo.add_probes(
            batch_id, entries, app_version=__version__, ffmpeg_version=self._ffmpeg_version
        )
        result.batch_id = batch_id
        prepared.specs = [spec for spec, _, _ in entries]
        return prepared

    def commit(self, prepared: PreparedBatch) -> None:
        """The fast half, on the bus thread: announce and hand the probes to the executor."""
        batch_id = prepared.result.batch_id
        if batch_id is None:
            return
        self._batches[batch_id] = _Batch(batch_id, prepared.presets, prepared.out_dir)
        self._reserved = None  # a new drop: re-read the reservations from the history
        self._bus.publish(BatchQueued(batch_id, len(prepared.specs)))
        self._announce(prepared.specs, batch_id)
        for spec in prepared.specs:
            if spec.id in prepared.rejected:
                self._bus.publish(
                    JobFinished(spec.id, JobStatus.FAILED.value, prepared.rejected[spec.id])
                )
            elif self._stopping:
                self._bus.publish(JobFinished(spec.id, JobStatus.CANCELLED.value, "cancelled"))
            else:
                self._executor.submit(spec)

    def cancel(self, cmd: CancelJobs) -> None:
        for job_id in cmd.job_ids:
            if not self._executor.cancel(job_id):
                rec = self._repo.get_job(job_id)
                if rec and rec.status in (JobStatus.QUEUED, JobStatus.INTERRUPTED):
                    self._bus.publish(JobFinished(job_id, JobStatus.CANCELLED.value, "cancelled"))

    def cancel_everything(self, reason: str = "cancelled") -> None:
        """Ctrl-C / quit: nothing new is planned, everything pending or running is cancelled."""
        self._stopping = True
        self._executor.cancel_all(reason)

    def retry(self, cmd: RetryJobs) -> list[str]:
        retried = []
        for job_id in cmd.job_ids:
            rec = self._repo.get_job(job_id)
            if rec is None or rec.status not in (*TERMINAL, JobStatus.INTERRUPTED):
                continue
            if rec.status is JobStatus.SUCCEEDED:
                continue
            self._repo.transition(job_id, JobStatus.QUEUED, reason="retry")
            self._reserve(rec.spec)  # every attempt writes the names planned the first time
            self._track_batch(rec.batch_id)
            self._announce([rec.spec], rec.batch_id)
            self._executor.submit(rec.spec)
            retried.append(job_id)
        return retried

    def resume_pending(self) -> list[str]:
        """Re-queue what the history holds as queued or interrupted (start-up and `resume`)."""
        by_batch: dict[int, list[JobSpec]] = {}
        for rec in self._probes_cut_off_before_planning():
            # Probed, but the crash came before its plan was recorded: probe again, then plan.
            self._repo.transition(rec.id, JobStatus.QUEUED, reason="resumed: plan was cut off")
            by_batch.setdefault(rec.batch_id, []).append(rec.spec)
        for rec in self._repo.jobs_with_status(JobStatus.INTERRUPTED, JobStatus.QUEUED):
            if any(rec.id == s.id for s in by_batch.get(rec.batch_id, ())):
                continue
            if rec.status is JobStatus.INTERRUPTED:
                self._repo.transition(rec.id, JobStatus.QUEUED, reason="resumed")
            by_batch.setdefault(rec.batch_id, []).append(rec.spec)
        for batch_id, specs in by_batch.items():
            self._track_batch(batch_id)
            self._announce(specs, batch_id)
            for spec in specs:
                self._reserve(spec)
                self._executor.submit(spec)
        return [spec.id for specs in by_batch.values() for spec in specs]

    def _probes_cut_off_before_planning(self) -> list[JobRecord]:
        found = []
        for batch_id in self._repo.unfinished_batch_ids():
            if batch_id in self._batches:  # running in this process right now
                continue
            jobs = self._repo.jobs_in_batch(batch_id)
            planned = {j.source_path for j in jobs if j.kind is not JobKind.PROBE}
            found += [
                j
                for j in jobs
                if j.kind is JobKind.PROBE
                and j.status is JobStatus.SUCCEEDED
                and j.source_path not in planned
            ]
        return found

    # -- internals ---------------------------------------------------------------------------
    def _reserve(self, spec: JobSpec) -> None:
        if self._reserved is not None:
            self._reserved.update(o.path for o in spec.outputs)

    def _track_batch(self, batch_id: int) -> None:
        if batch_id not in self._batches:
            b = self._repo.get_batch(batch_id)
            if b is not None:
                self._batches[batch_id] = _Batch(batch_id, b.presets, Path(b.out_dir))

    def _announce(self, specs: list[JobSpec], batch_id: int) -> None:
        if not specs:
            return
        if batch_id in self._batches:
            self._batches[batch_id].outstanding.update(s.id for s in specs)
        jobs = tuple(QueuedJob(s.id, s.kind.value, s.preset, s.label, s.source) for s in specs)
        self._bus.publish(JobsQueued(batch_id, jobs))

    def _on_finished(self, event: JobFinished) -> None:
        rec = self._repo.get_job(event.job_id)
        if rec is None:
            return
        batch = self._batches.get(rec.batch_id)
        if rec.status.terminal:
            if batch is not None:
                batch.outstanding.discard(rec.id)
            if self._reserved is not None:
                self._reserved.difference_update(o.path for o in rec.spec.outputs)
        if rec.kind is JobKind.PROBE and rec.status is JobStatus.SUCCEEDED:
            try:
                self._plan(rec, event.result)
            except Exception as err:  # a planning bug must not leave the batch hanging
                log.exception("planning failed for %s", rec.source_path)
                self._settle_new(rec, f"internal error while planning: {err}")
        self._check_batch(rec.batch_id)

    def _settle_new(self, probe: JobRecord, reason: str) -> None:
        """Record a planning failure as a failed job, so the person sees it and the batch ends."""
        spec = replace(probe.spec, id=new_job_id(), preset="plan")
        self._repo.add_jobs(
            probe.batch_id,
            probe.source_id,
            [spec],
            app_version=__version__,
            ffmpeg_version=self._ffmpeg_version,
        )
        self._announce([spec], probe.batch_id)
        self._bus.publish(JobFinished(spec.id, JobStatus.FAILED.value, reason))

    def _plan(self, probe: JobRecord, result: dict) -> None:
        batch = self._batches.get(probe.batch_id)
        if batch is None:
            self._track_batch(probe.batch_id)
            batch = self._batches[probe.batch_id]
        info = MediaInfo.from_dict(result["media_info"])
        src = result.get("source", {})
        fp = src.get("fingerprint")
        source_id = self._repo.upsert_source(
            info.path,
            size=src.get("size", info.size),
            mtime=src.get("mtime", 0.0),
            fingerprint=fp,
            media_info=info.to_dict(),
        )
        self._bus.publish(SourceProbed(probe.id, source_id, info.to_dict()))
        planned: list[PlannedJob] = []
        # The file as probed; a job refuses to run on a file changed since (see runner).
        state = {"size": src.get("size", info.size), "mtime": src.get("mtime", 0.0)}
        for name in batch.presets:
            for pj in plan_jobs(info, self._presets.get(name), batch.out_dir):
                params = {**pj.spec.params, "source_state": state}
                spec = mark_for_split(
                    replace(pj.spec, params=params),
                    after=self.split_after,
                    segment=self.segment_seconds,
                )
                planned.append(PlannedJob(spec, pj.reject))
        self._settle(_without_duplicate_posters(planned), probe.batch_id, source_id, fp or "")

    def _settle(
        self, planned: list[PlannedJob], batch_id: int, source_id: int, fingerprint: str
    ) -> None:
        """Decide each job's fate and final names, persist all in one go, then act."""
        if self._reserved is None:
            self._reserved = self._repo.reserved_output_paths()
        reserved = self._reserved
        queued: list[JobSpec] = []
        settled: list[tuple[JobSpec, str, str | None, tuple[dict, ...], str | None]] = []
        hashes: dict[str, str] = {}
        for pj in planned:
            spec = pj.spec
            if pj.reject:
                settled.append((spec, JobStatus.FAILED.value, pj.reject, (), None))
                continue
            digest = spec.content_hash(fingerprint)
            hashes[spec.id] = digest
            prior = self._repo.find_reusable(digest) if fingerprint else None
            if prior and _outputs_intact(prior):
                outs = tuple(
                    {
                        "role": o.role,
                        "path": o.path,
                        "size": o.size,
                        "duration": o.duration,
                        "width": o.width,
                        "height": o.height,
                        "vcodec": o.vcodec,
                        "acodec": o.acodec,
                    }
                    for o in prior.outputs
                )
                done = "already done: same source content and settings"
                settled.append((spec, JobStatus.SKIPPED.value, None, outs, done))
                continue
            own = {o.path for o in prior.outputs} if prior else set()
            spec, clash = self._resolve_names(spec, reserved, own)
            if clash:  # the skip policy: a fact for the person (warning), not an error
                settled.append((spec, JobStatus.SKIPPED.value, None, (), f"output exists: {clash}"))
                continue
            reserved.update(o.path for o in spec.outputs)
            queued.append(spec)
        # One transaction: everything this source fans out into is recorded as queued.
        all_specs = [*queued, *(s for s, *_ in settled)]
        self._repo.add_jobs(
            batch_id,
            source_id,
            all_specs,
            spec_hashes=hashes,
            app_version=__version__,
            ffmpeg_version=self._ffmpeg_version,
        )
        self._announce(all_specs, batch_id)
        for spec, status, error, outs, warning in settled:
            self._bus.publish(
                JobFinished(spec.id, status, error=error, warning=warning, outputs=outs)
            )
        for spec in queued:
            if self._stopping:
                self._bus.publish(JobFinished(spec.id, JobStatus.CANCELLED.value, "cancelled"))
            else:
                self._executor.submit(spec)

    def _resolve_names(
        self, spec: JobSpec, reserved: set[str], own: set[str]
    ) -> tuple[JobSpec, str | None]:
        """Apply the collision policy once, at planning; every attempt keeps these names."""
        taken_now: set[str] = set()

        def taken(p: Path) -> bool:
            s = str(p)
            if s in own:  # our own earlier output of the very same work: safe to replace
                return False
            return p.exists() or s in reserved or s in taken_now

        outputs: list[OutputTarget] = []
        for target in spec.outputs:
            path = Path(target.path)
            if self.collision == "overwrite":
                chosen = path if str(path) not in reserved else first_free(path, taken)
            elif self.collision == "skip" and taken(path):
                return spec, path.name
            else:
                chosen = first_free(path, taken)
            taken_now.add(str(chosen))
            outputs.append(replace(target, path=str(chosen)))
        return spec.with_outputs(tuple(outputs)), None

    def _check_batch(self, batch_id: int) -> None:
        batch = self._batches.get(batch_id)
        if batch is None or batch.outstanding:
            return
        jobs = self._repo.jobs_in_batch(batch_id)
        if any(not j.status.terminal for j in jobs):  # e.g. interrupted by a shutdown
            return
        del self._batches[batch_id]
        self._repo.finish_batch(batch_id)
        counts: dict[str, int] = {}
        for j in jobs:
            counts[j.status.value] = counts.get(j.status.value, 0) + 1
        failures = tuple(
            (j.source_path, j.error or "failed") for j in jobs if j.status is JobStatus.FAILED
        )
        self._bus.publish(
            BatchFinished(batch_id, counts, round(time.monotonic() - batch.started, 3), failures)
        )

    @property
    def open_batches(self) -> list[int]:
        return list(self._batches)


def _outputs_intact(rec: JobRecord, exists: Callable[[Path], bool] = Path.is_file) -> bool:
    """Every recorded output still there with the size it had when it was verified."""
    if not rec.outputs:
        return False
    for o in rec.outputs:
        p = Path(o.path)
        if not exists(p) or p.stat().st_size != o.size:
            return False
    return True


def _without_duplicate_posters(planned: list[PlannedJob]) -> list[PlannedJob]:
    """Two presets in one drop asking for the identical poster make it once, not twice.

    (web and thumbnails both include a poster; the second would only be a "(2)" copy.)
    """
    seen: set[str] = set()
    kept: list[PlannedJob] = []
    for pj in planned:
        spec = pj.spec
        poster = spec.params.get("poster") if spec.kind is JobKind.THUMBNAILS else None
        if pj.reject or poster is None:
            kept.append(pj)
            continue
        key = json.dumps(poster, sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(pj)
            continue
        outputs = tuple(o for o in spec.outputs if o.role != "poster")
        if outputs:  # the contact sheet is still wanted from this job
            params = {k: v for k, v in spec.params.items() if k != "poster"}
            kept.append(PlannedJob(replace(spec, outputs=outputs, params=params)))
    return kept
