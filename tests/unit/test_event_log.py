"""Every bus event becomes one JSON line (UTC time, job and batch ids); errors keep their
traceback in that file only; `reelforge events` reads it back."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from reelforge.bus import Bus
from reelforge.cli import _OneLine, main
from reelforge.config import Paths
from reelforge.domain.events import (
    AlertRaised,
    JobFinished,
    JobLogged,
    JobProgressed,
    JobsQueued,
    JobStarted,
    QueuedJob,
    QueueStateChanged,
)
from reelforge.observability.eventlog import EventLog
from reelforge.observability.eventread import Filter, follow, human, parse_since, read_lines
from reelforge.observability.jsonlog import LOG_NAME, install_json_log

T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _lines(path: Path) -> list[dict]:
    return [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]


@pytest.fixture
def logs(qapp, reelforge_home: Path) -> Path:
    logs = Paths.from_env().ensure().logs
    install_json_log(logs)
    return logs


def _publish_a_job(bus: Bus, clock: FakeClock) -> None:
    job = QueuedJob("a" * 32, "encode", "web", "web: 720p", "/videos/clip.mp4")
    bus.publish(JobsQueued(7, (job,)))
    clock.now += 1
    bus.publish(JobStarted(job.job_id, "host"))
    clock.now += 1
    bus.publish(JobProgressed(job.job_id, 50.0, 1.5, 2.0, 1.0))
    bus.publish(JobLogged(job.job_id, "frame=  10"))
    clock.now += 2.5
    bus.publish(JobFinished(job.job_id, "failed", error="not a media file", seconds=3.5))


def test_every_event_is_a_json_line_with_utc_time_and_ids(logs: Path) -> None:
    bus, clock = Bus(), FakeClock()
    log = EventLog(bus, clock=clock)
    _publish_a_job(bus, clock)
    bus.publish(QueueStateChanged("heavy", True, "low disk"))
    log.flush()
    lines = _lines(logs / LOG_NAME)
    assert [x["event"] for x in lines] == [
        "JobsQueued",
        "JobStarted",
        "JobProgressed",
        "JobLogged",
        "JobFinished",
        "QueueStateChanged",
    ]
    assert lines[0]["ts"] == "2026-09-21T14:13:20.000Z"
    assert lines[4]["ts"] == "2026-09-21T14:13:24.500Z"
    assert all("job_id" in x and "batch_id" in x for x in lines)
    # Events that do not carry the batch get it from the JobsQueued that announced the job.
    assert [x["batch_id"] for x in lines[:5]] == [7] * 5
    assert lines[4]["job_id"] == "a" * 32
    assert lines[4]["level"] == "warning" and lines[4]["error"] == "not a media file"
    assert lines[0]["jobs"][0]["source"] == "/videos/clip.mp4"
    assert lines[5]["job_id"] is None and lines[5]["reason"] == "low disk"
    log.close()


def test_events_never_reach_the_console_or_the_window_log(logs: Path) -> None:
    seen: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    catcher = Catch()
    logging.getLogger("reelforge").addHandler(catcher)
    try:
        bus = Bus()
        log = EventLog(bus, clock=FakeClock())
        bus.publish(AlertRaised("failure_spike", "critical", "5 failures in 10 min", "paused"))
        log.flush()
        log.close()
    finally:
        logging.getLogger("reelforge").removeHandler(catcher)
    assert seen == []
    (line,) = _lines(logs / LOG_NAME)
    assert line["level"] == "error" and line["rule"] == "failure_spike"


def test_an_application_error_keeps_its_traceback_in_the_log_only(logs: Path) -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("reelforge.queue").exception("planning failed for %s", "x.mp4")
    (line,) = _lines(logs / LOG_NAME)
    assert line["kind"] == "log" and line["level"] == "error"
    assert line["message"] == "planning failed for x.mp4"
    assert "Traceback (most recent call last)" in line["traceback"]
    assert "RuntimeError: boom" in line["traceback"]
    assert line["job_id"] is None and line["batch_id"] is None
    # What a person sees on the console for the same record: one line, no traceback.
    record = logging.LogRecord("reelforge.queue", logging.ERROR, "", 0, "planning failed", (), None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert _OneLine().format(record) == "reelforge: planning failed"


def test_events_command_reads_filters_and_formats(logs: Path, capsys) -> None:
    bus, clock = Bus(), FakeClock()
    log = EventLog(bus, clock=clock)
    _publish_a_job(bus, clock)
    other = QueuedJob("b" * 32, "probe", "web", "probe", "/videos/other.mp4")
    clock.now += 3600
    bus.publish(JobsQueued(8, (other,)))
    bus.publish(JobFinished(other.job_id, "succeeded", seconds=0.2))
    log.flush()
    log.close()

    assert main(["events", "--json", "--job", "aaaaaaaa"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(out) == 5 and {x["batch_id"] for x in out} == {7}

    assert main(["events", "--since", "2026-09-21T14:30:00+00:00"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 2
    assert "JobsQueued" in text[0] and "batch 8" in text[0] and "1 job(s) queued" in text[0]
    assert "job bbbbbbbb" in text[1] and "succeeded in 0.2 s" in text[1]

    assert main(["events", "--since", "yesterday-ish"]) == 2
    assert "cannot read time" in capsys.readouterr().err


def test_human_line_for_a_failure_and_a_log_record() -> None:
    line = {
        "ts": "2026-09-21T14:13:24.500Z",
        "level": "warning",
        "kind": "event",
        "event": "JobFinished",
        "job_id": "a" * 32,
        "batch_id": 7,
        "status": "failed",
        "seconds": 3.5,
        "error": "not a media file",
    }
    text = human(line)
    assert "WARNING" in text and "job aaaaaaaa" in text and "batch 7" in text
    assert text.endswith("failed in 3.5 s: not a media file")
    rec = {"ts": line["ts"], "level": "error", "kind": "log", "logger": "reelforge.queue"}
    assert "(traceback in the log" in human({**rec, "message": "x", "traceback": "T"})


def test_human_lines_for_a_burst_of_ffmpeg_lines() -> None:
    """A JobLogged carries the lines ffmpeg wrote together: each on its own line, aligned."""
    line = {"ts": "2026-09-21T14:13:24.500Z", "level": "info", "kind": "event",
            "event": "JobLogged", "job_id": "b" * 32,
            "line": "Stream #0:0: Video\n  Metadata:"}  # fmt: skip
    first, second = human(line).split("\n")
    assert first.endswith("Stream #0:0: Video")
    assert second.strip() == "Metadata:"
    assert second.index("Metadata:") == first.index("Stream") + 2


def test_parse_since() -> None:
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("2h", now=10_000.0) == 2800.0
    assert parse_since("1w", now=604_800.0) == 0.0
    assert parse_since("2026-09-21T14:13:20Z") == T0
    with pytest.raises(ValueError, match="cannot read time"):
        parse_since("soon")


def test_filter_matches_a_job_inside_jobs_queued() -> None:
    queued = {"ts": "2026-09-21T13:46:40Z", "jobs": [{"job_id": "abc"}], "job_id": None}
    assert Filter(job="ab")(queued)
    assert not Filter(job="x")(queued)
    assert not Filter(since=T0 + 1)(queued)


def test_follow_prints_new_lines_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / LOG_NAME
    path.write_text('{"ts": "x", "n": 0}\n', encoding="utf-8")
    got: list[int] = []
    steps = iter(
        [
            lambda: path.open("a").write('{"n": 1}\n{"n": 2'),  # the 2nd line is still torn
            lambda: path.open("a").write("}\n"),
            lambda: (path.rename(tmp_path / f"{LOG_NAME}.1"), path.write_text('{"n": 3}\n')),
            lambda: None,
        ]
    )
    done = []

    def sleep(_s: float) -> None:
        step = next(steps, None)
        if step is None:
            done.append(True)
        else:
            step()

    follow(tmp_path, lambda line: got.append(line["n"]), sleep=sleep, stop=lambda: bool(done))
    assert got == [1, 2, 3]
    assert [x.get("n") for x in read_lines([path])] == [3]


def test_a_big_drop_logs_ids_only_and_stays_findable(logs: Path, capsys) -> None:
    bus = Bus()
    log = EventLog(bus, clock=FakeClock())
    jobs = tuple(QueuedJob(f"{i:032x}", "probe", "web", "probe", f"/v/{i}.mp4") for i in range(500))
    bus.publish(JobsQueued(3, jobs))
    bus.publish(JobsQueued(4, jobs[:2]))
    log.flush()
    big, small = _lines(logs / LOG_NAME)
    assert len(big["job_ids"]) == 500 and "jobs" not in big
    assert small["jobs"][1]["source"] == "/v/1.mp4"
    assert main(["events", "--json", "--job", f"{499:032x}"]) == 0
    (found,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert found["batch_id"] == 3
