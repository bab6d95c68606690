"""The headless entry: `reelforge process|resume|presets|history|doctor`, and the GUI launcher.

Exit codes: 0 every job succeeded (or was skipped), 1 some job failed, 2 usage error,
130 interrupted by Ctrl-C (running jobs cancelled cleanly, no temp files left).
Errors reach a person as one line; a traceback only ever goes to the log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reelforge.__about__ import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FFMPEG_ANSWERS = "ffmpeg-answers.json"  # in the data folder, see _remember_ffmpeg_answers
STATUSES = ("queued", "running", "interrupted", "succeeded", "failed", "cancelled", "skipped")


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reelforge",
        description="Batch media processing: renditions, thumbnails, audio, previews.",
    )
    p.add_argument("--version", action="version", version=f"Reelforge {__version__}")
    p.add_argument(
        "--self-check",
        action="store_true",
        help="check resources, migrations, ffmpeg and the window, then exit",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    pr = sub.add_parser("process", help="process files and folders headlessly")
    pr.add_argument(
        "paths", nargs="+", metavar="PATH", help="files or folders (walked recursively)"
    )
    pr.add_argument(
        "--preset",
        "-p",
        action="append",
        metavar="NAME",
        help="preset to apply (repeatable; default: the settings' presets)",
    )
    pr.add_argument("--out", "-o", metavar="DIR", help="output folder (default: from settings)")
    pr.add_argument(
        "--jobs", "-j", type=int, metavar="N", help="encodes at once (heavy lane slots)"
    )
    pr.add_argument(
        "--collision",
        choices=("counter", "overwrite", "skip"),
        help="what to do when an output name exists (default: counter)",
    )
    pr.add_argument("--json", action="store_true", help="one JSON object per finished job")
    pr.add_argument(
        "--broker",
        metavar="URL",
        help="run the jobs on the cluster at this Redis URL (default: REELFORGE_BROKER, "
        "then the setting; none: this computer)",
    )

    _metrics_options(pr)

    wa = sub.add_parser(
        "watch", help="enqueue new files from folders once they are stable, until Ctrl-C"
    )
    wa.add_argument(
        "dirs", nargs="*", metavar="DIR", help="folders to watch (default: the settings' ones)"
    )
    wa.add_argument("--preset", "-p", action="append", metavar="NAME", help="repeatable")
    wa.add_argument("--out", "-o", metavar="DIR", help="output folder (default: from settings)")
    wa.add_argument("--json", action="store_true", help="one JSON object per finished job")
    _metrics_options(wa)

    rs = sub.add_parser("resume", help="finish whatever the history holds as queued or interrupted")
    rs.add_argument("--jobs", "-j", type=int, metavar="N")
    rs.add_argument("--json", action="store_true")
    _metrics_options(rs)
    rs.add_argument(
        "--broker",
        metavar="URL",
        help="run the jobs on the cluster at this Redis URL (default: REELFORGE_BROKER, "
        "then the setting; none: this computer)",
    )

    ps = sub.add_parser("presets", help="list presets")
    ps.add_argument("--json", action="store_true")

    hi = sub.add_parser("history", help="show past jobs, newest first")
    hi.add_argument("--json", action="store_true")
    hi.add_argument("--status", choices=STATUSES)
    hi.add_argument("--limit", type=int, default=50, metavar="N")

    sub.add_parser("doctor", help="check ffmpeg, PyAV, the data folder and the database")

    wk = sub.add_parser("worker", help="run jobs for a cluster: a Celery worker on Redis")
    wk.add_argument(
        "--broker", metavar="URL", help="Redis URL (default: REELFORGE_BROKER, then the setting)"
    )
    wk.add_argument("--queues", default="light,heavy", help="light, heavy or both (default)")
    wk.add_argument(
        "--concurrency", "-c", type=int, default=1, metavar="N", help="jobs at once (default 1)"
    )
    wk.add_argument(
        "--path-map",
        action="append",
        default=[],
        metavar="FROM=TO",
        help="the submitter's path prefix FROM is TO on this worker (repeatable)",
    )
    wk.add_argument("--name", help="worker name shown in the history (default: rfPID@host)")
    _metrics_options(wk)

    bt = sub.add_parser(
        "beat",
        help="run the cluster's schedules (heavy-job hours, housekeeping): one per cluster",
    )
    bt.add_argument(
        "--broker", metavar="URL", help="Redis URL (default: REELFORGE_BROKER, then the setting)"
    )
    bt.add_argument(
        "--check-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between heavy-job hours checks (default 30)",
    )

    st = sub.add_parser("stats", help="throughput, waiting, failures, bytes, disk, presets")
    st.add_argument("--json", action="store_true", help="one JSON object")
    st.add_argument("--since", metavar="T", default="1d", help="e.g. 1h, 1d (default), 1w")

    ev = sub.add_parser("events", help="show the structured event log (readable, or --json)")
    ev.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    ev.add_argument("--job", metavar="ID", help="only this job (an id or its first characters)")
    ev.add_argument("--since", metavar="T", help="e.g. 30m, 2h, 1d, 1w or 2026-11-23T08:00")
    ev.add_argument("--json", action="store_true", help="the log's own JSON lines")

    gui = sub.add_parser("gui", help="open the window (the default), with these files queued")
    gui.add_argument("paths", nargs="*", metavar="PATH")
    return p


def _metrics_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port"
    )
    p.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to serve them on (default 127.0.0.1; 0.0.0.0 for a remote Prometheus)",
    )


COMMANDS = (
    "process",
    "resume",
    "watch",
    "presets",
    "history",
    "doctor",
    "events",
    "stats",
    "gui",
    "worker",
    "beat",
)


def _wants_gui(argv: list[str]) -> bool:
    """`reelforge` and `reelforge FILE...` open the window; options and commands do not."""
    return not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-"))


def main(argv: Sequence[str] | None = None) -> int:
    # No argv: the console script or `python -m reelforge`, so this call owns the process.
    owns_process = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_gui(argv):
        argv = ["gui", *argv]
    args = _parser().parse_args(argv)
    _setup_logging()
    try:
        if args.self_check:
            from reelforge.ui.selfcheck import run_self_check

            return run_self_check()
        if args.command in ("process", "resume"):
            code = _run_batch(args)
            return _exit_now(code) if owns_process else code
        if args.command == "watch":
            return _watch(args)
        if args.command == "presets":
            return _presets(args)
        if args.command == "history":
            return _history(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "beat":
            return _beat(args)
        if args.command == "doctor":
            return _doctor()
        if args.command == "events":
            return _events(args)
        if args.command == "stats":
            return _stats(args)
        if args.command == "gui":
            from reelforge.ui.app import run_gui

            return run_gui(args.paths)
        _parser().print_help()
        return EXIT_USAGE
    except UsageError as err:
        print(f"reelforge: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as err:  # one line for a person; the traceback goes to the log file
        logging.getLogger("reelforge").debug("fatal error", exc_info=True)
        print(f"reelforge: {_one_line(err)}", file=sys.stderr)
        return EXIT_FAILED


class _OneLine(logging.Formatter):
    """A person gets one line; the traceback goes to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        lines = record.getMessage().strip().splitlines()
        return f"reelforge: {lines[0] if lines else record.levelname.lower()}"


