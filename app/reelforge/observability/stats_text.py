"""`reelforge stats` for a person: the Stats of a window as a few aligned lines."""

from __future__ import annotations

from datetime import datetime

from reelforge.domain.units import human_size
from reelforge.observability.metrics import Stats


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, unit: str, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} {unit}"


def stats_lines(s: Stats) -> list[str]:
    since = datetime.fromtimestamp(s.since).strftime("%Y-%m-%d %H:%M")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(s.counts.items())) or "none"
    lines = [
        f"since {since} ({_secs(s.until - s.since)})",
        f"jobs finished   {counts}",
        f"throughput      {s.jobs_per_hour:.1f} jobs/h · "
        f"{_num(s.media_minutes_per_wall_minute, 'media min per wall min', 2)} · "
        f"encode {_num(s.encode_fps, 'fps', 0)}",
        f"waiting         avg {_secs(s.avg_wait_seconds)} (waiting {_pct(s.waiting_share)} of "
        f"the time) · running avg {_secs(s.avg_run_seconds)}",
        f"failure rate    {_pct(s.failure_rate)}",
        f"bytes           in {human_size(s.bytes_in) or '0 B'} · out "
        f"{human_size(s.bytes_out) or '0 B'}",
        "queue now       "
        + " · ".join(
            f"{lane} {s.queue_depth.get(lane, 0)} waiting, {s.running.get(lane, 0)} running"
            for lane in ("light", "heavy")
        ),
    ]
    for d in s.disks:
        lines.append(
            f"disk free       {d.path}: {human_size(d.free) or '0 B'} of {human_size(d.total)}"
        )
    for p in s.presets:
        extra = f", {p.avg_speed:.2f}x real time" if p.avg_speed is not None else ""
        lines.append(
            f"preset {p.preset:<9}{p.jobs} jobs, {p.failed} failed, avg "
            f"{_secs(p.avg_run_seconds)}, {human_size(p.avg_bytes_out or 0) or '0 B'} out{extra}"
        )
    return lines
