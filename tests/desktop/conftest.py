"""A real, private X11 desktop for tests: Xvfb, a D-Bus session bus, dunst and trayer.

Each piece is a fixture, so a test takes only what it needs (the tray fallback test has no
notification server). Every process runs in a session (process group) of its own and gets
PR_SET_PDEATHSIG, so it dies with the pytest that started it even if pytest is killed;
teardown sends SIGTERM to the group, then SIGKILL, and waits, leaving neither processes nor
zombies behind. Nothing depends on the machine's desktop or the person's config: Xvfb picks a
free display itself (-displayfd), the bus has its own config without service activation (so
nothing starts on it that the test did not start), and dunst reads a config written here.

These tests are skipped only when the programs are missing (Debian: xvfb x11-utils dbus-x11
dunst trayer); CI installs them.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REQUIRED = ("Xvfb", "xdpyinfo", "xwininfo", "dbus-daemon", "dbus-monitor", "dunst", "dunstctl")
REQUIRED_TRAY = ("trayer",)
START_TIMEOUT = 20.0
XVFB_ARGS = "-screen 0 1280x800x24 -nolisten tcp -noreset".split()
TRAYER_ARGS = "--edge top --align right --widthtype request --height 24 --transparent false".split()

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Notifications stay up until closed (no timeouts), so what a test looks at is still there.
DUNST_CONFIG = """[global]
    format = "%s\\n%b"
    font = "DejaVu Sans Mono 9"
    width = 420
    origin = top-right
    offset = 10x40
    history_length = 50
    idle_threshold = 0

[urgency_low]
    timeout = 0

[urgency_normal]
    timeout = 0

[urgency_critical]
    timeout = 0
"""


def require(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(
            f"real-desktop test needs {', '.join(missing)} "
            "(Debian: apt-get install xvfb x11-utils dbus-x11 dunst trayer)"
        )


_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # runs in the child between fork and exec: no imports, no dlopen
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def desktop_env(display: str | None = None, bus: str | None = None) -> dict[str, str]:
    """The environment minus anything that points at the person's own session."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "WAYLAND_DISPLAY",
            "DISPLAY",
            "DBUS_SESSION_BUS_ADDRESS",
            "XDG_CURRENT_DESKTOP",
            "XDG_SESSION_TYPE",
            "DESKTOP_SESSION",
            "QT_QPA_PLATFORM",
            "QT_QPA_PLATFORMTHEME",
        )
    }
    env["NO_AT_BRIDGE"] = "1"  # no accessibility bus to look for
    if display:
        env["DISPLAY"] = display
    if bus:
        env["DBUS_SESSION_BUS_ADDRESS"] = bus
    return env


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:  # the leader is gone; anything it left in its group goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def start(
    name: str,
    argv: list[str],
    log_dir: Path,
    *,
    env: dict[str, str],
    stdout_pipe: bool = False,
    pass_fds: tuple[int, ...] = (),
) -> Service:
    log = log_dir / f"{name}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else sink,
            stderr=sink,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            pass_fds=pass_fds,
        )
    return Service(name, proc, log)


def wait_until(check: Callable[[], Any], timeout: float, what: str, service: Service | None = None):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if service is not None and service.proc.poll() is not None:
            pytest.fail(f"{service.name} exited ({service.proc.returncode}):\n{service.tail()}")
        if time.monotonic() > deadline:
            extra = f"\n{service.name} log:\n{service.tail()}" if service else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(0.05)