def _setup_logging() -> None:
    from reelforge.config import Paths
    from reelforge.observability.jsonlog import install_json_log

    root = logging.getLogger("reelforge")
    if root.handlers:  # already set up (tests call main() many times)
        return
    root.setLevel(logging.INFO)
    root.propagate = False
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(_OneLine())
    root.addHandler(console)
    try:
        logs = Paths.from_env().ensure().logs
    except OSError:
        return  # no writable data folder: the one-line console messages still work
    # The structured log (JSON lines, UTC): tracebacks go there and only there.
    install_json_log(logs)


def _remember_ffmpeg_answers() -> None:
    """ffmpeg's -version and -filters answers are kept in the data folder, so a start with
    the same binary runs no ffmpeg before the first job."""
    from reelforge.config import Paths
    from reelforge.media import binaries

    with contextlib.suppress(OSError):  # no writable data folder: build() says so
        binaries.use_cache_file(Paths.from_env().ensure().home / FFMPEG_ANSWERS)


def _exit_now(code: int) -> int:
    """End a finished batch's process at once, without the interpreter's teardown.

    Freeing every module, Qt object and SQLAlchemy structure one by one took ~0.3 s of CPU and
    ~0.5 s of wall after main() returned (measured on a loaded 2-core machine), for nothing: the
    history is committed and the database closed (App.close), the JSON lines are printed and
    the pools have no work. What is still buffered (stdout, stderr, the log file) is flushed
    first. Only when main() owns the process: tests call main() in-process.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    logging.shutdown()
    os._exit(code)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _qt_core() -> Any:
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.instance() or QCoreApplication(["reelforge"])


def _build(**kwargs: Any) -> Any:
    from reelforge.bootstrap import build

    app = build(**kwargs)
    for notice in app.notices:
        print(f"reelforge: {notice}", file=sys.stderr)
    return app


def _run_batch(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer

    from reelforge.cli_report import BatchReporter
    from reelforge.domain.commands import Enqueue
    from reelforge.domain.events import (
        AlertCleared,
        AlertRaised,
        BatchFinished,
        JobFinished,
        JobProgressed,
        JobStarted,
        QueueStateChanged,
        WorkerLost,
    )
    from reelforge.domain.presets import PresetError

    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    _remember_ffmpeg_answers()
    loop = _qt_core()
    app = _build(
        heavy=getattr(args, "jobs", None),
        collision=getattr(args, "collision", None),
        broker=getattr(args, "broker", None),
    )
    reporter = BatchReporter(app.repo, json_lines=args.json)
    state = {"interrupted": False, "open": set()}
    exporter = _serve_metrics(app, args)

    def on_batch_finished(event: BatchFinished) -> None:
        state["open"].discard(event.batch_id)
        if not state["open"]:
            loop.quit()

    app.bus.subscribe(JobFinished, reporter.job_finished)
    app.bus.subscribe(JobStarted, reporter.job_started)
    app.bus.subscribe(JobProgressed, reporter.job_progressed)
    app.bus.subscribe(BatchFinished, on_batch_finished)
    # Cluster mode: a lost broker or worker is said in one line each (the batch goes on).
    app.bus.subscribe(AlertRaised, lambda e: reporter.note(e.message))
    app.bus.subscribe(AlertCleared, lambda e: reporter.note(e.message))
    app.bus.subscribe(
        WorkerLost, lambda e: reporter.note(f"{e.reason}: {len(e.jobs)} job(s) sent again")
    )
    app.bus.subscribe(
        QueueStateChanged,
        lambda e: reporter.note(
            f"{e.lane} jobs {'paused' if e.paused else 'resumed'}"
            + (f": {e.reason}" if e.reason else "")
        ),
    )

    try:
        if args.command == "process":
            presets = tuple(args.preset or app.settings.presets)
            out = args.out or app.settings.effective_output_dir
            try:
                res = app.queue.enqueue(Enqueue(tuple(args.paths), presets, out, origin="cli"))
            except PresetError as err:
                raise UsageError(str(err)) from None
            for url in res.refused:
                print(f"reelforge: refused (not a local file): {url}", file=sys.stderr)
            reporter.skipped_non_media = res.skipped_non_media
            if res.batch_id is None:
                raise UsageError("no inputs: nothing to process in the given paths")
            state["open"] = {res.batch_id}
        else:
            if not app.owns_data:
                print(
                    "reelforge: another Reelforge is working on this data folder; "
                    "resume when it has finished",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            resumed = app.queue.resume_pending()
            if not resumed:
                print("reelforge: nothing to resume", file=sys.stderr)
                return EXIT_OK
            state["open"] = set(app.queue.open_batches)

        def on_stop_signal(signum: int, _frame: Any) -> None:
            if state["interrupted"]:  # a second Ctrl-C: stop now (ffmpeg dies with us)
                from reelforge.runner import remove_live_temps

                remove_live_temps()
                os._exit(EXIT_INTERRUPTED)
            state["interrupted"] = True
            reporter.note("cancelling... (Ctrl-C again to stop at once)")
            app.queue.cancel_everything(f"cancelled by {signal.Signals(signum).name}")

        previous = {s: signal.signal(s, on_stop_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        # Qt's loop runs in C++; a short timer lets Python run its signal handlers.
        tick = QTimer()
        tick.timeout.connect(lambda: None)
        tick.start(100)
        with reporter:
            if state["open"]:
                loop.exec()
        tick.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    finally:
        app.close(interrupt=False)
        if exporter is not None:
            exporter.close()
    reporter.summary()
    if state["interrupted"]:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if reporter.failed else EXIT_OK


def _presets(args: argparse.Namespace) -> int:
    from reelforge.assets import resource
    from reelforge.config import Paths
    from reelforge.services.presets import PresetCatalog

    catalog = PresetCatalog(resource("presets"), Paths.from_env().ensure().presets)
    for err in catalog.errors:
        print(f"reelforge: preset ignored: {err}", file=sys.stderr)
    for name, preset in catalog.all.items():
        sections = [
            s
            for s in ("renditions", "poster", "contact_sheet", "audio", "preview", "remux")
            if getattr(preset, s)
        ]
        if args.json:
            print(
                json.dumps(
                    {
                        "name": name,
                        "builtin": preset.builtin,
                        "description": preset.description,
                        "sections": sections,
                        "preset": preset.to_toml_dict(),
                    }
                )
            )
        else:
            kind = "built-in" if preset.builtin else "user"
            print(f"{name:<14} {kind:<9} {preset.description}")
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    from reelforge.config import Paths
    from reelforge.storage.engine import open_database
    from reelforge.storage.repository import Repository

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    repo = Repository(open_database(Paths.from_env().ensure().database))
    rows = repo.history(status=args.status, limit=args.limit)
    for rec in rows:
        if args.json:
            print(json.dumps(rec.to_json_dict()))
        else:
            when = rec.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            line = f"{when}  {rec.status.value:<11} {rec.label:<28} {Path(rec.source_path).name}"
            if rec.error:
                line += f"  ({rec.error})"
            print(line)
    return EXIT_OK


def _doctor() -> int:
    import av
    import PySide6
    from PySide6.QtCore import QLibraryInfo

    from reelforge.config import Paths
    from reelforge.media.binaries import FFmpegNotFound, find_ffmpeg, find_ffprobe
    from reelforge.storage.engine import head_revision, open_database, schema_version

    ok = True
    paths = Paths.from_env().ensure()
    print(f"Reelforge      {__version__}")
    try:
        ff = find_ffmpeg(None)
        print(f"ffmpeg         {ff.version} ({ff.source}: {ff.path})")
    except FFmpegNotFound as err:
        ok = False
        print(f"ffmpeg         MISSING: {err}")
    print(f"ffprobe        {find_ffprobe() or 'not found (optional)'}")
    print(f"PyAV           {av.__version__} (FFmpeg libraries {av.ffmpeg_version_info})")
    print(f"PySide6 / Qt   {PySide6.__version__}")
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    names = sorted(p.name.split(".")[0].removeprefix("libq") for p in plugins.glob("*"))
    platform = os.environ.get("QT_QPA_PLATFORM") or "default (xcb/wayland when a display exists)"
    print(f"Qt platform    {platform}; plugins: {', '.join(names) or 'none found'}")
    print(f"data folder    {paths.home}")
    try:
        engine = open_database(paths.database)
        print(
            f"database       {paths.database} (schema {schema_version(engine)}, "
            f"head {head_revision()})"
        )
        engine.dispose()
    except Exception as err:
        ok = False
        print(f"database       PROBLEM: {_one_line(err)}")
    return EXIT_OK if ok else EXIT_FAILED


def _events(args: argparse.Namespace) -> int:
    from reelforge.config import Paths
    from reelforge.observability.eventread import (
        Filter,
        follow,
        human,
        log_files,
        parse_since,
        read_lines,
    )

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    keep = Filter(job=args.job, since=since)
    logs = Paths.from_env().ensure().logs

    def emit(line: dict[str, Any]) -> None:
        if keep(line):
            print(json.dumps(line, ensure_ascii=False) if args.json else human(line), flush=True)

    try:
        for line in read_lines(log_files(logs)):
            emit(line)
        if args.follow:
            follow(logs, emit)
    except BrokenPipeError:  # `reelforge events | head`: the reader left, not an error
        sys.stderr.close()
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    import time

    from reelforge.config import Paths, load_settings
    from reelforge.observability.eventread import parse_since
    from reelforge.observability.metrics import collect_stats
    from reelforge.observability.stats_text import stats_lines
    from reelforge.storage.engine import open_database
    from reelforge.storage.monitoring import MonitoringStore

    now = time.time()
    try:
        since = parse_since(args.since, now)
    except ValueError as err:
        raise UsageError(str(err)) from None
    paths = Paths.from_env().ensure()
    settings = load_settings(paths.settings)
    engine = open_database(paths.database)
    try:
        stats = collect_stats(
            MonitoringStore(engine), since, now, folders=settings.output_folders()
        )
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(stats.to_dict()))
    else:
        print("\n".join(stats_lines(stats)))
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    """`reelforge worker`: the same job function as the local pool, fed by a Celery queue."""
    from reelforge.assets import resource
    from reelforge.cluster.broker import resolve_broker
    from reelforge.cluster.celery_app import QUEUES
    from reelforge.cluster.pathmap import PathMap, PathMapError
    from reelforge.cluster.worker import default_worker_name, run_worker
    from reelforge.config import Paths, load_settings
    from reelforge.runner import RunContext

    paths = Paths.from_env().ensure()  # job logs only: a worker never opens the history
    settings = load_settings(paths.settings)
    broker = resolve_broker(args.broker, settings.broker_url)
    if not broker:
        raise UsageError("no broker: give --broker URL, set REELFORGE_BROKER or broker_url")
    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    if not queues or set(queues) - set(QUEUES):
        raise UsageError(f"--queues takes {' and/or '.join(QUEUES)}, comma-separated")
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    try:
        path_map = PathMap.parse(args.path_map)
    except PathMapError as err:
        raise UsageError(str(err)) from None
    name = args.name or default_worker_name()
    ctx = RunContext.create(
        log_dir=paths.job_logs,
        font=resource("fonts", "DejaVuSans.ttf"),
        ffmpeg_setting=settings.ffmpeg_path or None,
        stall_timeout=settings.stall_timeout,
        worker=name,
    )
    from reelforge.observability.prometheus import WorkerMetrics

    metrics = WorkerMetrics(name)
    served = _serve_endpoint(metrics, args)
    try:
        return run_worker(
            broker=broker,
            queues=queues,
            concurrency=args.concurrency,
            path_map=path_map,
            name=name,
            ctx=ctx,
            visibility_timeout=settings.visibility_timeout,
            metrics=metrics,
            log_days=settings.log_days,
        )
    finally:
        if served:
            metrics.close()


def _beat(args: argparse.Namespace) -> int:
    """`reelforge beat`: heavy-job hours and housekeeping for every worker, from Celery beat."""
    from reelforge.cluster.beat import run_beat
    from reelforge.cluster.broker import resolve_broker
    from reelforge.config import Paths, load_settings
    from reelforge.watch.schedule import parse_hours

    paths = Paths.from_env().ensure()
    settings = load_settings(paths.settings)
    broker = resolve_broker(args.broker, settings.broker_url)
    if not broker:
        raise UsageError("no broker: give --broker URL, set REELFORGE_BROKER or broker_url")
    if not args.check_every > 0:
        raise UsageError("--check-every must be more than 0 seconds")
    try:
        parse_hours(settings.heavy_hours)
    except ValueError as err:  # said once here; beat goes on and re-reads the settings
        print(f"reelforge: {err}; heavy jobs may start at any time", file=sys.stderr)
    return run_beat(broker=broker, paths=paths, hours_every=args.check_every)


def _serve_metrics(app: Any, args: argparse.Namespace) -> Any:
    """A Prometheus endpoint fed by this process's events, when --metrics-port is given."""
    if getattr(args, "metrics_port", None) is None:
        return None
    from reelforge.observability.prometheus import PrometheusExporter

    exporter = PrometheusExporter(app.bus)
    _serve_endpoint(exporter, args)
    return exporter


