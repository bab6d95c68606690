"""Reelforge: batch media processing for the desktop. Nothing runs at import time."""

from reelforge.__about__ import __version__

__all__ = ["__version__"]
