"""Long encodes in segments (domain/split.py), in process: a cancel or a failing segment stops
every segment's ffmpeg, finishes the job once with one reason, and leaves no piece behind."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from soak import ffmpeg_processes

from checkers import assert_one_line, pump, temp_files
from mediagen import make_clip
from reelforge.bootstrap import App, build
from reelforge.config import Paths, Settings, save_settings
from reelforge.domain.commands import CancelJobs, Enqueue

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux /proc")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    return make_clip(folder / "long.mp4", size="640x360", seconds=36.0, rate=25)


@pytest.fixture
def split_app(qapp: Any, reelforge_home: Path) -> Iterator[App]:
    settings = Settings(heavy_concurrency=2, split_after=20.0, segment_seconds=10.0)
    save_settings(Paths(reelforge_home).settings, settings)
    app = build()
    yield app
    app.close()


def _run_until_two_segments_encode(qapp: Any, app: App, source: Path, out: Path) -> str:
    app.queue.enqueue(Enqueue((str(source),), ("web",), str(out)))

    def two_encoding() -> bool:
        return len(ffmpeg_processes(out)) >= 2

    assert pump(qapp, two_encoding, 60), "two segments never encoded at once"
    [job] = [j for j in app.repo.history() if j.kind.value == "encode"]
    return job.id


def _settled(app: App, job_id: str) -> Callable[[], bool]:
    return lambda: app.repo.get_job(job_id).status.value in ("succeeded", "failed", "cancelled")


def test_cancel_stops_every_segment_and_leaves_no_piece(
    qapp: Any, split_app: App, long_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    job_id = _run_until_two_segments_encode(qapp, split_app, long_clip, out)
    split_app.queue.cancel(CancelJobs((job_id,)))
    assert pump(qapp, _settled(split_app, job_id), 30)
    assert pump(qapp, lambda: not ffmpeg_processes(out), 10), ffmpeg_processes(out)
    job = split_app.repo.get_job(job_id)
    assert job.status.value == "cancelled" and job.error == "cancelled"
    assert pump(qapp, lambda: not temp_files(out), 10), temp_files(out)
    assert split_app.executor.active() == 0 or pump(
        qapp, lambda: split_app.executor.active() == 0, 10
    )


def test_a_failing_segment_fails_the_job_with_its_reason_and_stops_the_others(
    qapp: Any, split_app: App, long_clip: Path, tmp_path: Path
) -> None:
    source = tmp_path / "changing.mp4"
    shutil.copy(long_clip, source)
    out = tmp_path / "out"
    job_id = _run_until_two_segments_encode(qapp, split_app, source, out)
    with source.open("ab") as fh:  # the file changes under the job: later segments refuse it
        fh.write(b"appended")
    assert pump(qapp, _settled(split_app, job_id), 60)
    job = split_app.repo.get_job(job_id)
    assert job.status.value == "failed"
    assert_one_line(job.error)
    assert re.fullmatch(
        r"\[\d/4\] source file changed after it was queued \(add it again\)", job.error
    )
    assert pump(qapp, lambda: not ffmpeg_processes(out) and not temp_files(out), 30), (
        ffmpeg_processes(out),
        temp_files(out),
    )
    assert not (out / "changing").exists() or not any(
        p.suffix == ".mp4" for p in (out / "changing").iterdir()
    )
