"""What a finished batch tells the person, and that it tells it once."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication

from reelforge.bus import Bus
from reelforge.domain.events import BatchFinished, BatchQueued
from reelforge.services.notifications import (
    TITLE_DONE,
    TITLE_FAILED,
    BatchNotifier,
    Notice,
    humanize_seconds,
    summarize,
)


def _batch(batch_id: int = 7, seconds: float = 240.0, failures=(), **counts: int) -> BatchFinished:
    return BatchFinished(batch_id=batch_id, counts=counts, seconds=seconds, failures=failures)


def test_all_ok() -> None:
    notice = summarize(_batch(succeeded=10, skipped=2, seconds=240))
    assert notice == Notice(TITLE_DONE, "12 done - 4 min", failed=False, batch_id=7)


def test_one_failure_names_the_file_and_the_reason() -> None:
    event = _batch(
        succeeded=12,
        failed=1,
        failures=(("/media/in/clip.mov", "not a media file"),),
    )
    notice = summarize(event)
    assert notice.title == TITLE_FAILED
    assert notice.failed
    assert notice.body == "12 done, 1 failed - 4 min\nclip.mov: not a media file"
    assert "more" not in notice.body


def test_more_failures_are_counted_not_listed() -> None:
    failures = (
        ("C:\\Users\\ann\\Videos\\a.mkv", "ffmpeg exited with code 1\nstderr tail..."),
        ("/b.mov", "x"),
        ("/c.mov", "y"),
    )
    notice = summarize(_batch(succeeded=2, failed=3, failures=failures, seconds=5))
    first, second = notice.body.splitlines()
    assert first == "2 done, 3 failed - 5 s"
    assert second == "a.mkv: ffmpeg exited with code 1 (+2 more)"


def test_failed_count_without_details_still_marks_failure() -> None:
    notice = summarize(_batch(succeeded=1, failed=2, seconds=3))
    assert notice.failed and notice.title == TITLE_FAILED
    assert notice.body == "1 done, 2 failed - 3 s"


def test_cancelled_and_interrupted_are_mentioned() -> None:
    notice = summarize(_batch(succeeded=3, cancelled=2, interrupted=1, seconds=65))
    assert notice.body == "3 done, 2 cancelled, 1 interrupted - 1 min"
    assert not notice.failed and notice.title == TITLE_DONE


def test_long_reason_is_shortened() -> None:
    notice = summarize(_batch(failed=1, failures=(("/x.mp4", "e" * 500),)))
    assert len(notice.body.splitlines()[1]) < 200
    assert notice.body.endswith("…")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (12.4, "12 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),
        (240, "4 min"),
        (3599, "1 h"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (7260, "2 h 1 min"),
        (float("nan"), "0 s"),
        (-3, "0 s"),
    ],
)
def test_durations(seconds: float, text: str) -> None:
    assert humanize_seconds(seconds) == text


class _Recorder:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def __call__(self, notice: Notice) -> None:
        self.notices.append(notice)


def test_notifier_delivers_once_per_batch(qapp: QCoreApplication) -> None:
    bus, deliver = Bus(), _Recorder()
    BatchNotifier(bus, deliver)
    first = _batch(batch_id=1, succeeded=3)
    bus.publish(BatchQueued(batch_id=1, sources=3))
    bus.publish(first)
    bus.publish(first)  # the same event again (a replay) is not told twice
    bus.publish(_batch(batch_id=2, failed=1, failures=(("/a.mov", "bad"),)))
    assert [n.batch_id for n in deliver.notices] == [1, 2]
    assert deliver.notices[1].failed


def test_notifier_is_silent_when_disabled(qapp: QCoreApplication) -> None:
    bus, deliver = Bus(), _Recorder()
    notifier = BatchNotifier(bus, deliver, enabled=False)
    bus.publish(_batch(batch_id=1, succeeded=1))
    assert deliver.notices == []
    notifier.enabled = True  # the settings toggle
    bus.publish(_batch(batch_id=2, succeeded=1))
    notifier.enabled = False
    bus.publish(_batch(batch_id=3, succeeded=1))
    assert [n.batch_id for n in deliver.notices] == [2]


def test_notifier_delivers_events_published_from_another_thread(qapp: QCoreApplication) -> None:
    import threading

    bus, deliver = Bus(), _Recorder()
    BatchNotifier(bus, deliver)
    worker = threading.Thread(target=bus.publish, args=(_batch(batch_id=9, succeeded=1),))
    worker.start()
    worker.join()
    assert deliver.notices == []  # not on the worker thread: on the bus's owner thread
    qapp.processEvents()
    assert [n.batch_id for n in deliver.notices] == [9]
