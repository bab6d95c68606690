"""ffmpeg's stderr is passed on a burst at a time, without cutting lines or characters."""

from __future__ import annotations

import os
import threading
import time

import pytest

from reelforge.media.process import BURST_GAP, _Run

posix_only = pytest.mark.skipif(os.name != "posix", reason="bursts are gathered with select()")


def _feed(writes: list[bytes], pause: float) -> tuple[list[str], _Run]:
    """Write the pieces into a pipe `pause` s apart; return what on_log got."""
    got: list[str] = []
    run = _Run(None, None, got.append, None)
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        for piece in writes:
            os.write(write_fd, piece)
            time.sleep(pause)
        os.close(write_fd)

    t = threading.Thread(target=writer)
    t.start()
    with os.fdopen(read_fd, "rb") as pipe:
        run.read_stderr(pipe)
    t.join()
    return got, run


@posix_only
def test_lines_written_together_are_one_call() -> None:
    got, run = _feed([f"line {i}\n".encode() for i in range(40)], pause=0)
    assert got == ["\n".join(f"line {i}" for i in range(40))]
    assert list(run.tail) == [f"line {i}" for i in range(40)][-len(run.tail) :]


def test_a_cut_line_and_a_cut_character_wait_for_their_end() -> None:
    # 'é' is two bytes, split across writes far enough apart to be separate reads.
    got, _ = _feed([b"abc", b"def\nxy\xc3", b"\xa9z\r\n", b"no newline at the end"],
                   pause=BURST_GAP * 10)  # fmt: skip
    lines = "\n".join(got).split("\n")
    assert lines == ["abcdef", "xy\u00e9z", "no newline at the end"]
    assert got[0] == "abcdef"  # passed on as soon as its end arrived, not with the rest


def test_blank_lines_and_carriage_returns_are_dropped() -> None:
    got, _ = _feed([b"\n\r\n  \nframe=1\rframe=2\r\n"], pause=0)
    assert got == ["frame=1\nframe=2"]
