"""ProgressParser, percent() and EtaEstimator against recorded and hostile ffmpeg output."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reelforge.media.progress import EtaEstimator, ProgressParser, ProgressSample, percent

# Recorded from ffmpeg 9 (`-progress pipe:1`, libx264 + aac into mp4).
RECORDED = """\
frame=12
fps=0.00
stream_0_0_q=28.0
bitrate=N/A
total_size=48
out_time_us=480000
out_time_ms=480000
out_time=00:00:00.480000
dup_frames=0
drop_frames=0
speed=0.957x
progress=continue
frame=25
fps=24.31
stream_0_0_q=-1.0
bitrate= 816.4kbits/s
total_size=102054
out_time_us=1000000
out_time_ms=1000000
out_time=00:00:01.000000
dup_frames=0
drop_frames=0
speed=19.5x
progress=end
"""

# What ffmpeg prints before the first packet is muxed: N/A and INT64_MIN-ish times.
BEFORE_FIRST_PACKET = """\
frame=0
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=N/A
out_time_us=-9223372036854775807
out_time_ms=-9223372036854775807
out_time=-2562047788:00:54.775807
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
"""


def feed_all(text: str, parser: ProgressParser | None = None) -> list[ProgressSample]:
    parser = parser or ProgressParser()
    samples = [parser.feed(line) for line in text.splitlines(keepends=True)]
    return [s for s in samples if s is not None]


def test_recorded_blocks() -> None:
    first, last = feed_all(RECORDED)
    assert first == ProgressSample(
        out_time=0.48, speed=0.957, fps=0.0, frame=12, total_size=48, done=False
    )
    assert last.out_time == pytest.approx(1.0)
    assert last.speed == pytest.approx(19.5)
    assert last.fps == pytest.approx(24.31)
    assert last.frame == 25
    assert last.total_size == 102054
    assert last.done is True


def test_no_sample_until_a_block_closes() -> None:
    parser = ProgressParser()
    for line in RECORDED.splitlines()[:11]:  # everything but "progress=continue"
        assert parser.feed(line) is None
    assert parser.feed("progress=continue") is not None


def test_na_and_negative_values_become_none() -> None:
    (sample,) = feed_all(BEFORE_FIRST_PACKET)
    assert sample.out_time is None
    assert sample.speed is None
    assert sample.total_size is None
    assert sample.frame == 0
    assert sample.done is False


def test_out_time_ms_is_microseconds_and_only_a_fallback() -> None:
    # out_time_ms carries microseconds (an old ffmpeg bug); dividing by 1000 would give 2500 s.
    (sample,) = feed_all("out_time_ms=2500000\nprogress=continue\n")
    assert sample.out_time == pytest.approx(2.5)
    # When out_time_us is there it wins, even if out_time_ms disagrees.
    (sample,) = feed_all("out_time_ms=9000000\nout_time_us=1500000\nprogress=continue\n")
    assert sample.out_time == pytest.approx(1.5)


def test_out_time_clock_is_the_last_fallback() -> None:
    (sample,) = feed_all("out_time=01:02:03.500000\nprogress=continue\n")
    assert sample.out_time == pytest.approx(3723.5)
    (sample,) = feed_all("out_time_us=N/A\nout_time=00:00:04.250000\nprogress=continue\n")
    assert sample.out_time == pytest.approx(4.25)
    (sample,) = feed_all("out_time=-00:00:00.040000\nprogress=continue\n")
    assert sample.out_time is None


@pytest.mark.parametrize(
    "lines",
    [
        ["garbage", "", "====", "=", "speed=fast", "fps=nan", "frame=-3", "frame=1.5"],
        ["out_time_us=12abc", "total_size=-1", "speed=-2x", "speed=infx", "fps=inf"],
        ["\x00\x01\x02", "out_time=aa:bb:cc", "out_time=1:2", "out_time=00:99:00.0"],
    ],
)
def test_garbage_lines_never_raise_and_give_none(lines: list[str]) -> None:
    parser = ProgressParser()
    for line in lines:
        assert parser.feed(line) is None
    sample = parser.feed("progress=continue")
    assert sample is not None
    assert sample.out_time is None
    assert sample.speed is None
    assert sample.fps is None
    assert sample.frame is None
    assert sample.total_size is None


def test_blocks_do_not_leak_into_each_other() -> None:
    parser = ProgressParser()
    first = feed_all("out_time_us=1000000\nspeed=2x\nprogress=continue\n", parser)[0]
    second = feed_all("frame=3\nprogress=continue\n", parser)[0]
    assert first.out_time == pytest.approx(1.0)
    assert second.out_time is None
    assert second.speed is None
    assert second.frame == 3


def test_surrounding_whitespace_and_crlf() -> None:
    (sample,) = feed_all("  out_time_us = 2000000 \r\nspeed= 1.53x\r\nprogress=end\r\n")
    assert sample.out_time == pytest.approx(2.0)
    assert sample.speed == pytest.approx(1.53)
    assert sample.done


@pytest.mark.parametrize(
    ("out_time", "duration", "expected"),
    [
        (5.0, 10.0, 50.0),
        (0.0, 10.0, 0.0),
        (12.0, 10.0, 100.0),
        (-1.0, 10.0, 0.0),
        (None, 10.0, None),
        (5.0, None, None),
        (5.0, 0.0, None),
        (5.0, -3.0, None),
        (float("nan"), 10.0, None),
        (5.0, float("inf"), None),
    ],
)
def test_percent(out_time: float | None, duration: float | None, expected: float | None) -> None:
    assert percent(out_time, duration) == expected


def test_eta_from_a_steady_encode() -> None:
    eta = EtaEstimator(100.0)
    assert eta.update(0.0, now=10.0) == (0.0, None, None)  # one point: no speed yet
    for second in range(1, 6):  # 2 media seconds per wall second
        pct, remaining, speed = eta.update(2.0 * second, now=10.0 + second)
    assert pct == pytest.approx(10.0)
    assert speed == pytest.approx(2.0)
    assert remaining == pytest.approx(45.0)  # 90 media seconds left at 2x


def test_eta_follows_recent_speed_not_the_whole_run() -> None:
    eta = EtaEstimator(1000.0)
    now, out = 0.0, 0.0
    for _ in range(20):  # 10x for 20 s
        now, out = now + 1, out + 10
        eta.update(out, now)
    for _ in range(20):  # then 1x for 20 s: the window forgets the fast start
        now, out = now + 1, out + 1
        _, remaining, speed = eta.update(out, now)
    assert speed == pytest.approx(1.0)
    assert remaining == pytest.approx(1000.0 - out)


def test_eta_unknowable_cases() -> None:
    no_duration = EtaEstimator(0.0)
    no_duration.update(1.0, 0.0)
    pct, remaining, speed = no_duration.update(3.0, 2.0)
    assert pct is None
    assert remaining is None
    assert speed == pytest.approx(1.0)

    stuck = EtaEstimator(10.0)
    stuck.update(2.0, 0.0)
    assert stuck.update(2.0, 5.0) == (20.0, None, None)  # no movement: no speed, no ETA

    unknown_time = EtaEstimator(10.0)
    assert unknown_time.update(None, 0.0) == (None, None, None)


def test_eta_restarts_when_time_goes_backwards() -> None:
    eta = EtaEstimator(10.0)
    eta.update(8.0, 0.0)
    eta.update(9.0, 1.0)
    pct, _, speed = eta.update(1.0, 2.0)  # second pass of a two-pass encode
    assert pct == pytest.approx(10.0)
    assert speed is None


KEYS = ["out_time_us", "out_time_ms", "out_time", "speed", "fps", "frame", "total_size",
        "progress"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.builds(
                lambda k, v: f"{k}={v}",
                st.sampled_from(KEYS),
                st.one_of(
                    st.text(max_size=25),
                    st.integers().map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(str),
                    st.sampled_from(["N/A", "end", "continue", "-00:00:01.0", "99:59:59.9"]),
                ),
            ),
        ),
        max_size=60,
    ),
    duration=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_parser_never_raises_and_percent_stays_in_range(
    lines: list[str], duration: float | None
) -> None:
    parser = ProgressParser()
    eta = EtaEstimator(duration if duration is not None else 0.0)
    now = 0.0
    for line in lines:
        sample = parser.feed(line)
        if sample is None:
            continue
        now += 0.5
        assert sample.out_time is None or sample.out_time >= 0
        for pct in (percent(sample.out_time, duration), eta.update(sample.out_time, now)[0]):
            assert pct is None or 0.0 <= pct <= 100.0
        _, remaining, speed = eta.update(sample.out_time, now)
        assert remaining is None or remaining >= 0
        assert speed is None or speed > 0
