"""Every history record keeps the versions that produced it: the app's and ffmpeg's.

(The installed .deb is checked the same way in tests/packaging with its bundled ffmpeg.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from checkers import run_cli
from mediagen import make_clip
from reelforge.__about__ import __version__
from reelforge.config import Paths
from reelforge.media.binaries import find_ffmpeg
from reelforge.storage.engine import open_database
from reelforge.storage.repository import Repository


@pytest.fixture(scope="module", autouse=True)
def _qt(qapp: Any) -> None:
    """A QApplication before main() makes its QCoreApplication (pytest-qt tests need one)."""


def test_history_records_and_job_logs_name_the_app_and_ffmpeg_versions(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size="320x180", seconds=1.0)
    ffmpeg = find_ffmpeg(None)
    run = run_cli(
        ["process", str(clip), "-p", "web", "-p", "audio", "--out", str(tmp_path / "out"), "--json"]
    )
    assert run.rc == 0, run.stderr
    finished = [json.loads(line) for line in run.stdout.splitlines()]
    assert {j["kind"] for j in finished} >= {"probe", "encode", "thumbnails", "audio"}

    history = run_cli(["history", "--json"])
    records = [json.loads(line) for line in history.stdout.splitlines()]
    assert {r["job"] for r in records} == {j["job"] for j in finished}
    for record in [*finished, *records]:
        assert (record["app_version"], record["ffmpeg_version"]) == (__version__, ffmpeg.version)

    # The same in the database itself, and at the top of each job's own log.
    engine = open_database(Paths.from_env().database)
    try:
        repo = Repository(engine)
        logs = 0
        for job in finished:
            rec = repo.get_job(job["job"])
            assert rec is not None
            assert (rec.app_version, rec.ffmpeg_version) == (__version__, ffmpeg.version)
            if rec.log_path:
                head = Path(rec.log_path).read_text(encoding="utf-8").splitlines()[0]
                assert f"Reelforge {__version__}" in head and f"ffmpeg {ffmpeg.version}" in head
                logs += 1
        assert logs >= len([j for j in finished if j["kind"] != "probe"])  # every ffmpeg job
    finally:
        engine.dispose()
