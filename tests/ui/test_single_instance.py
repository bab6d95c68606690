"""One instance per user and data folder: hand-over of files, and recovery from a crash."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtNetwork import QLocalSocket

from reelforge.ui.single_instance import SingleInstance, default_key


@pytest.fixture
def key() -> str:
    return f"reelforge-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def first(qapp: QCoreApplication, key: str):
    instance = SingleInstance(key)
    assert instance.listen()
    yield instance
    instance.close()


def _collect(instance: SingleInstance) -> list[list[str]]:
    got: list[list[str]] = []
    instance.files_received.connect(got.append)
    return got


def test_second_instance_forwards_files_to_the_first(first: SingleInstance, key: str) -> None:
    got = _collect(first)
    second = SingleInstance(key)
    files = ["/videos/a.mp4", "/videos/with space é.mov"]
    assert second.forward(files)
    assert got == [files]


def test_empty_forward_means_show_the_window(first: SingleInstance, key: str) -> None:
    got = _collect(first)
    assert SingleInstance(key).forward([])
    assert got == [[]]


def test_a_second_instance_cannot_listen_while_the_first_lives(
    first: SingleInstance, key: str
) -> None:
    got = _collect(first)
    second = SingleInstance(key)
    assert not second.listen()
    assert first.is_listening()
    assert second.forward(["/x.mov"])  # the first still owns the name
    assert got == [["/x.mov"]]


def test_forward_to_nobody_returns_false_quickly(qapp: QCoreApplication, key: str) -> None:
    start = time.monotonic()
    assert not SingleInstance(key).forward(["/a.mov"], timeout_ms=1000)
    assert time.monotonic() - start < 0.5


def test_close_frees_the_name(qapp: QCoreApplication, key: str) -> None:
    instance = SingleInstance(key)
    assert instance.listen()
    instance.close()
    assert not SingleInstance(key).forward([])
    again = SingleInstance(key)
    assert again.listen()
    again.close()


def test_malformed_message_is_ignored(first: SingleInstance, key: str) -> None:
    got = _collect(first)
    sock = QLocalSocket()
    sock.connectToServer(first.server_name)
    assert sock.waitForConnected(1000)
    sock.write(b"this is not json\n")
    sock.flush()
    deadline = time.monotonic() + 1
    while (
        time.monotonic() < deadline and sock.state() == QLocalSocket.LocalSocketState.ConnectedState
    ):
        QCoreApplication.processEvents()
    sock.abort()
    assert got == []
    assert SingleInstance(key).forward(["/ok.mov"])  # the server still works
    assert got == [["/ok.mov"]]


_LISTENER = """
import sys, time
from PySide6.QtCore import QCoreApplication
from PySide6.QtNetwork import QLocalServer
app = QCoreApplication([])
server = QLocalServer()
assert server.listen(sys.argv[1]), server.errorString()
print(server.fullServerName(), flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes leave nothing behind")
def test_listen_recovers_a_socket_left_by_a_crash(
    qapp: QCoreApplication, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = SingleInstance(key).server_name
    crashed = subprocess.Popen(
        [sys.executable, "-c", _LISTENER, name],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        socket_path = Path(crashed.stdout.readline().strip())
        assert socket_path.exists()
        os.kill(crashed.pid, signal.SIGKILL)  # no chance to clean up
        crashed.wait(10)
    finally:
        if crashed.poll() is None:
            crashed.kill()
            crashed.wait(10)
        crashed.stdout.close()
    assert socket_path.exists()  # the stale socket file is still there
    assert not SingleInstance(key).forward([], timeout_ms=300)

    instance = SingleInstance(key)
    got = _collect(instance)
    try:
        with caplog.at_level(logging.INFO, logger="reelforge.single_instance"):
            assert instance.listen()
        assert "stale socket" in caplog.text  # it really was taken over, not just free
        assert SingleInstance(key).forward(["/after-crash.mov"])
        assert got == [["/after-crash.mov"]]
    finally:
        instance.close()
    assert not socket_path.exists()


def test_default_key_is_per_user_and_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REELFORGE_HOME", str(tmp_path / "one"))
    one = default_key()
    assert one == default_key()
    monkeypatch.setenv("REELFORGE_HOME", str(tmp_path / "two"))
    two = default_key()
    assert two != one
    monkeypatch.setattr("getpass.getuser", lambda: "somebody-else")
    assert default_key() not in (one, two)
    assert SingleInstance().key == default_key()
    assert default_key().startswith("reelforge-")
