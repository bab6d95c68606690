"""The structured log: one JSON object per line, UTC timestamps, in $REELFORGE_HOME/logs.

Bus events (see eventlog.py) and the application's own log records share one rotating file,
so `reelforge events` shows both in order. A record logged with exc_info keeps its traceback in
this file only: the console and the window get one line (see cli._OneLine and the log panel).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import traceback
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

LOG_NAME = "reelforge.jsonl"
MAX_BYTES = 10_000_000
BACKUPS = 5
# Events are written through this logger; it does not propagate, so event lines never reach
# the console or the window's application log, only the file.
EVENTS_LOGGER = "reelforge.events"


def utc_stamp(ts: float) -> str:
    """ISO 8601 in UTC with milliseconds and a Z: sorts as text, reads anywhere."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    """json.dumps fallback: paths, enums and the like as text, never a crash in logging."""
    return str(value)


# One encoder for every line: json.dumps with options builds a new JSONEncoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def dumps(line: dict[str, Any]) -> str:
    return _ENCODER.encode(line)


class JsonFormatter(logging.Formatter):
    """An application log record as one JSON line.

    A record carrying a ready line (attribute ``json_line``, set by the event log) is written as
    is; anything else becomes {"ts", "level", "kind": "log", "logger", "message", "job_id",
    "batch_id", "traceback"?}, with job_id / batch_id taken from ``extra`` when the caller gave
    them.
    """

    def format(self, record: logging.LogRecord) -> str:
        ready = getattr(record, "json_line", None)
        if isinstance(ready, str):
            return ready
        line: dict[str, Any] = {
            "ts": utc_stamp(record.created),
            "level": record.levelname.lower(),
            "kind": "log",
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", None),
            "batch_id": getattr(record, "batch_id", None),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return dumps(line)


class JsonLogHandler(RotatingFileHandler):
    """The rotating file handler, cheaper per line: every event of a batch is a line (tens of
    thousands for a batch of small jobs, most of them ffmpeg's stderr), so the per-line cost is
    paid on the bus thread thousands of times.

    The standard handler formats each record twice (once to decide on rotation), stats the
    path twice and seeks to the end of the file for every line. Here the record is formatted
    once, the size comes from one fstat of the open file (it is flushed after every line, so
    lines written by another process count too), and ready lines (``write_line``) skip the
    LogRecord altogether. Rotation and the file's content are the same: one flushed line per
    record, rotated before a line that would take the file to ``maxBytes``.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_line(self, line: str) -> None:
        """Append one line (no newline in ``line``), rotating first if it would not fit."""
        text = line + "\n"
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            if self.stream is None:  # opened on first use (delay=True)
                self.stream = self._open()
            if self._would_overflow(text):
                self.doRollover()
                if self.stream is None:  # with delay=True the rollover leaves it closed
                    self.stream = self._open()
            self.stream.write(text)
            self.stream.flush()

    def _would_overflow(self, text: str) -> bool:
        if self.maxBytes <= 0:
            return False
        try:
            st = os.fstat(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            return False
        if not stat.S_ISREG(st.st_mode):  # /dev/null and the like never rotate (as stdlib)
            return False
        return st.st_size + len(text) >= self.maxBytes  # characters, as the stdlib counts


_lock = threading.Lock()
_installed: RotatingFileHandler | None = None


def log_path(logs_dir: Path) -> Path:
    return logs_dir / LOG_NAME


def install_json_log(logs_dir: Path, *, level: int = logging.INFO) -> RotatingFileHandler | None:
    """Attach the JSON file handler to the "reelforge" and "reelforge.events" loggers.

    Idempotent; called again with another folder (tests move REELFORGE_HOME) it moves the
    handler there. None when the folder is not writable: logging then goes on without a file.
    """
    global _installed
    path = log_path(logs_dir)
    with _lock:
        if _installed is not None and Path(_installed.baseFilename) == path.absolute():
            return _installed
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = JsonLogHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
            )
        except OSError:
            return None
        handler.setFormatter(JsonFormatter())
        handler.setLevel(level)
        app_log, events_log = logging.getLogger("reelforge"), logging.getLogger(EVENTS_LOGGER)
        if _installed is not None:
            for logger in (app_log, events_log):
                logger.removeHandler(_installed)
            _installed.close()
        events_log.propagate = False
        events_log.setLevel(logging.INFO)
        if app_log.level == logging.NOTSET or app_log.level > level:
            app_log.setLevel(level)
        app_log.addHandler(handler)
        events_log.addHandler(handler)
        _installed = handler
        return handler