def _read_line(fd: int, timeout: float) -> str:
    """One line from a pipe, without ever blocking past `timeout`."""
    deadline, data = time.monotonic() + timeout, b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _ok(argv: list[str], env: dict[str, str]) -> bool:
    try:
        return subprocess.run(argv, env=env, capture_output=True, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass
class Kit:
    """The helpers above, for tests (a conftest is not imported by name)."""

    logs: Path

    def env(self, display: str | None = None, bus: str | None = None) -> dict[str, str]:
        return desktop_env(display, bus)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        return start(name, argv, self.logs, env=env)

    wait_until = staticmethod(wait_until)
    die_with_parent = staticmethod(_die_with_parent)  # a preexec_fn for other children


@pytest.fixture
def kit(service_logs: Path) -> Kit:
    return Kit(service_logs)


@pytest.fixture
def service_logs(tmp_path: Path) -> Path:
    logs = tmp_path / "desktop-logs"
    logs.mkdir()
    return logs


@pytest.fixture
def xvfb(service_logs: Path) -> Iterator[str]:
    """A private X server on a display number it picks itself; yields ":N"."""
    require(*REQUIRED)
    read_fd, write_fd = os.pipe()
    try:
        server = start(
            "xvfb",
            ["Xvfb", "-displayfd", str(write_fd), *XVFB_ARGS],
            service_logs,
            env=desktop_env(),
            pass_fds=(write_fd,),
        )
    finally:
        os.close(write_fd)
    try:
        number = _read_line(read_fd, START_TIMEOUT)
        os.close(read_fd)
        if not number.isdigit():
            pytest.fail(f"Xvfb did not report its display:\n{server.tail()}")
        display = f":{number}"
        wait_until(
            lambda: _ok(["xdpyinfo", "-display", display], desktop_env()),
            START_TIMEOUT,
            f"xdpyinfo -display {display}",
            server,
        )
        yield display
    finally:
        server.stop()


@pytest.fixture
def dbus_session(service_logs: Path) -> Iterator[str]:
    """A private session bus; yields its address."""
    require(*REQUIRED)
    # A short folder of its own: a unix socket path must fit in 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="rf-bus-"))
    config = folder / "session.conf"
    config.write_text(BUS_CONFIG.format(dir=folder), encoding="utf-8")
    daemon = start(
        "dbus-daemon",
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        service_logs,
        env=desktop_env(),
        stdout_pipe=True,
    )
    try:
        assert daemon.proc.stdout is not None
        address = _read_line(daemon.proc.stdout.fileno(), START_TIMEOUT)
        if not address.startswith("unix:"):
            pytest.fail(f"dbus-daemon gave no address:\n{daemon.tail()}")
        yield address
    finally:
        daemon.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Dunst:
    env: dict[str, str]
    service: Service
    calls: list[list[str]] = field(default_factory=list)

    def ctl(self, *args: str) -> str:
        self.calls.append(list(args))
        done = subprocess.run(
            ["dunstctl", *args], env=self.env, capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise AssertionError(f"dunstctl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def count(self, which: str = "displayed") -> int:
        return int(self.ctl("count", which).strip() or 0)

    def history(self) -> list[dict[str, Any]]:
        """Closed notifications, newest first, as {field: value}."""
        data = json.loads(self.ctl("history"))["data"]
        entries = data[0] if data else []
        return [{k: v.get("data") for k, v in entry.items()} for entry in entries]


@pytest.fixture
def dunst(xvfb: str, dbus_session: str, service_logs: Path) -> Iterator[Dunst]:
    """The notification server (org.freedesktop.Notifications) on the private bus."""
    env = desktop_env(xvfb, dbus_session)
    config = service_logs / "dunstrc"
    config.write_text(DUNST_CONFIG, encoding="utf-8")
    server = start("dunst", ["dunst", "-config", str(config)], service_logs, env=env)
    try:
        wait_until(
            lambda: _ok(["dunstctl", "is-paused"], env), START_TIMEOUT, "dunst on the bus", server
        )
        yield Dunst(env, server)
    finally:
        server.stop()


@pytest.fixture
def trayer(xvfb: str, service_logs: Path) -> Iterator[Service]:
    """An XEmbed system tray (freedesktop system tray spec) at the top right."""
    require(*REQUIRED_TRAY)
    env = desktop_env(xvfb)
    panel = start(
        "trayer",
        ["trayer", *TRAYER_ARGS],
        service_logs,
        env=env,
    )
    try:

        def panel_mapped() -> bool:
            done = subprocess.run(
                ["xwininfo", "-root", "-tree", "-display", xvfb],
                env=env,
                capture_output=True,
                text=True,
                timeout=5,
            )
            return '"trayer")' in done.stdout

        wait_until(panel_mapped, START_TIMEOUT, "the trayer panel", panel)
        yield panel
    finally:
        panel.stop()
