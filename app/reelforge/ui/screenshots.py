"""`python -m reelforge.ui.screenshots OUTDIR [--quick]`: PNGs of the window's main states.

Everything happens in a temporary data folder (REELFORGE_HOME) with generated media, so the
person's own history, presets and settings are never touched. A real batch runs (presets web and
thumbnails, a few small testsrc clips plus one junk file that fails), and the queue is grabbed
while an encode is running with its progress, speed and ETA shown, after some jobs finished with
their poster thumbnails. Then the History tab, the Presets tab (a built-in, then a preset of your
own with an invalid field), the Settings dialog, the queue and history in the dark theme and,
where a system tray exists, the tray menu.

Every wait is a condition polled by a QTimer with a deadline, never a fixed sleep. Runs with the
offscreen platform when there is no display (set here when DISPLAY and WAYLAND_DISPLAY are both
unset), and under a real X server. Writes OUTDIR/screenshots.json with the files and the state
each busy shot shows, prints the files written and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 1280, 800
POLL_MS = 40
log = logging.getLogger("reelforge.screenshots")

# (file name, lavfi video source, tone): different pictures, so the posters differ.
CLIPS = (
    ("harbour-sunrise.mp4", "testsrc2", 440),
    ("studio-interview.mp4", "gradients=speed=0.015", 523),
    ("colour-bars.mp4", "smptehdbars", 659),
    ("rooftop-timelapse.mp4", "cellauto=rule=110", 330),
)
JUNK = "upload-corrupted.mp4"


@dataclass
class BusyState:
    """What the queue showed when it was grabbed (the test checks it was really busy)."""

    running: int = 0
    queued: int = 0
    done: int = 0
    failed: int = 0
    posters: int = 0
    encodes_done: int = 0
    running_job: str = ""  # "encode 43% 1.21x ETA 0:05"
    percent: float | None = None
    speed: float | None = None
    eta: float | None = None

    @property
    def has_progress(self) -> bool:
        """A bar part-way, a speed and an ETA to go: an encode in the middle of its work."""
        return (
            self.running > 0
            and self.percent is not None
            and 0 < self.percent < 100
            and bool(self.speed)
            and self.eta is not None
            and self.eta >= 1
        )

    def score(self) -> int:
        """How much of the ideal busy picture this state shows (5 is all of it)."""
        if not self.running:
            return 0
        return (
            1
            + int(self.has_progress)
            + int(self.failed > 0)
            + int(self.posters >= 2)
            + int(self.encodes_done > 0)
        )


@dataclass
class Report:
    files: list[str] = field(default_factory=list)
    busy: BusyState | None = None
    skipped: list[str] = field(default_factory=list)
    platform: str = ""
    seconds: float = 0.0


# -- media ---------------------------------------------------------------------------------------


def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        from reelforge.media.binaries import find_ffmpeg

        return find_ffmpeg(None).path


def make_media(folder: Path, *, seconds: float, count: int) -> list[Path]:
    """`count` 1280x720 clips of `seconds` (H.264 ultrafast + AAC tone) and one junk file."""
    ffmpeg = _ffmpeg_exe()
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name, source, tone in CLIPS[:count]:
        path = folder / name
        sep = ":" if "=" in source else "="
        video = f"{source}{sep}s=1280x720:r=25,trim=duration={seconds}"
        audio = f"sine=frequency={tone}:sample_rate=48000:duration={seconds}"
        argv = [
            ffmpeg, "-hide_banner", "-v", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest",
            str(path),
        ]  # fmt: skip
        subprocess.run(
            argv,
            check=True,
            timeout=120,
            capture_output=True,
        )
        made.append(path)
    junk = folder / JUNK
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(48_000))  # an MP4 head, then noise
    return [junk, *made]  # the failure first: at the top of the queue, in every shot


# -- waiting -------------------------------------------------------------------------------------


def wait_until(cond: Callable[[], bool], timeout: float, interval_ms: int = POLL_MS) -> bool:
    """Run the event loop until cond() is true (checked by a QTimer) or the deadline passes."""
    from PySide6.QtCore import QEventLoop, QTimer

    if cond():
        return True
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    outcome = {"ok": False}

    def check() -> None:
        if cond():
            outcome["ok"] = True
            loop.quit()
        elif time.monotonic() >= deadline:
            loop.quit()

    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    return outcome["ok"]


def flush_layouts() -> None:
    """Deliver pending look-and-layout events only (a theme switch posts its palette change):
    no queued signal from a worker, no timer, no input, so no job moves on meanwhile."""
    from PySide6.QtCore import QCoreApplication, QEvent

    kinds = (
        QEvent.Type.ThemeChange,
        QEvent.Type.ApplicationPaletteChange,
        QEvent.Type.PaletteChange,
        QEvent.Type.StyleChange,
        QEvent.Type.ApplicationFontChange,
        QEvent.Type.FontChange,
        QEvent.Type.DynamicPropertyChange,
        QEvent.Type.PolishRequest,
        QEvent.Type.LayoutRequest,
    )
    for _ in range(3):  # what these handlers post in turn
        for kind in kinds:
            QCoreApplication.sendPostedEvents(None, kind)


def settle() -> None:
    """Deliver what is pending now: layouts, deferred deletes, repaints, the model flush."""
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop
    from PySide6.QtWidgets import QApplication

    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


# -- the session ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _environment(home: Path) -> Iterator[None]:
    """REELFORGE_HOME (and the platform, without a display) for the run; restored afterwards."""
    saved = {k: os.environ.get(k) for k in ("REELFORGE_HOME", "QT_QPA_PLATFORM")}
    os.environ["REELFORGE_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    if (
        QApplication.instance() is None
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Session:
    """One DesktopApp on a temporary data folder, and the grabs of its states."""

    def __init__(self, outdir: Path, work: Path, *, quick: bool) -> None:
        from PySide6.QtWidgets import QApplication

        from reelforge.__about__ import __version__

        self._names = (QApplication.applicationName(), QApplication.applicationVersion())
        QApplication.setApplicationName("Reelforge")
        QApplication.setApplicationVersion(__version__)
        self.qt = QApplication.instance() or QApplication(sys.argv[:1])
        assert isinstance(self.qt, QApplication)
        self.outdir, self.work, self.quick = outdir, work, quick
        self.report = Report(platform=self.qt.platformName())
        self.app: Any = None

    # -- set-up and tear-down --------------------------------------------------------------------
    def start(self) -> None:
        from reelforge.bootstrap import build
        from reelforge.config import Paths, Settings, save_settings
        from reelforge.ui.app import DesktopApp
        from reelforge.ui.icons import app_icon

        paths = Paths.from_env().ensure()
        out = self.work / "Videos" / "Reelforge"
        settings = Settings(output_dir=str(out), presets=("web", "thumbnails"), theme="light")
        save_settings(paths.settings, settings)
        self.qt.setWindowIcon(app_icon())
        self.core = build()
        self.app = DesktopApp(self.qt, self.core)
        self.window = self.app.window
        self.window.resize(WIDTH, HEIGHT)
        self.app.start([])
        self.window.resize(WIDTH, HEIGHT)  # again: a window manager may have placed it
        wait_until(lambda: self.window.isVisible() and self.window.width() == WIDTH, 5)
        settle()

    def close(self) -> None:
        from reelforge.ui.theme import apply_theme

        app = self.app
        if app is None:
            return
        app._tray_timer.stop()
        app.tray.hide()
        self.core.close(interrupt=True)
        logging.getLogger("reelforge").removeHandler(app.window.logs.handler)
        app.window.hide()
        app.window.deleteLater()
        app.tray.deleteLater()
        apply_theme(self.qt, "system")  # the platform's look again for whoever runs next
        settle()
        self.qt.setApplicationName(self._names[0])
        self.qt.setApplicationVersion(self._names[1])
        self.app = None

    # -- grabbing --------------------------------------------------------------------------------
    def save(self, name: str, widget: Any, *, frozen: bool = False) -> Path:
        """Grab `widget` into OUTDIR/name. Frozen: without delivering anything but layouts and
        polish, so the picture shows exactly the state just looked at (no job moves on)."""
        self.window.update_status()  # the status line is refreshed by a timer otherwise
        if frozen:
            flush_layouts()
        else:
            settle()
        path = self.outdir / name
        pixmap = widget.grab()
        if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
            raise RuntimeError(f"could not grab or write {name}")
        if str(path) not in self.report.files:
            self.report.files.append(str(path))
        return path

    def set_theme(self, theme: str, *, frozen: bool = False) -> None:
        """Through the app, as the Settings dialog's OK does."""
        self.app.apply_settings(replace(self.core.settings, theme=theme))
        if frozen:
            flush_layouts()
        else:
            settle()

    # -- states ----------------------------------------------------------------------------------
    def empty(self) -> None:
        self.window.tabs.setCurrentWidget(self.window.queue_view)
        self.save("01-empty.png", self.window)

    def busy(self, sources: list[Path]) -> None:
        """Queue the batch, grab the queue at its busiest, light and dark from the same moment."""
        model = self.window.model
        batch: dict[str, int] = {}
        self.window.enqueued.connect(lambda batch_id: batch.setdefault("id", batch_id))
        self.window.enqueue_paths([str(p) for p in sources])
        if not wait_until(lambda: "id" in batch, 30):
            raise RuntimeError("the batch was never queued")
        best: BusyState | None = None
        deadline = 60 if self.quick else 180

        def look() -> bool:
            nonlocal best
            state = self.busy_state()
            if state.score() > (best.score() if best else 0):
                best = state
                self._select_running()
                self.save("02-busy-queue.png", self.window, frozen=True)
                self.set_theme("dark", frozen=True)
                self.save("07-dark-queue.png", self.window, frozen=True)
                self.set_theme("light", frozen=True)
            counts = model.counts()
            finished = not (counts["running"] or counts["queued"])
            return finished or (best is not None and best.score() == 5)

        wait_until(look, deadline)
        if best is None:
            raise RuntimeError("no job was ever seen running: nothing busy to grab")
        self.report.busy = best
        if not wait_until(self._batch_done, 60 if self.quick else 300):
            raise RuntimeError("the batch did not finish in time")

    def _batch_done(self) -> bool:
        c = self.window.model.counts()
        return c["total"] > 0 and not (c["running"] or c["queued"])

    def busy_state(self) -> BusyState:
        from PySide6.QtCore import Qt

        from reelforge.ui.queue_model import COL_NAME, human_eta

        model = self.window.model
        c = model.counts()
        state = BusyState(c["running"], c["queued"], c["done"], c["failed"])
        for row in range(model.rowCount()):
            if model.index(row, COL_NAME).data(Qt.ItemDataRole.DecorationRole) is not None:
                state.posters += 1
        state.encodes_done = sum(
            1
            for job_id in model.job_ids_with_status("succeeded")
            if (job := model.job(job_id)) and job.kind == "encode"
        )
        running = [model.job(j) for j in model.job_ids_with_status("running")]
        running = [j for j in running if j is not None]
        running.sort(key=lambda j: (j.kind != "encode", j.percent is None))
        if running:
            job = running[0]
            state.percent, state.speed, state.eta = job.percent, job.speed, job.eta
            state.running_job = " ".join(
                part
                for part in (
                    job.kind,
                    f"{job.percent:.0f}%" if job.percent is not None else "",
                    f"{job.speed:.2f}x" if job.speed else "",
                    f"ETA {human_eta(job.eta)}" if job.eta is not None else "",
                )
                if part
            )
        return state

    def _select_running(self) -> None:
        """Select the running encode, so the log panel below follows its ffmpeg."""
        model, view = self.window.model, self.window.queue_view
        running = model.job_ids_with_status("running")
        running.sort(key=lambda j: getattr(model.job(j), "kind", "") != "encode")
        for job_id in running[:1]:
            for row in range(model.rowCount()):
                parent = model.index(row, 0)
                ids = model.job_ids_under(parent)
                if job_id in ids:
                    proxy = view.proxy.mapFromSource(model.index(ids.index(job_id), 0, parent))
                    view.tree.setCurrentIndex(proxy)
                    view.tree.scrollTo(proxy)
                    return

    def history(self) -> None:
        self.window.tabs.setCurrentWidget(self.app.history)
        history = self.app.history
        wait_until(lambda: history.model.rowCount() > 0, 10)
        self.save("03-history.png", self.window)
        self.set_theme("dark")
        self.save("08-dark-history.png", self.window)
        self.set_theme("light")

    def presets(self) -> None:
        from reelforge.domain.presets import parse_preset

        tab = self.app.presets_tab
        self.window.tabs.setCurrentWidget(tab)
        if not tab.select_preset("web"):
            raise RuntimeError("the built-in preset 'web' is not listed")
        self.save("04-presets-editor.png", self.window)

        web = self.core.presets.get("web").to_toml_dict()
        mine = {
            **web,
            "name": "web-small",
            "description": "720p and 480p for the intranet, with a contact sheet",
            "renditions": web["renditions"][1:],
            "contact_sheet": {"columns": 4, "rows": 3, "tile_width": 320, "timestamps": True},
        }
        self.core.presets.save(parse_preset(mine, source="screenshots"))
        tab.refresh(select="web-small")
        tab.presets_changed.emit()  # as after New or Save: the toolbar's preset menu follows
        if tab.selected_name() != "web-small":
            raise RuntimeError("the new preset could not be selected")
        tab.renditions.rows[0].audio_bitrate.setCurrentText("128 kbps")  # typed, not picked
        if not wait_until(lambda: bool(tab.error_text()), 5):
            raise RuntimeError("the invalid bitrate showed no error")
        self.save("05-presets-editor-error.png", self.window)
        tab.revert()

    def settings(self) -> None:
        from reelforge.ui.settings_dialog import SettingsDialog

        self.window.tabs.setCurrentWidget(self.window.queue_view)
        # Built like DesktopApp.open_settings, but shown without exec() so it can be grabbed.
        dialog = SettingsDialog(self.core.settings, self.core.paths.settings, self.window)
        dialog.show()
        wait_until(lambda: dialog.isVisible() and dialog.detected is not None, 15)
        self.save("06-settings.png", dialog)
        dialog.reject()
        dialog.deleteLater()

    def tray_menu(self) -> None:
        from PySide6.QtCore import QPoint

        tray = self.app.tray
        if not tray.available():
            self.report.skipped.append("09-tray-menu.png (no system tray)")
            return
        self.app._update_tray()
        tray.menu.popup(QPoint(40, 40))
        if wait_until(tray.menu.isVisible, 5):
            self.save("09-tray-menu.png", tray.menu)
        tray.menu.hide()


