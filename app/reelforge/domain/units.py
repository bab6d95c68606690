"""Sizes for people: one formatter for the queue, the history and messages."""

from __future__ import annotations


def human_size(n: float) -> str:
    """1536 -> "1.5 KB"; "" for zero or less (nothing written yet)."""
    if n <= 0:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
