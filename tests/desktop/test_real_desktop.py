"""Tray and notifications on a real X11 desktop: Xvfb + private D-Bus + dunst + trayer.

The Qt side runs in a driver subprocess (this file run as a script) because the test process
is pinned to the offscreen platform before its QApplication exists; the driver gets
QT_QPA_PLATFORM=xcb, DISPLAY and DBUS_SESSION_BUS_ADDRESS of the private desktop. It reports
what happened as JSON lines on stdout; the test drives dunst (dunstctl) and looks at the
screen, the bus traffic and dunst's history.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

BATCH_ID = 42
FAILED_FILE = "/media/in/clip.mov"
REASON = "not a media file"


# -- the driver (runs in the subprocess) -----------------------------------------------------------
def driver(mode: str) -> int:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    from reelforge.bus import Bus
    from reelforge.domain.events import BatchFinished
    from reelforge.services.notifications import BatchNotifier
    from reelforge.ui.notify import DesktopNotifier
    from reelforge.ui.tray import Tray

    app = QApplication([sys.argv[0]])

    def pump(seconds: float, until=lambda: False) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        return bool(until())

    def say(event: str, **data: Any) -> None:
        print(json.dumps({"event": event, **data}), flush=True)

    # The tray manager may have appeared a moment ago: Qt learns of it through X events.
    tray_available = pump(10, QSystemTrayIcon.isSystemTrayAvailable)
    tray = Tray()
    tray.set_progress("Reelforge — 1 running, 40% · 12 queued")
    bus = Bus()
    notifier = DesktopNotifier(tray)
    clicks: list[int] = []
    banners: list[str] = []
    notifier.activated.connect(clicks.append)
    notifier.banner_requested.connect(banners.append)
    BatchNotifier(bus, notifier.deliver)
    backend = notifier.backend
    state = {
        "backend": backend,
        "tray_available": tray_available,
        "tray_visible": tray.is_visible(),
        "platform": app.platformName(),
    }
    bus.publish(
        BatchFinished(
            batch_id=BATCH_ID,
            counts={"succeeded": 11, "skipped": 1, "failed": 1},
            seconds=245.0,
            failures=((FAILED_FILE, REASON),),
        )
    )
    if mode == "tray":
        pump(1.0)
        say("shown", last_backend=notifier.last_backend, banners=banners, **state)
        return 0
    delivered = pump(10, lambda: notifier.last_notification_id is not None)
    say(
        "delivered",
        notification_id=notifier.last_notification_id,
        last_backend=notifier.last_backend,
        banners=banners,
        **state,
    )
    if not delivered:
        return 2
    pump(30, lambda: bool(clicks))  # the test clicks the notification (dunstctl action)
    say("activated" if clicks else "no-click", batch_ids=clicks)
    pump(0.3)
    return 0 if clicks else 3


# -- the test side ---------------------------------------------------------------------------------
class Driver:
    def __init__(self, kit, env: dict[str, str], mode: str, log: Path) -> None:
        self.stderr = log
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--driver", mode],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                preexec_fn=kit.die_with_parent,
            )
        self._buf = b""
        self.messages: list[dict[str, Any]] = []

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                if line.startswith(b"{"):
                    msg = json.loads(line)
                    self.messages.append(msg)
                    if msg.get("event") == event:
                        return msg
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"driver: no {event!r} in {timeout:.0f} s; {self._story()}")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait(10)
                    pytest.fail(f"driver exited ({self.proc.returncode}); {self._story()}")
                self._buf += chunk

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"driver did not exit; {self._story()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()

    def _story(self) -> str:
        return f"said {self.messages}; stderr:\n{self.stderr.read_text(errors='replace')[-3000:]}"


def _driver_env(kit, display: str, bus: str) -> dict[str, str]:
    env = kit.env(display, bus)
    env["QT_QPA_PLATFORM"] = "xcb"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _panel_width(display: str, env: dict[str, str]) -> int:
    """Width of trayer's panel: 2 px empty, wider once an icon is embedded."""
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree", "-display", display],
        env=env,
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout
    found = re.search(r'"panel": \("panel" "trayer"\)\s+(\d+)x(\d+)', tree)
    return int(found.group(1)) if found else 0