def _serve_endpoint(endpoint: Any, args: argparse.Namespace) -> bool:
    """Serve an exporter's /metrics when --metrics-port is given; True when served."""
    port = getattr(args, "metrics_port", None)
    if port is None:
        return False
    if not 0 <= port <= 65535:
        raise UsageError("--metrics-port must be 0..65535")
    try:
        bound = endpoint.serve(port, args.metrics_addr)
    except OSError as err:
        where = f"{args.metrics_addr}:{port}"
        raise UsageError(f"cannot serve metrics on {where}: {err.strerror}") from None
    print(f"reelforge: metrics on http://{args.metrics_addr}:{bound}/metrics", file=sys.stderr)
    return True


def _watch(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from PySide6.QtCore import QTimer

    from reelforge.cli_report import BatchReporter
    from reelforge.config import WatchFolder
    from reelforge.domain.events import (
        AlertRaised,
        JobFinished,
        JobProgressed,
        JobStarted,
        QueueStateChanged,
        WatchedFileTaken,
    )
    from reelforge.domain.presets import PresetError

    loop = _qt_core()
    app = _build()
    exporter = None
    try:
        if args.dirs:
            presets = tuple(args.preset or app.settings.presets)
            out = args.out or ""
            for d in args.dirs:
                if not Path(d).expanduser().is_dir():
                    raise UsageError(f"not a folder: {d}")
            folders = tuple(WatchFolder(str(Path(d).expanduser()), presets, out) for d in args.dirs)
            app.settings = replace(app.settings, watch=folders)  # this run only, not saved
        elif args.preset or args.out:
            raise UsageError("--preset and --out go with folders named on the command line")
        if not app.settings.watch:
            raise UsageError("no folders: name some, or add watch folders in the settings")
        try:
            for folder in app.settings.watch:
                for name in folder.presets:
                    app.presets.get(name)
        except PresetError as err:
            raise UsageError(str(err)) from None
        if not app.owns_data:
            print(
                "reelforge: another Reelforge is working on this data folder; watch from there",
                file=sys.stderr,
            )
            return EXIT_FAILED
        exporter = _serve_metrics(app, args)
        reporter = BatchReporter(app.repo, json_lines=args.json)
        app.bus.subscribe(JobFinished, reporter.job_finished)
        app.bus.subscribe(JobStarted, reporter.job_started)
        app.bus.subscribe(JobProgressed, reporter.job_progressed)
        app.bus.subscribe(WatchedFileTaken, lambda e: reporter.note(f"taken: {e.path}"))
        app.bus.subscribe(
            AlertRaised,
            lambda e: reporter.note(f"alert: {e.message}" + (f" ({e.action})" if e.action else "")),
        )
        app.bus.subscribe(
            QueueStateChanged,
            lambda e: reporter.note(
                f"{e.lane} jobs {'paused' if e.paused else 'resumed'}"
                + (f": {e.reason}" if e.reason else "")
            ),
        )
        for folder in app.settings.watch:
            out = folder.out or app.settings.effective_output_dir
            reporter.note(f"watching {folder.dir} ({', '.join(folder.presets)} -> {out})")
        stopped = {"signal": False}

        def on_stop_signal(_signum: int, _frame: Any) -> None:
            stopped["signal"] = True
            loop.quit()

        previous = {s: signal.signal(s, on_stop_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        tick = QTimer()  # lets Python run its signal handlers during Qt's loop
        tick.timeout.connect(lambda: None)
        tick.start(100)
        with reporter:
            app.queue.resume_pending()
            app.start_background()
            loop.exec()
        tick.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    finally:
        app.close(interrupt=True)  # running jobs resume next time
        if exporter is not None:
            exporter.close()
    reporter.summary()
    return EXIT_INTERRUPTED if stopped["signal"] else EXIT_OK
