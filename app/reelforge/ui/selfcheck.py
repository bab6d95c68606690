"""`reelforge --self-check`: proves an installation works, end to end, in a few seconds.

It checks the resources, the migrations, ffmpeg (a real encode, verified with PyAV) and the
window (shown, rendered, then closed), all inside a temporary data folder so the person's own
history is never touched. Exit code 0 only when every check passed; one line per check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CHECKS: list[tuple[str, Callable[[Path], str]]] = []


def check(name: str) -> Callable[[Callable[[Path], str]], Callable[[Path], str]]:
    def register(fn: Callable[[Path], str]) -> Callable[[Path], str]:
        CHECKS.append((name, fn))
        return fn

    return register


@check("resources")
def _resources(_: Path) -> str:
    from reelforge.assets import resource
    from reelforge.domain.presets import load_builtin_presets

    presets = load_builtin_presets(resource("presets"))
    for part in (("icons", "reelforge.svg"), ("fonts", "DejaVuSans.ttf")):
        if not resource(*part).is_file():
            raise RuntimeError(f"missing resource {'/'.join(part)}")
    return f"{len(presets)} built-in presets, icon and font found in {resource()}"


@check("database and migrations")
def _database(home: Path) -> str:
    from reelforge.storage.engine import head_revision, open_database, schema_version

    engine = open_database(home / "selfcheck.sqlite3")
    try:
        version, head = schema_version(engine), head_revision()
    finally:
        engine.dispose()
    if version != head:
        raise RuntimeError(f"schema at {version}, expected {head}")
    return f"migrated to {head}"


@check("ffmpeg")
def _ffmpeg(home: Path) -> str:
    from reelforge.media.binaries import find_ffmpeg
    from reelforge.media.probe import probe

    ff = find_ffmpeg(None)
    out = home / "selfcheck.mp4"
    subprocess.run(
        [
            ff.path,
            "-hide_banner",
            "-v",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:d=0.5",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-preset",
            "ultrafast",
            str(out),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    info = probe(out)
    if info.main_video is None or info.main_video.codec != "h264":
        raise RuntimeError("the test encode did not produce H.264 video")
    return f"{ff.version} ({ff.source}), test encode verified"


@check("window")
def _window(home: Path) -> str:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from reelforge.bootstrap import build
    from reelforge.ui.app import DesktopApp

    qt = QApplication.instance() or QApplication(["reelforge"])
    core = build()
    app = DesktopApp(qt, core)
    app.start([])
    seen: dict[str, object] = {}
    # An exception inside a Qt event handler never reaches this code: Qt hands it to
    # sys.excepthook and goes on. Collected here, it fails the check (a tab whose lazy import
    # is missing from a frozen bundle would otherwise pass unseen).
    errors: list[str] = []
    previous_hook = sys.excepthook

    def record(kind: type[BaseException], value: BaseException, tb: object) -> None:
        errors.append(
            f"{kind.__name__}: {str(value).strip().splitlines()[0] if str(value).strip() else ''}"
        )
        previous_hook(kind, value, tb)  # type: ignore[arg-type]

    def look() -> None:
        seen["visible"] = app.window.isVisible()
        seen["title"] = app.window.windowTitle()
        tabs = app.window.tabs
        for i in range(tabs.count()):  # every tab once: the ones built on first show build now
            tabs.setCurrentIndex(i)
            qt.processEvents()
            if tabs.widget(i).grab().isNull():
                errors.append(f"the {tabs.tabText(i)} tab did not render")
        tabs.setCurrentIndex(0)
        seen["tabs"] = [tabs.tabText(i) for i in range(tabs.count())]
        seen["pixels"] = not app.window.grab().isNull()
        app.quit()

    QTimer.singleShot(1500, look)
    QTimer.singleShot(30000, lambda: qt.exit(1))  # never hang a self-check
    sys.excepthook = record
    try:
        qt.exec()
    finally:
        sys.excepthook = previous_hook
    if errors:
        raise RuntimeError(f"error while showing the window: {errors[0]}")
    if not (seen.get("visible") and seen.get("pixels")):
        raise RuntimeError(f"window did not show (platform {qt.platformName()})")
    if not str(seen.get("title", "")).startswith("Reelforge"):
        raise RuntimeError(f"unexpected window title {seen.get('title')!r}")
    tabs = ", ".join(map(str, seen.get("tabs") or []))
    return (
        f"shown and rendered on the '{qt.platformName()}' platform (tabs: {tabs}), "
        f"tray: {app.tray.available()}"
    )


def run_self_check() -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="reelforge-selfcheck-") as tmp:
        home = Path(tmp)
        os.environ["REELFORGE_HOME"] = str(home / "home")  # never the person's own history
        for name, fn in CHECKS:
            started = time.monotonic()
            try:
                detail = fn(home)
                print(f"ok    {name}: {detail} ({time.monotonic() - started:.1f} s)")
            except Exception as err:
                failed += 1
                reason = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
                print(f"FAIL  {name}: {reason}")
    print("self-check passed" if not failed else f"self-check failed: {failed} check(s)")
    sys.stdout.flush()
    return 0 if not failed else 1
