"""One Reelforge window per person and data folder: a second launch hands its files over.

The first instance listens on a local socket (QLocalServer); a later launch connects, sends
one line of JSON, {"files": [...]}, waits for {"ok": true} and exits. An empty list means
"just show the window". The name is per user and per REELFORGE_HOME, so two data folders run
side by side and two people on one machine never meet. On Linux the socket lives in
XDG_RUNTIME_DIR (private to the user) when there is one, else in the temp folder.

A crash leaves the socket file behind on Unix; listen() notices that nobody answers on it and
takes it over, while a live instance is never displaced.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import sys
import time
from enum import Enum

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from reelforge.config import Paths

log = logging.getLogger("reelforge.single_instance")

MAX_MESSAGE = 1 << 20  # a million bytes of paths is more than any drop
CLIENT_IDLE_MS = 5000  # a connection that says nothing for this long is dropped
_ACK = b'{"ok": true}\n'


class _Outcome(Enum):
    DELIVERED = "delivered"
    NOBODY = "nobody"  # no socket, or a socket nobody listens on (a crashed instance)
    NO_ANSWER = "no-answer"  # connected, but no acknowledgement in time


def default_key() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers): the uid still tells people apart
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha256(f"{user}\0{Paths.from_env().home}".encode()).hexdigest()
    return f"reelforge-{digest[:16]}"


def server_name_for(key: str) -> str:
    """Where the socket for `key` lives: a full path under XDG_RUNTIME_DIR on Linux if set."""
    if "/" in key or "\\" in key or not sys.platform.startswith("linux"):
        return key
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
        return os.path.join(runtime, key)
    return key


class SingleInstance(QObject):
    files_received = Signal(list)

    def __init__(self, key: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key or default_key()
        self.server_name = server_name_for(self.key)
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}

    # -- the second launch ----------------------------------------------------------------------
    def forward(self, files: list[str], timeout_ms: int = 1000) -> bool:
        """Hand `files` to a running instance. True once it acknowledged them."""
        return self._send({"files": [str(f) for f in files]}, timeout_ms) is _Outcome.DELIVERED

    def _send(self, message: dict[str, object] | None, timeout_ms: int) -> _Outcome:
        """Connect and, with a message, send it and wait for the acknowledgement.

        With a QCoreApplication this waits in a local event loop, so a server living on the
        same thread (tests, or the probe in listen()) still answers; without one it blocks.
        """
        payload = b"" if message is None else json.dumps(message).encode() + b"\n"
        sock = QLocalSocket()
        try:
            if QCoreApplication.instance() is None:
                return _exchange_blocking(sock, self.server_name, payload, timeout_ms)
            return _exchange_in_loop(sock, self.server_name, payload, timeout_ms)
        finally:
            sock.abort()

    # -- the first launch -----------------------------------------------------------------------
    def listen(self) -> bool:
        """Become the instance others forward to. False if a live instance already listens."""
        if self._server is not None and self._server.isListening():
            return True
        server = QLocalServer(self)
        server.newConnection.connect(self._accept)
        if not server.listen(self.server_name):
            if server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
                log.warning("cannot listen on %s: %s", self.server_name, server.errorString())
                server.deleteLater()
                return False
            outcome = self._send(None, 500)
            if outcome is not _Outcome.NOBODY:
                server.deleteLater()
                return False  # someone is there: forward to it instead
            log.info("removing the stale socket %s left by a crashed instance", self.server_name)
            QLocalServer.removeServer(self.server_name)
            if not server.listen(self.server_name):
                log.warning("cannot listen on %s: %s", self.server_name, server.errorString())
                server.deleteLater()
                return False
        self._server = server
        return True

    def is_listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()  # also removes the socket file
            self._server.deleteLater()
            self._server = None
        for sock in list(self._buffers):
            sock.abort()
        self._buffers.clear()

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._buffers[sock] = bytearray()
            idle = QTimer(sock)
            idle.setSingleShot(True)
            idle.timeout.connect(sock.abort)
            idle.start(CLIENT_IDLE_MS)
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))
            if sock.bytesAvailable():
                self._read(sock)

    def _drop(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        buf = self._buffers.get(sock)
        if buf is None:
            return
        buf.extend(bytes(sock.readAll().data()))
        if len(buf) > MAX_MESSAGE:
            log.warning("dropping an oversized hand-over message")
            sock.abort()
            return
        if b"\n" not in buf:
            return
        line = bytes(buf[: buf.index(b"\n")])
        self._buffers.pop(sock, None)
        files = _parse(line)
        if files is None:
            log.warning("ignoring a malformed hand-over message")
            sock.abort()
            return
        sock.write(_ACK)
        sock.flush()
        sock.disconnectFromServer()
        self.files_received.emit(files)


def _exchange_in_loop(sock: QLocalSocket, name: str, payload: bytes, timeout_ms: int) -> _Outcome:
    loop = QEventLoop()
    received = bytearray()
    outcome: list[_Outcome] = []

    def finish(result: _Outcome) -> None:
        if not outcome:
            outcome.append(result)
            loop.quit()

    def on_connected() -> None:
        if not payload:
            finish(_Outcome.DELIVERED)  # a probe: somebody is listening
            return
        sock.write(payload)
        sock.flush()

    def on_ready_read() -> None:
        received.extend(bytes(sock.readAll().data()))
        if b"\n" in received:
            finish(_Outcome.DELIVERED if _is_ack(received) else _Outcome.NO_ANSWER)

    def on_error(_error: QLocalSocket.LocalSocketError) -> None:
        if _refused(sock):
            finish(_Outcome.NOBODY)
        elif sock.error() != QLocalSocket.LocalSocketError.PeerClosedError:
            finish(_Outcome.NO_ANSWER)

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(lambda: finish(_Outcome.NO_ANSWER))
    sock.connected.connect(on_connected)
    sock.readyRead.connect(on_ready_read)
    sock.errorOccurred.connect(on_error)
    sock.disconnected.connect(lambda: finish(_Outcome.NO_ANSWER))
    try:
        sock.connectToServer(name)  # may fail at once (no such socket): errorOccurred ran
        if not outcome:
            timer.start(max(1, timeout_ms))
            loop.exec()
    finally:
        timer.stop()
        for signal in (sock.connected, sock.readyRead, sock.errorOccurred, sock.disconnected):
            signal.disconnect()
    return outcome[0] if outcome else _Outcome.NO_ANSWER


def _exchange_blocking(sock: QLocalSocket, name: str, payload: bytes, timeout_ms: int) -> _Outcome:
    deadline = time.monotonic() + timeout_ms / 1000

    def left() -> int:
        return max(1, int((deadline - time.monotonic()) * 1000))

    sock.connectToServer(name)
    if sock.state() != QLocalSocket.LocalSocketState.ConnectedState and not (
        sock.waitForConnected(left())
    ):
        return _Outcome.NOBODY if _refused(sock) else _Outcome.NO_ANSWER
    if not payload:
        return _Outcome.DELIVERED
    sock.write(payload)
    sock.waitForBytesWritten(left())
    received = bytearray()
    while b"\n" not in received and time.monotonic() < deadline:
        if sock.waitForReadyRead(left()):
            received.extend(bytes(sock.readAll().data()))
        elif sock.state() != QLocalSocket.LocalSocketState.ConnectedState:
            break
    return _Outcome.DELIVERED if _is_ack(received) else _Outcome.NO_ANSWER


def _parse(line: bytes) -> list[str] | None:
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def _is_ack(data: bytes | bytearray) -> bool:
    try:
        reply = json.loads(bytes(data).split(b"\n", 1)[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(reply, dict) and reply.get("ok") is True


def _refused(sock: QLocalSocket) -> bool:
    return sock.error() in (
        QLocalSocket.LocalSocketError.ServerNotFoundError,
        QLocalSocket.LocalSocketError.ConnectionRefusedError,
    )
