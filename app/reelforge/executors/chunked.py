"""One long encode run as stages (domain/split.py), for any executor: what to run next, and
what the job as a whole reports. No Qt and no threads of its own; the executor calls it from
its bus thread, except progress(), which pool threads may call (it takes a lock).

The executor runs each stage spec like a job of its own (a pool slot, a Celery task), but only
the parent job exists on the bus and in the history: stage progress is folded into one
percentage, stage log lines are tagged, and the parent finishes with the join's outputs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reelforge.domain.events import JobFinished, JobLogged, JobProgressed
from reelforge.domain.jobs import JobStatus
from reelforge.domain.spec import JobSpec
from reelforge.domain.split import (
    join_stage,
    parent_id,
    piece_path,
    segment_lengths,
    segment_stages,
    split_stage,
)
from reelforge.executors.base import INTERRUPTED

JOIN_SHARE = 0.05  # of the job's progress: the join copies video and encodes audio only


@dataclass
class Step:
    """What an executor does after a stage finished: start `next`, or finish the job."""

    next: list[JobSpec] = field(default_factory=list)
    final: dict[str, Any] | None = None  # the parent's result, as run_job would return it


class ChunkedRun:
    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._weights: dict[str, float] = {}  # stage id -> its share of the whole job
        self._done: dict[str, float] = {}  # stage id -> fraction finished
        self._speeds: dict[str, float] = {}
        self._cuts: list[float] = []
        self._offset = 0.0
        self._workers: list[str] = []
        self._segments_left: set[str] = set()
        self.stage_ids: set[str] = set()  # every stage handed out (for cancel)
        self._logs: dict[str, str] = {}  # stage id -> its log file
        self._notes: dict[str, list[str]] = {}  # stage id -> what happened to it (re-sent)
        self.ended = False  # failed or cancelled; stages still running are waited for

    def first(self) -> list[JobSpec]:
        return self._hand_out([split_stage(self.spec)])

    def label(self, stage_id: str) -> str:
        """A tag for the stage's log lines: "[2/5]", "[join]", "[split]"."""
        suffix = stage_id.rsplit("~", 1)[-1]
        if suffix.startswith("s") and suffix[1:].isdigit():
            return f"[{int(suffix[1:]) + 1}/{len(self._cuts) + 1}]"
        return f"[{suffix}]"

    def on_result(self, stage_id: str, result: dict[str, Any]) -> Step:
        status = result.get("status")
        if result.get("worker"):
            self._workers.append(str(result["worker"]))
        if result.get("log_path"):
            self._logs[stage_id] = str(result["log_path"])
        if status != JobStatus.SUCCEEDED.value:
            reason = result.get("error") or status
            if status != JobStatus.CANCELLED.value:  # which part failed; a cancel is the job's
                reason = f"{self.label(stage_id)} {reason}"
            return Step(final={**self._final(result), "status": status, "error": reason})
        with self._lock:
            self._done[stage_id] = 1.0
        suffix = stage_id.rsplit("~", 1)[-1]
        if suffix == "split":
            return self._after_split(result)
        if suffix == "whole":
            return Step(final=self._final(result))
        if suffix == "join":
            return Step(final=self._final(result))
        self._segments_left.discard(stage_id)
        if self._segments_left:
            return Step()
        return Step(next=self._hand_out([join_stage(self.spec, self._cuts, self._offset)]))

    def progress(self, stage_id: str, percent: float | None, speed: float | None) -> float:
        """The whole job's percentage after a stage reported its own."""
        with self._lock:
            if percent is not None:
                self._done[stage_id] = max(0.0, min(1.0, percent / 100))
            if speed is not None:
                self._speeds[stage_id] = speed
            total = sum(self._weights.get(s, 0.0) * f for s, f in self._done.items())
        return round(100 * total, 1)

    def speed(self) -> float | None:
        """Media seconds per second over the segments running now (they run side by side)."""
        with self._lock:
            running = [v for s, v in self._speeds.items() if self._done.get(s, 0.0) < 1.0]
        return round(sum(running), 2) if running else None

    def eta(self, percent: float) -> float | None:
        elapsed = time.monotonic() - self.started
        if percent <= 0.5:
            return None
        return round(elapsed * (100 - percent) / percent, 1)

    def note(self, stage_id: str, text: str) -> None:
        """Kept in the stage's part of the job's log (its own log may be lost with a worker)."""
        self._notes.setdefault(stage_id, []).append(text)

    def discard_pieces(self) -> None:
        """After a failure or cancel: the pieces of finished segments go (they are temp names,
        so a sweep would find them too, but a person looking at the folder should not)."""
        if not self._cuts:
            return
        for target in self.spec.outputs:
            for i in range(len(self._cuts) + 1):
                piece_path(target.path, self.spec.id, i, target.role).unlink(missing_ok=True)

    # -- internals ---------------------------------------------------------------------------
    def _after_split(self, result: dict[str, Any]) -> Step:
        cuts = [float(c) for c in result.get("cuts") or ()]
        if not cuts:  # no usable keyframe index: the job runs in one pass after all
            whole = replace(
                self.spec,
                id=f"{self.spec.id}~whole",
                params={k: v for k, v in self.spec.params.items() if k != "split"},
            )
            with self._lock:
                self._weights[whole.id] = 1.0
            return Step(next=self._hand_out([whole]))
        self._cuts = cuts
        self._offset = float(result.get("video_offset") or 0.0)
        segments = segment_stages(
            self.spec, cuts, float(result.get("half_frame") or 0.0), self._offset
        )
        lengths = segment_lengths(cuts, self.spec.source_duration)
        whole = sum(lengths) or 1.0
        with self._lock:
            for seg, length in zip(segments, lengths, strict=True):
                self._weights[seg.id] = (1 - JOIN_SHARE) * length / whole
            self._weights[f"{self.spec.id}~join"] = JOIN_SHARE
        self._segments_left = {s.id for s in segments}
        return Step(next=self._hand_out(segments))

    def _hand_out(self, specs: list[JobSpec]) -> list[JobSpec]:
        self.stage_ids.update(s.id for s in specs)
        return specs

    def _merge_logs(self) -> str | None:
        """The stages' logs, in stage order, become the job's one log file."""
        if not self._logs:
            return None
        first = Path(next(iter(self._logs.values())))
        merged = first.with_name(f"{self.spec.id}.log")
        with merged.open("a", encoding="utf-8") as out:
            for stage_id in sorted(self._logs.keys() | self._notes.keys(), key=_stage_order):
                out.write(f"----- {self.label(stage_id)} -----\n")
                out.writelines(f"# {note}\n" for note in self._notes.get(stage_id, ()))
                if stage_id not in self._logs:
                    continue
                path = Path(self._logs[stage_id])
                try:
                    out.write(path.read_text(encoding="utf-8", errors="replace"))
                except OSError as err:
                    out.write(f"(log unavailable: {err.strerror})\n")
                if path != merged:
                    path.unlink(missing_ok=True)
        self._logs.clear()
        return str(merged)

    def _final(self, result: dict[str, Any]) -> dict[str, Any]:
        workers = sorted(set(self._workers))
        return {
            **result,
            "log_path": self._merge_logs() or result.get("log_path"),
            "job": self.spec.id,
            "seconds": round(time.monotonic() - self.started, 3),
            "worker": ", ".join(workers) if workers else result.get("worker"),
            "segments": len(self._cuts) + 1 if self._cuts else 1,
        }


