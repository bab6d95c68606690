"""Watch folders: a growing file is ignored until stable, then taken once; a restart or a touch
does not take it again, new content does; outputs inside the watched folder never feed it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reelforge.bootstrap import build
from reelforge.config import WatchFolder
from reelforge.domain.events import WatchedFileTaken
from reelforge.domain.jobs import JobKind
from reelforge.watch.folders import WatchService


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def core(qapp):
    app = build()
    app.executor.pause()  # probes stay queued: this is about what gets enqueued, and when
    yield app
    app.close(interrupt=False)


def service(core, folders: list[WatchFolder], clock: Clock) -> tuple[WatchService, list[str]]:
    svc = WatchService(
        core.bus,
        core.queue,
        core.store,
        folders=lambda: folders,
        default_out=lambda: core.settings.effective_output_dir,
        clock=clock,
    )
    taken: list[str] = []
    core.bus.subscribe(WatchedFileTaken, lambda e: taken.append(Path(e.path).name))
    svc.reconfigure()
    return svc, taken


def queued_sources(core) -> list[str]:
    batches = {j.batch_id for j in core.repo.history(limit=1000)}
    jobs = [j for b in sorted(batches) for j in core.repo.jobs_in_batch(b)]
    return [Path(j.source_path).name for j in jobs if j.kind is JobKind.PROBE]


def write(path: Path, data: bytes, *, append: bool = False) -> None:
    with path.open("ab" if append else "wb") as fh:
        fh.write(data)


def test_growing_file_waits_until_stable_then_is_taken_once(core, tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    clock = Clock()
    svc, taken = service(core, [WatchFolder(str(inbox), ("thumbnails",), str(out))], clock)
    clip = inbox / "clip.mp4"
    write(clip, b"a" * 1000)
    svc.rescan()
    assert taken == []
    for _ in range(3):  # still being copied: it grows between looks
        clock.now += 2
        write(clip, b"b" * 1000, append=True)
        svc.poll()
        assert taken == []
    clock.now += 2
    svc.poll()
    assert taken == []  # unchanged for 2 s only
    clock.now += 1.5
    svc.poll()
    assert taken == ["clip.mp4"]
    assert queued_sources(core) == ["clip.mp4"]
    batch = core.repo.get_batch(core.repo.history(limit=1)[0].batch_id)
    assert batch.origin == "watch" and batch.presets == ("thumbnails",)
    assert batch.out_dir == str(out)
    clock.now += 100
    svc.rescan()
    svc.poll()
    assert taken == ["clip.mp4"]


def test_taken_once_across_a_restart_and_a_touch(core, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    folders = [WatchFolder(str(inbox), ("web",), str(tmp_path / "out"))]
    existing = inbox / "already-here.mov"
    write(existing, b"x" * 5000)  # there before watching starts: same stability rule
    clock = Clock()
    first, taken = service(core, folders, clock)
    first.rescan()
    assert taken == []
    clock.now += 3
    first.poll()
    assert taken == ["already-here.mov"]
    first.stop()

    second, taken2 = service(core, folders, clock)  # a restart: the history remembers
    second.rescan()
    clock.now += 5
    second.poll()
    assert taken2 == []
    os.utime(existing, (clock.now, clock.now + 10))  # touched: same content
    second.rescan()
    clock.now += 5
    second.poll()
    assert taken2 == []
    write(existing, b"new content", append=True)  # changed: new work
    second.rescan()
    clock.now += 5
    second.poll()
    assert taken2 == ["already-here.mov"]
    assert queued_sources(core) == ["already-here.mov", "already-here.mov"]


def test_outputs_inside_the_watched_folder_never_feed_it(core, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    out = inbox / "renditions"  # the output folder sits inside the watched one
    (out / "clip").mkdir(parents=True)
    write(out / "clip" / "clip.720p.mp4", b"o" * 3000)
    write(inbox / ".rftmp-1.clip.mp4", b"t" * 3000)  # a temp file: hidden, never taken
    write(inbox / "notes.txt", b"n" * 3000)  # not media
    sub = inbox / "day1"
    sub.mkdir()
    write(sub / "take.mkv", b"k" * 3000)  # subfolders are watched too
    clock = Clock()
    svc, taken = service(core, [WatchFolder(str(inbox), ("web",), str(out))], clock)
    svc.rescan()
    clock.now += 3
    svc.poll()
    assert taken == ["take.mkv"]
    assert out not in {Path(d) for d in svc._fs.directories()}


def test_the_file_system_watcher_sees_a_new_file(core, qtbot, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    core.settings = core.settings.__class__(
        **{**core.settings.__dict__, "watch": (WatchFolder(str(inbox), ("web",), ""),)}
    )
    svc = core.watch
    svc.tracker.settle = 0.2
    svc._poll.setInterval(50)
    svc._rescan.setInterval(3_600_000)  # only the file-system watcher can find it in time
    taken: list[WatchedFileTaken] = []
    core.bus.subscribe(WatchedFileTaken, taken.append)
    core.start_background()
    assert str(inbox) in svc._fs.directories()
    write(inbox / "new.webm", b"w" * 2000)
    qtbot.waitUntil(lambda: bool(taken), timeout=5000)
    assert Path(taken[0].path).name == "new.webm" and taken[0].folder == str(inbox)