def _screenshot(kit, display: str, env: dict[str, str], path: Path) -> Path | None:
    if shutil.which("import") is None:
        return None  # ImageMagick is only for looking at, not for passing
    subprocess.run(
        ["import", "-display", display, "-window", "root", str(path)],
        env=env,
        check=True,
        timeout=30,
        capture_output=True,
    )
    kit.wait_until(lambda: path.is_file() and path.stat().st_size > 0, 5, "the screenshot")
    return path


def test_batch_notification_through_dbus_with_tray(
    kit, xvfb: str, dbus_session: str, dunst, trayer, tmp_path: Path
) -> None:
    wait_until = kit.wait_until
    env = kit.env(xvfb, dbus_session)
    notify_calls = "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"
    monitor = kit.start(
        "dbus-monitor", ["dbus-monitor", "--address", dbus_session, notify_calls], env
    )
    driver_proc = Driver(
        kit, _driver_env(kit, xvfb, dbus_session), "notify", kit.logs / "driver.log"
    )
    try:
        # It listens once the bus has handed it its name and taken it back (monitor mode).
        wait_until(lambda: "NameLost" in monitor.log.read_text(), 10, "dbus-monitor", monitor)

        delivered = driver_proc.expect("delivered", timeout=40)
        assert delivered["platform"] == "xcb"
        assert delivered["tray_available"] is True
        assert delivered["tray_visible"] is True
        assert delivered["backend"] == "dbus"
        assert delivered["last_backend"] == "dbus"
        assert isinstance(delivered["notification_id"], int) and delivered["notification_id"] > 0
        assert delivered["banners"] == []

        wait_until(lambda: dunst.count("displayed") >= 1, 10, "dunst to show the notification")
        wait_until(lambda: _panel_width(xvfb, env) > 10, 10, "the icon embedded in trayer")
        time.sleep(0.5)  # let dunst and the tray finish painting before the picture
        shot = _screenshot(kit, xvfb, env, tmp_path / "reelforge-desktop.png")
        if shot:
            print(f"screenshot: {shot}")

        dunst.ctl("action", "0")  # a click on the notification: its "default" action
        activated = driver_proc.expect("activated", timeout=15)
        assert activated["batch_ids"] == [BATCH_ID]
        assert driver_proc.wait() == 0
    finally:
        driver_proc.stop()
        monitor.stop()

    if dunst.count("displayed"):
        dunst.ctl("close-all")
    ours = [n for n in dunst.history() if n.get("appname") == "Reelforge"]
    assert len(ours) == 1, ours
    (note,) = ours
    assert note["summary"] == "Reelforge: batch finished with failures"
    assert note["body"] == f"12 done, 1 failed - 4 min\nclip.mov: {REASON}"
    assert note["default_action_name"] == "default"

    # The wire types notification servers insist on: replaces_id uint32, urgency a byte.
    wire = monitor.log.read_text()
    assert wire.count("member=Notify") == 1
    call = wire[wire.index("member=Notify") :]
    assert re.search(r'string "Reelforge"\s+uint32 0\s+string "file://[^"]+\.svg"', call), call
    assert re.search(r'string "urgency"\s+variant\s+byte 2', call), call
    assert re.search(r'string "desktop-entry"\s+variant\s+string "reelforge"', call), call
    assert re.search(r'string "default"\s+string "Show"', call), call
    assert re.search(r"int32 -1\s*$", call.strip()), call


def test_without_a_notification_server_the_tray_tells(
    kit, xvfb: str, dbus_session: str, trayer
) -> None:
    driver_proc = Driver(kit, _driver_env(kit, xvfb, dbus_session), "tray", kit.logs / "driver.log")
    try:
        shown = driver_proc.expect("shown", timeout=40)
        assert driver_proc.wait() == 0
    finally:
        driver_proc.stop()
    assert shown["tray_available"] is True and shown["tray_visible"] is True
    assert shown["backend"] == "tray"
    assert shown["last_backend"] == "tray"
    assert shown["banners"] == []


if __name__ == "__main__" and sys.argv[1:2] == ["--driver"]:
    sys.exit(driver(sys.argv[2]))