def _stage_order(stage_id: str) -> tuple[int, str]:
    suffix = stage_id.rsplit("~", 1)[-1]
    return ({"split": 0, "join": 2, "whole": 2}.get(suffix, 1), suffix)


class ChunkedJobs:
    """The long encodes one executor is running in stages, and what their stages' news means
    for the jobs. Both executors hold one; they differ only in how a stage is started and
    stopped (a pool slot, a Celery task), which they pass in. Bus thread only, except the
    reporters, which the pool threads call."""

    def __init__(
        self,
        bus: Any,
        *,
        start: Callable[[list[JobSpec], bool], None],
        stop: Callable[[str, str], bool],
        running: Callable[[str], bool],
    ) -> None:
        """`start(stages, first)` queues stages (first: the job's first; else ahead of other
        jobs), `stop(stage_id, reason)` cancels one, `running(stage_id)` says one is busy."""
        self._bus, self._start, self._stop, self._running = bus, start, stop, running
        self._runs: dict[str, ChunkedRun] = {}
        self._announced: set[str] = set()

    def submit(self, spec: JobSpec) -> None:
        run = self._runs[spec.id] = ChunkedRun(spec)
        self._start(run.first(), True)

    def owns(self, job_id: str) -> bool:
        return parent_id(job_id) in self._runs

    def announce(self, stage_id: str) -> bool:
        """True the first time one of the job's stages starts: the job starts then."""
        job_id = parent_id(stage_id)
        if job_id in self._announced:
            return False
        self._announced.add(job_id)
        return True

    def reporter(self, stage_id: str) -> Callable[[dict[str, Any]], None]:
        """A stage reports as its job: one percentage, tagged log lines."""
        run = self._runs[parent_id(stage_id)]
        job_id, tag = run.spec.id, run.label(stage_id)

        def report(msg: dict[str, Any]) -> None:
            if msg.get("type") == "progress":
                percent = run.progress(stage_id, msg.get("percent"), msg.get("speed"))
                self._bus.publish(
                    JobProgressed(job_id, percent, run.speed(), run.eta(percent), None)
                )
            elif msg.get("type") == "log":
                lines = str(msg.get("line", "")).split("\n")  # a burst of lines: tag each
                self._bus.publish(JobLogged(job_id, "\n".join(f"{tag} {x}" for x in lines)))

        return report

    def finished(self, stage_id: str, result: dict[str, Any], *, interrupted: bool) -> None:
        run = self._runs.get(parent_id(stage_id))
        if run is None:
            return
        if run.ended:  # a sibling failed or the job was cancelled: tidy up after the last one
            self._forget_when_idle(run)
            return
        step = run.on_result(stage_id, result)
        if step.final is None:
            self._start(step.next, False)
            return
        final = step.final
        status = final.get("status", JobStatus.FAILED.value)
        if status == JobStatus.CANCELLED.value and interrupted:
            status = JobStatus.INTERRUPTED.value
        if status == JobStatus.SUCCEEDED.value:
            del self._runs[run.spec.id]
        else:  # one stage failed: the others stop
            self._end(run, final.get("error") or status)
        self._announced.discard(run.spec.id)
        self._bus.publish(
            JobFinished(
                run.spec.id,
                status,
                error=final.get("error"),
                warning=final.get("warning"),
                seconds=final.get("seconds"),
                outputs=tuple(final.get("outputs") or ()),
                result=final,
            )
        )

    def cancel(self, job_id: str, reason: str) -> bool:
        """Cancel a job in stages. Running stages answer with their cancelled result, which
        finishes the job; with none running it finishes now (or, on shutdown before it
        started, stays queued for resume, like any job that never started)."""
        run = self._runs.get(parent_id(job_id))
        if run is None:
            return False
        if run.ended:
            return True
        busy = any(self._running(s) for s in run.stage_ids)
        for stage_id in run.stage_ids:
            self._stop(stage_id, reason)
        if not busy:
            run.ended = True
            self._forget_when_idle(run)
            if run.spec.id in self._announced or reason != INTERRUPTED:
                status = JobStatus.INTERRUPTED if reason == INTERRUPTED else JobStatus.CANCELLED
                self._bus.publish(JobFinished(run.spec.id, status.value, error=reason))
            self._announced.discard(run.spec.id)
        return True

    def resent(self, stage_id: str, reason: str) -> None:
        """A stage sent again (its worker was lost): said live and kept in the job's log."""
        run = self._runs.get(parent_id(stage_id))
        if run is not None:
            run.note(stage_id, f"sent again: {reason}")
            self.reporter(stage_id)({"type": "log", "line": f"sent again: {reason}"})

    def job_ids(self, stage_ids: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(parent_id(s) for s in stage_ids))

    def _end(self, run: ChunkedRun, reason: str) -> None:
        run.ended = True
        for stage_id in run.stage_ids:
            self._stop(stage_id, reason)
        self._forget_when_idle(run)

    def _forget_when_idle(self, run: ChunkedRun) -> None:
        if not any(self._running(s) for s in run.stage_ids):
            run.discard_pieces()
            self._runs.pop(run.spec.id, None)