def take(outdir: Path, *, quick: bool = False) -> Report:
    """Every screenshot into `outdir`; the report says what was written and what was shown."""
    started = time.monotonic()
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reelforge-shots-") as tmp:
        work = Path(tmp)
        with _environment(work / "home"):
            sources = make_media(
                work / "footage", seconds=2.0 if quick else 8.0, count=3 if quick else 4
            )
            session = Session(outdir, work, quick=quick)
            try:
                session.start()
                session.empty()
                session.busy(sources)
                session.history()
                session.presets()
                session.settings()
                session.tray_menu()
            finally:
                session.close()
    report = session.report
    report.files = sorted(dict.fromkeys(report.files))
    report.seconds = round(time.monotonic() - started, 1)
    manifest = {
        **asdict(report),
        "files": [Path(f).name for f in report.files],  # relative: the folder may be committed
        "busy": asdict(report.busy) if report.busy else None,
    }
    (outdir / "screenshots.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reelforge.ui.screenshots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("outdir", type=Path, help="folder for the PNGs (created if needed)")
    parser.add_argument("--quick", action="store_true", help="1-2 s clips: a fast smoke run")
    args = parser.parse_args([str(a) for a in (sys.argv[1:] if argv is None else argv)])
    report = take(args.outdir, quick=args.quick)
    for path in report.files:
        print(path)
    busy = report.busy
    if busy is not None:
        print(
            f"busy queue: {busy.running} running ({busy.running_job or 'starting'}), "
            f"{busy.queued} queued, {busy.done} done, {busy.failed} failed, "
            f"{busy.posters} poster(s); score {busy.score()}/5",
            file=sys.stderr,
        )
    for skipped in report.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
