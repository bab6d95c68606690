"""The Dashboard and Alerts tabs render with data (light and dark), and alerts reach the person
as a banner, an Alerts row and one notification per rule per quiet period."""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from reelforge.bootstrap import build
from reelforge.domain.events import JobFinished, JobsQueued, QueuedJob
from reelforge.domain.jobs import JobKind, JobStatus
from reelforge.domain.spec import JobSpec, OutputTarget
from reelforge.storage.monitoring import _to_db
from reelforge.ui.app import ALERT_NOTICE, DesktopApp
from reelforge.ui.main_window import QuitChoice
from reelforge.ui.theme import apply_theme

SHOTS = os.environ.get("REELFORGE_SHOTS")  # a folder: also save the screenshots there


def fill_history(core, now: float, n: int = 160, seed: int = 7) -> None:
    """A day of work: encodes and thumbnails over 24 h, a few failures, some still queued."""
    rnd = random.Random(seed)
    repo = core.repo
    batch = repo.create_batch(["web"], str(Path(core.settings.effective_output_dir)), "gui")
    info = {
        "path": "/v/a.mp4", "format_name": "mp4", "duration": 120.0, "size": 80_000_000,
        "video": [{"index": 0, "codec": "h264", "width": 1920, "height": 1080, "fps": 25.0}],
    }  # fmt: skip
    source = repo.upsert_source("/v/a.mp4", size=80_000_000, mtime=1.0, fingerprint="f",
                                media_info=info)  # fmt: skip
    times = []
    for i in range(n):
        kind = JobKind.ENCODE if i % 3 else JobKind.THUMBNAILS
        preset = "web" if kind is JobKind.ENCODE else "thumbnails"
        out = OutputTarget("720p", f"/o/{i}.mp4", "video", 1280, 720, True, 120.0)
        spec = JobSpec(f"d{i:04d}", kind, preset, "/v/a.mp4", 120.0, (out,))
        repo.add_jobs(batch, source, [spec], app_version="t", ffmpeg_version=None)
        queued = now - 86400 * (1 - i / n) + rnd.uniform(0, 600)
        if i >= n - 6:  # the last few are still waiting
            times.append((spec.id, queued, None, None))
            continue
        repo.transition(spec.id, JobStatus.RUNNING)
        status = JobStatus.FAILED if rnd.random() < 0.08 else JobStatus.SUCCEEDED
        run = rnd.uniform(20, 60) if kind is JobKind.ENCODE else rnd.uniform(1, 4)
        outputs = [{"role": "720p", "path": out.path, "size": rnd.randint(5, 40) * 1_000_000}]
        repo.transition(spec.id, status, seconds=run,
                        outputs=outputs if status is JobStatus.SUCCEEDED else None)  # fmt: skip
        started = queued + rnd.uniform(5, 300)
        times.append((spec.id, queued, started, started + run))
    with core.engine.begin() as conn:
        for job_id, q, s, f in times:
            conn.exec_driver_sql(
                "UPDATE jobs SET queued_at = ?, started_at = ?, finished_at = ? WHERE id = ?",
                (_to_db(q), s and _to_db(s), f and _to_db(f), job_id),
            )


@pytest.fixture
def desktop(qapp: QApplication, qtbot, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(QApplication, "exit", lambda *a: None)
    core = build()
    core.settings = replace(core.settings, output_dir=str(tmp_path / "out"))
    app = DesktopApp(qapp, core)
    app.window.ask_quit = lambda: QuitChoice.STOP
    qtbot.addWidget(app.window)
    yield app
    if not app._quitting:
        app.quit()
    apply_theme(qapp, "system")


def test_dashboard_renders_with_data_in_both_themes(desktop: DesktopApp, qapp, qtbot) -> None:
    fill_history(desktop.core, time.time())
    desktop.window.resize(1280, 860)
    desktop.window.show()
    desktop.window.tabs.setCurrentWidget(desktop.dashboard)
    dash = desktop.dashboard
    qtbot.waitUntil(lambda: dash.stats is not None, timeout=5000)
    s = dash.stats
    assert sum(s.counts.values()) == 154 and s.queue_depth["heavy"] + s.queue_depth["light"] == 6
    assert dash.tiles["throughput"].value.text() != "–"
    assert dash.tiles["fps"].value.text() != "–" and dash.presets.rowCount() == 2
    assert sum(dash.series.succeeded) > 100 and max(dash.series.waiting["heavy"]) >= 4
    assert set(dash._plots) == {"done", "depth", "media"}
    for theme in ("light", "dark"):
        apply_theme(qapp, theme)
        qapp.processEvents()
        image = desktop.window.grab().toImage()
        if SHOTS:
            image.save(str(Path(SHOTS) / f"dashboard-{theme}.png"))
        # The chart background follows the palette: dark theme, dark plots.
        plot = dash._plots["done"]
        bg = plot.backgroundBrush().color().lightness()
        assert (bg < 100) if theme == "dark" else (bg > 200)
    dash.window_combo.setCurrentIndex(2)  # a week
    assert dash.series is not None and len(dash.series.starts) == 84


def test_alerts_reach_the_person_once_per_quiet_period(desktop: DesktopApp, qapp, qtbot) -> None:
    core = desktop.core
    told = []
    desktop.notifier.deliver = told.append
    desktop.start([])
    batch = core.repo.create_batch(["web"], "/o", "gui")
    specs = [JobSpec(f"f{i:02d}", JobKind.PROBE, "web", f"/v/{i}.mp4") for i in range(10)]
    core.repo.add_jobs(batch, None, specs, app_version="t", ffmpeg_version=None)
    core.bus.publish(
        JobsQueued(batch, tuple(QueuedJob(s.id, "probe", "web", "probe", s.source) for s in specs))
    )
    for spec in specs[:5]:
        core.bus.publish(JobFinished(spec.id, "failed", error="not a media file"))
    assert desktop.window.act_pause.isChecked()  # the spike paused the queue
    banner = desktop.window.banner.label.text()
    assert banner.startswith("Failure spike: 5 jobs failed within 10 min")
    assert "queue paused until you resume it" in banner
    assert len(told) == 1 and told[0].batch_id == ALERT_NOTICE and told[0].failed
    desktop.window.tabs.setCurrentWidget(desktop.alerts_tab)
    assert desktop.alerts_tab.table.rowCount() == 1
    assert desktop.alerts_tab.resume_button.isVisible()
    if SHOTS:
        desktop.window.grab().save(str(Path(SHOTS) / "alerts.png"))
    desktop.alerts_tab.resume_button.click()  # the person looked
    assert not desktop.window.act_pause.isChecked()
    assert desktop.window.banner.label.text().startswith("Failure spike over")
    for spec in specs[5:]:  # a second spike inside the quiet period: acts, does not notify
        core.bus.publish(JobFinished(spec.id, "failed", error="not a media file"))
    assert desktop.window.act_pause.isChecked()
    assert len(told) == 1
    assert desktop.alerts_tab.table.rowCount() == 2
    desktop._notice_clicked(ALERT_NOTICE)
    assert desktop.window.tabs.currentWidget() is desktop.alerts_tab
