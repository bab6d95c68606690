"""Shared fixtures. Qt runs offscreen and every test gets its own REELFORGE_HOME."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

# Before any QApplication exists (pytest-qt creates one lazily).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

import pytest

from mediagen import make_audio, make_clip, make_image


@pytest.fixture(autouse=True)
def reelforge_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets a private data folder: database, logs, presets, settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("REELFORGE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def main_thread_gc() -> Iterator[None]:
    """Cyclic garbage is collected on the main thread only, as in the app (see
    reelforge/main_thread_gc.py); between tests, when no event loop may be running, too."""
    from PySide6.QtCore import QCoreApplication

    from reelforge.main_thread_gc import install

    if QCoreApplication.instance() is not None:
        install()
    yield
    if QCoreApplication.instance() is not None:
        install().check()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def landscape_clip(media_dir: Path) -> Path:
    """1280x720, 2 s, H.264 + AAC."""
    return make_clip(media_dir / "landscape.mp4", size="1280x720")


@pytest.fixture(scope="session")
def portrait_clip(media_dir: Path) -> Path:
    """Stored 1280x720 with a 90 degree display matrix, so it shows as 720x1280 portrait."""
    return make_clip(media_dir / "portrait.mp4", size="1280x720", rotation=90)


@pytest.fixture(scope="session")
def silent_clip(media_dir: Path) -> Path:
    """640x360, no audio track."""
    return make_clip(media_dir / "silent.mp4", audio=False)


@pytest.fixture(scope="session")
def tiny_clip(media_dir: Path) -> Path:
    """An odd-sized 318x178 clip smaller than 480p."""
    return make_clip(media_dir / "tiny.mp4", size="318x178", seconds=1.0)


@pytest.fixture(scope="session")
def audio_file(media_dir: Path) -> Path:
    return make_audio(media_dir / "tone.m4a")


@pytest.fixture(scope="session")
def still_image(media_dir: Path) -> Path:
    return make_image(media_dir / "still.png")
