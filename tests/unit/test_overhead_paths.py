"""The cheaper per-job paths of a batch (issue 3's overhead benchmark) say exactly what the
slower ones said: event lines, log rotation, the records the repository hands out, ffmpeg's
remembered answers."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from reelforge.domain.events import (
    AlertRaised,
    BatchFinished,
    JobFinished,
    JobLogged,
    JobProgressed,
    JobStarted,
    SourceProbed,
    WorkerLost,
)
from reelforge.domain.jobs import JobKind, JobStatus
from reelforge.domain.spec import JobSpec, OutputTarget, new_job_id
from reelforge.media import binaries
from reelforge.observability.eventlog import EventLog, _event_fields
from reelforge.observability.jsonlog import EVENTS_LOGGER, JsonFormatter, JsonLogHandler
from reelforge.storage.engine import open_database
from reelforge.storage.repository import Repository

OUTPUT = {"role": "240p", "path": "/out/a.240p.mp4", "size": 10, "duration": 1.0,
          "width": 320, "height": 240, "vcodec": "h264", "acodec": "aac"}  # fmt: skip


@pytest.mark.parametrize(
    "event",
    [
        JobLogged("j1", "frame=  10 fps=0.0 q=-1.0"),
        JobStarted("j1", "host"),
        JobProgressed("j1", 50.0, None, 2.0, 1.0),
        JobFinished("j1", "succeeded", None, "w", 0.5, (OUTPUT,), {"media_info": {"a": [1, 2]}}),
        SourceProbed("j1", 3, {"streams": [{"index": 0, "codec": "h264"}], "path": Path("/x")}),
        BatchFinished(1, {"succeeded": 2}, 1.5, (("/a.mp4", "bad"),)),
        WorkerLost("w1", "gone", ("j1", "j2")),
        AlertRaised("low_disk", "warning", "low disk", key="/out"),
    ],
)
def test_event_fields_dump_like_asdict(event) -> None:
    def dump(d: dict) -> str:
        return json.dumps(d, sort_keys=True, default=str)

    assert dump(_event_fields(event)) == dump(event.to_dict())


class _Bus:
    def subscribe_all(self, handler) -> None:
        self.handler = handler


@pytest.fixture
def events_file(tmp_path: Path):
    """The events logger writing to a small rotating JsonLogHandler, as install_json_log sets
    it up (restored afterwards)."""
    logger = logging.getLogger(EVENTS_LOGGER)
    saved = (logger.handlers[:], logger.propagate, logger.level)
    handler = JsonLogHandler(tmp_path / "events.jsonl", maxBytes=2000, backupCount=3, delay=True)
    handler.setFormatter(JsonFormatter())
    logger.handlers[:] = [handler]
    logger.propagate, logger.level = False, logging.INFO
    yield tmp_path / "events.jsonl", handler
    handler.close()
    logger.handlers[:], logger.propagate, logger.level = saved


def _lines(path: Path) -> list[dict]:
    return [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines()]


def test_every_event_is_a_line_across_rotations(events_file) -> None:
    path, _ = events_file
    bus = _Bus()
    EventLog(bus, clock=lambda: 1_790_000_000.0)
    for n in range(60):
        bus.handler(JobLogged(f"job{n:03d}", f"line {n} " + "x" * 40))
    files = [path.with_name(f"events.jsonl.{i}") for i in (3, 2, 1)] + [path]
    assert all(f.exists() for f in files)
    assert all(f.stat().st_size < 2000 for f in files)
    kept = [line for f in files for line in _lines(f)]
    # The oldest lines went with the backups beyond the third; the rest are all there, in order.
    assert [line["job_id"] for line in kept] == [f"job{n:03d}" for n in range(60 - len(kept), 60)]
    assert kept[-1] == {"ts": "2026-09-21T14:13:20.000Z", "level": "info", "kind": "event",
                        "event": "JobLogged", "job_id": "job059", "batch_id": None,
                        "line": "line 59 " + "x" * 40}  # fmt: skip


def test_application_records_go_through_the_same_handler(events_file) -> None:
    path, handler = events_file
    log = logging.getLogger("reelforge.test_overhead_paths")
    log.addHandler(handler)
    try:
        log.warning("disk is %s", "full")
    finally:
        log.removeHandler(handler)
    (line,) = _lines(path)
    assert (line["kind"], line["level"], line["message"]) == ("log", "warning", "disk is full")


def test_a_handler_on_dev_null_never_rotates(tmp_path: Path) -> None:
    link = tmp_path / "null.jsonl"
    link.symlink_to(os.devnull)
    handler = JsonLogHandler(link, maxBytes=10, backupCount=1, delay=True)
    try:
        for _ in range(5):
            handler.write_line("x" * 20)
    finally:
        handler.close()
    assert link.is_symlink() and not link.with_name("null.jsonl.1").exists()


def _spec() -> JobSpec:
    return JobSpec(
        id=new_job_id(), kind=JobKind.ENCODE, preset="web", source="/v/a.mp4",
        source_duration=1.0,
        outputs=(OutputTarget(role="240p", path="/out/a.240p.mp4", media="video"),),
        params={},
    )  # fmt: skip


def test_the_record_a_transition_hands_out_is_what_a_fresh_read_finds(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "history.db")
    try:
        repo, other = Repository(engine), Repository(engine)  # other: no records kept
        batch = repo.create_batch(["web"], "/out", "cli")
        spec = _spec()
        repo.add_jobs(batch, None, [spec], app_version="0", ffmpeg_version="9")
        steps = [
            dict(new_status=JobStatus.RUNNING, worker="h"),
            dict(new_status=JobStatus.SUCCEEDED, seconds=0.5, outputs=[OUTPUT], log_path="/l"),
            dict(new_status=JobStatus.QUEUED, reason="retry"),  # a new attempt: outputs cleared
            dict(new_status=JobStatus.RUNNING),
            dict(new_status=JobStatus.FAILED, error="bad\nthing"),
        ]
        for step in steps:
            written = repo.transition(spec.id, **step)  # type: ignore[arg-type]
            assert written == other.get_job(spec.id)
            assert repo.get_job(spec.id) == written
        source = repo.upsert_source("/v/a.mp4", size=1, mtime=1.0)
        repo.set_source(spec.id, source)
        assert repo.get_job(spec.id) == other.get_job(spec.id)
        assert repo.get_job(spec.id).source_id == source  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_ffmpeg_answers_are_remembered_in_the_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{calls}"\n'
        'case "$*" in\n'
        '  *-filters*) printf " ------\\n TSC zscale  V->V  z\\n ... tonemap V->V t\\n" ;;\n'
        '  *) echo "ffmpeg version 9.9-fake Copyright" ;;\n'
        "esac\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    cache = tmp_path / "home" / "ffmpeg-answers.json"
    cache.parent.mkdir()
    monkeypatch.setattr(binaries, "_cache_file", None)
    binaries.use_cache_file(cache)

    def ask() -> tuple[str, bool]:
        binaries._version_cached.cache_clear()  # a new process: nothing in memory
        binaries._list_cached.cache_clear()
        return binaries.find_ffmpeg(str(fake)).version, binaries.has_filter(str(fake), "zscale")

    assert ask() == ("9.9-fake", True)
    assert calls.read_text().split("\n")[:2] == ["-version", "-hide_banner -filters"]
    calls.unlink()
    assert ask() == ("9.9-fake", True)
    assert not calls.exists(), "asked ffmpeg again although its answers were remembered"
    # Another binary at the same path (new size and mtime) is asked again.
    fake.write_text(fake.read_text().replace("9.9-fake", "10.0-new"), encoding="utf-8")
    os.utime(fake, ns=(1, 1))
    assert ask() == ("10.0-new", True)
    assert calls.exists()
    # A damaged cache file is only a cache miss.
    cache.write_text("{not json", encoding="utf-8")
    assert ask() == ("10.0-new", True)
    binaries._version_cached.cache_clear()
    binaries._list_cached.cache_clear()
