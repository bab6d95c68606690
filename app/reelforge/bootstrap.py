"""The one composition root: settings, storage, bus, executor and services, wired once.

Nothing runs at import time. The GUI and the CLI both call build(); they differ only in what
they subscribe to the bus afterwards. The executor is chosen here and nowhere else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import Engine

from reelforge.assets import resource
from reelforge.bus import Bus
from reelforge.cluster.broker import resolve_broker
from reelforge.config import Paths, Settings, load_settings
from reelforge.domain.jobs import JobStatus
from reelforge.domain.naming import is_temp_name
from reelforge.executors.base import Executor
from reelforge.executors.local import LocalExecutor
from reelforge.main_thread_gc import install as install_main_thread_gc
from reelforge.observability.alert_rules import ALERTS_FILE, load_rules
from reelforge.observability.alerts import AlertEngine
from reelforge.observability.eventlog import EventLog
from reelforge.observability.jsonlog import install_json_log
from reelforge.runner import RunContext
from reelforge.services.alerting import AlertService, DiskGate
from reelforge.services.diskguard import DiskGuard
from reelforge.services.presets import PresetCatalog
from reelforge.services.queue import QueueService
from reelforge.services.recorder import HistoryRecorder
from reelforge.services.scheduler import SchedulerService
from reelforge.storage.engine import open_database, recovery_of
from reelforge.storage.monitoring import MonitoringStore
from reelforge.storage.repository import Repository
from reelforge.watch.folders import WatchService

log = logging.getLogger("reelforge")


@dataclass
class App:
    paths: Paths
    settings: Settings
    engine: Engine
    repo: Repository
    bus: Bus
    ctx: RunContext
    executor: Executor
    presets: PresetCatalog
    queue: QueueService
    notices: list[str]  # one-line things the person should be told at start-up
    lock: DataFolderLock
    event_log: EventLog | None = field(default=None)
    store: MonitoringStore | None = field(default=None)
    alerts: AlertService | None = field(default=None)
    scheduler: SchedulerService | None = field(default=None)
    watch: WatchService | None = field(default=None)
    _background: bool = field(default=False)

    def start_background(self) -> None:
        """Long-running modes (the window, `reelforge watch`): alert actions, heavy-lane hours,
        housekeeping. A one-off `reelforge process` leaves them off and never pauses itself."""
        if self._background:
            return
        self._background = True
        if self.alerts is not None:
            self.alerts.start()
        if self.scheduler is not None and self.owns_data:
            self.scheduler.start()
        if self.watch is not None and self.owns_data:
            self.watch.start()

    @property
    def owns_data(self) -> bool:
        """False when another live Reelforge holds this data folder (see DataFolderLock)."""
        return self.lock.owned

    def close(self, *, interrupt: bool = True) -> None:
        for service in (self.watch, self.alerts, self.scheduler):
            if service is not None:
                service.stop()
        self.executor.shutdown(interrupt=interrupt)
        if self.event_log is not None:
            self.event_log.close()  # after the shutdown's last events
        self.engine.dispose()
        self.lock.release()


def build(
    *,
    heavy: int | None = None,
    light: int | None = None,
    collision: str | None = None,
    broker: str | None = None,
) -> App:
    """Wire the app. Needs a Q(Core)Application to exist (the bus rides on Qt signals).

    Raises FFmpegNotFound / DatabaseLocked with one-line messages for the caller to show.
    """
    paths = Paths.from_env().ensure()
    settings = load_settings(paths.settings)
    overrides = {
        k: v
        for k, v in (
            ("heavy_concurrency", heavy),
            ("light_concurrency", light),
            ("collision", collision),
        )
        if v is not None
    }
    settings = replace(settings, **overrides).validated()
    notices: list[str] = []

    engine = open_database(paths.database)
    if (rec := recovery_of(engine)) is not None:
        notices.append(rec.message)
    repo = Repository(engine)

    install_main_thread_gc()  # QObjects must never be finalized on a pool thread
    bus = Bus()
    HistoryRecorder(bus, repo)  # first subscriber: the history is written before anyone acts
    install_json_log(paths.logs)
    event_log = EventLog(bus)
    ctx = RunContext.create(
        log_dir=paths.job_logs,
        font=resource("fonts", "DejaVuSans.ttf"),
        ffmpeg_setting=settings.ffmpeg_path or None,
        stall_timeout=settings.stall_timeout,
    )
    store = MonitoringStore(engine)
    rules, problem = load_rules(paths.home / ALERTS_FILE)
    if problem:
        notices.append(f"alert rules: {problem}")
    disk_gate = DiskGate(DiskGuard(margin_bytes=rules.low_disk.margin_bytes))
    executor: Executor
    broker_url = resolve_broker(broker, settings.broker_url)
    if broker_url:  # "run jobs on: cluster at URL"; Celery is imported only then
        from reelforge.executors.cluster import CeleryExecutor

        executor = CeleryExecutor(
            bus,
            broker=broker_url,
            log_dir=paths.job_logs,
            visibility_timeout=settings.visibility_timeout,
            new_attempt=_new_attempt_recorder(repo),
        )
    else:
        executor = LocalExecutor(
            bus,
            ctx,
            light=settings.light_concurrency,
            heavy=settings.heavy_concurrency,
            gate=disk_gate.check,
        )
    presets = PresetCatalog(resource("presets"), paths.presets)
    notices.extend(f"preset ignored: {e}" for e in presets.errors)
    queue = QueueService(
        bus,
        repo,
        executor,
        presets,
        collision=settings.collision,
        ffmpeg_version=ctx.ffmpeg_version,
        split_after=settings.split_after,
        segment_seconds=settings.segment_seconds,
    )
    lock = DataFolderLock(paths.home)
    if lock.acquire():
        _recover(repo, notices)
    else:
        notices.append("another Reelforge is working on this data folder: its jobs are left alone")
    app = App(
        paths,
        settings,
        engine,
        repo,
        bus,
        ctx,
        executor,
        presets,
        queue,
        notices,
        lock,
        event_log=event_log,
        store=store,
    )
    # Services that read the settings read the App's, which the window may change at run time.
    app.alerts = AlertService(
        bus,
        AlertEngine(rules, time.time),
        executor,
        store,
        disk_gate,
        folders=lambda: app.settings.output_folders(),
    )
    app.scheduler = SchedulerService(bus, executor, lambda: app.settings, store, paths)
    app.watch = WatchService(
        bus,
        queue,
        store,
        folders=lambda: app.settings.watch,
        default_out=lambda: app.settings.effective_output_dir,
    )
    return app


def _new_attempt_recorder(repo: Repository) -> Callable[[str, str], None]:
    """A job whose worker was lost runs again: the history shows the cut-off attempt and why."""

    def record(job_id: str, reason: str) -> None:
        repo.transition(job_id, JobStatus.INTERRUPTED, reason=reason)
        repo.transition(job_id, JobStatus.QUEUED, reason="sent again to the cluster")

    return record


def _recover(repo: Repository, notices: list[str]) -> None:
    """Start-up recovery, only by the process that owns the data folder.

    Temp files first, for every job not finished (a crash during an earlier recovery must not
    leave them behind), then running jobs become interrupted, to be resumed.
    """
    unfinished = repo.jobs_with_status(JobStatus.RUNNING, JobStatus.INTERRUPTED, JobStatus.QUEUED)
    swept = sweep_temp_files({Path(o.path).parent for j in unfinished for o in j.spec.outputs})
    interrupted = repo.interrupt_running()
    if interrupted or swept:
        notices.append(
            f"{len(interrupted)} job(s) were interrupted last time"
            + (f"; {swept} temp file(s) removed" if swept else "")
        )


class DataFolderLock:
    """An advisory lock on the data folder, held for the life of the process.

    Whoever holds it may recover, sweep and resume; a second process on the same folder (a CLI
    next to the window, say) must not mark the first one's live jobs interrupted or delete the
    temp files it is writing. The OS drops the lock when the process dies, even by SIGKILL.
    """

    def __init__(self, home: Path) -> None:
        self._path = home / "instance.lock"
        self._fh: object | None = None
        self.owned = False

    def acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # Windows: one process per data folder is assumed
            self.owned = True
            return True
        fh = open(self._path, "a+")  # noqa: SIM115 - held open for the process lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh, self.owned = fh, True
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # type: ignore[attr-defined]
            self._fh, self.owned = None, False


def sweep_temp_files(folders: set[Path]) -> int:
    """Remove our temp files (never anything else) left in output folders by a crash."""
    removed = 0
    for folder in folders:
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if is_temp_name(entry.name) and entry.is_file():
                try:
                    entry.unlink()
                    removed += 1
                except OSError as err:
                    log.warning("could not remove temp file %s: %s", entry, err)
    return removed
