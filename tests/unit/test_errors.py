"""reason_from_stderr: ffmpeg's stderr tail (recorded from ffmpeg 9) to one human line."""

from __future__ import annotations

import pytest

from reelforge.media.errors import MAX_REASON, is_disk_full, reason_from_stderr

DISK_FULL = [
    "[vf#0:0 @ 0x559806040380] Task finished with error code: -28 (No space left on device)",
    "[vf#0:0 @ 0x559806040380] Terminating thread with return code -28 (No space left on device)",
    "[out#0/mp4 @ 0x55980603cf80] Nothing was written into output file, because at least one"
    " of its streams received no packets.",
    "Conversion failed!",
]
UNKNOWN_ENCODER = [
    "[vost#0:0 @ 0x55881cfbbcc0] Unknown encoder 'libnope'",
    "[vost#0:0 @ 0x55881cfbbcc0] Error selecting an encoder",
    "Error opening output file out/o.mp4.",
    "Error opening output files: Encoder not found",
]
MISSING_INPUT = [
    "[in#0 @ 0x555e2950bcc0] Error opening input: No such file or directory",
    "Error opening input file in/nope.mp4.",
    "Error opening input files: No such file or directory",
]
NO_MOOV = [
    "[in#0 @ 0x555d37bb6000] moov atom not found",
    "[in#0 @ 0x555d37bb5cc0] Error opening input: Invalid data found when processing input",
    "Error opening input file in/trunc.mp4.",
    "Error opening input files: Invalid data found when processing input",
]
READ_ONLY_OUTPUT = [
    "[out#0/mp4 @ 0x5615b9925ec0] Error opening output /ro/o.mp4: Permission denied",
    "Error opening output file /ro/o.mp4.",
    "Error opening output files: Permission denied",
]
DECODE_ERRORS = [
    "[h264 @ 0x5607] error while decoding MB 12 30, bytestream -7",
    "[h264 @ 0x5607] concealing 1200 DC, 1200 AC, 1200 MV errors in P frame",
    "[vist#0:0/h264 @ 0x5608] corrupt decoded frame",
]


@pytest.mark.parametrize(
    ("lines", "returncode", "expected"),
    [
        (DISK_FULL, 228, "disk full"),
        (UNKNOWN_ENCODER, 8, "encoder not available in this ffmpeg build: libnope"),
        (["Error opening output files: Encoder not found"], 8,
         "encoder not available in this ffmpeg build"),
        (MISSING_INPUT, 254, "file not found"),
        (NO_MOOV, 183, "file is damaged"),
        (READ_ONLY_OUTPUT, 243, "permission denied"),
        (DECODE_ERRORS, 69, "file is damaged"),
        (["Invalid data found when processing input"], 183, "file is damaged"),
        (["av_interleaved_write_frame(): Disk quota exceeded"], 1, "disk full"),
    ],
)  # fmt: skip
def test_known_failures(lines: list[str], returncode: int, expected: str) -> None:
    assert reason_from_stderr(lines, returncode) == expected


def test_disk_full_beats_decode_warnings_printed_all_along() -> None:
    assert reason_from_stderr(DECODE_ERRORS * 5 + DISK_FULL, 228) == "disk full"


def test_killed_by_signal() -> None:
    assert reason_from_stderr(DECODE_ERRORS, -9) == "ffmpeg was killed (signal 9)"
    assert reason_from_stderr([], -15) == "ffmpeg was killed (signal 15)"


def test_last_meaningful_line_without_noise_and_addresses() -> None:
    lines = [
        "Stream mapping:",
        "[vost#0:0/libx264 @ 0x55c3173f5600] Error while opening encoder - maybe incorrect"
        " parameters such as bit_rate, rate, width or height.",
        "Conversion failed!",
        "",
    ]
    assert reason_from_stderr(lines, 1) == (
        "[vost#0:0/libx264] Error while opening encoder - maybe incorrect parameters such as"
        " bit_rate, rate, width or height."
    )


def test_long_last_line_is_trimmed() -> None:
    reason = reason_from_stderr(["x" * 500], 1)
    assert len(reason) <= MAX_REASON
    assert reason.endswith("…")


def test_nothing_useful_gives_the_exit_code() -> None:
    assert reason_from_stderr([], 1) == "ffmpeg failed (exit code 1)"
    assert reason_from_stderr(["", "Conversion failed!", "   "], 187) == (
        "ffmpeg failed (exit code 187)"
    )
    assert reason_from_stderr([], None) == "ffmpeg failed"


def test_reason_is_always_one_line() -> None:
    assert reason_from_stderr(["first\nsecond\r\n"], 1) == "second"  # a torn read
    for lines in (DISK_FULL, UNKNOWN_ENCODER, MISSING_INPUT, NO_MOOV, ["a", "b  "]):
        assert "\n" not in reason_from_stderr(lines, 1)


def test_is_disk_full() -> None:
    assert is_disk_full(DISK_FULL)
    assert not is_disk_full(MISSING_INPUT + NO_MOOV + DECODE_ERRORS)
    assert not is_disk_full([])
