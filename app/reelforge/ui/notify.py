"""Desktop notifications: the freedesktop notification server, else the tray, else a banner.

Backends, tried in this order for every notice:

- "dbus": org.freedesktop.Notifications on the session bus (Linux), when a server is running
  or can be started by D-Bus activation. Clicking the notification ("default" action) emits
  `activated` with the batch id it belongs to.
- "tray": QSystemTrayIcon.showMessage() on the tray icon, when one is shown; clicking the
  balloon emits `activated` for the last batch shown there.
- "banner": `banner_requested(text)` for the window's in-app banner; banner_clicked() emits
  `activated` for the last batch shown there.

Why a little ctypes: Notify's signature is (susssasa{sv}i) and notification servers check it
(GDBus rejects a call whose replaces_id is an int32, and dunst ignores an urgency that is not a
byte). PySide6 converts every Python int to int32 and binds only one integer overload of
QDBusArgument::operator<< (uint16). So the uint32 and the byte are written by calling Qt's own
exported, ABI-stable QDBusArgument::operator<<(uint) and operator<<(uchar) on the QDBusArgument
that PySide6 created; each result is checked by its D-Bus signature before it is used, and if
anything about it is off the D-Bus backend is simply not offered.
"""

from __future__ import annotations

import ctypes
import html
import logging
import sys
from collections import OrderedDict
from collections.abc import Callable
from functools import cache, partial
from typing import TYPE_CHECKING

from PySide6.QtCore import SLOT, QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtDBus import (
    QDBus,
    QDBusArgument,
    QDBusConnection,
    QDBusMessage,
    QDBusPendingCallWatcher,
)
from PySide6.QtWidgets import QSystemTrayIcon

from reelforge.assets import resource
from reelforge.services.notifications import Notice

if TYPE_CHECKING:
    from reelforge.ui.tray import Tray

log = logging.getLogger("reelforge.notify")

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
APP_NAME = "Reelforge"
DESKTOP_ENTRY = "reelforge"
URGENCY_NORMAL, URGENCY_CRITICAL = 1, 2
TRAY_MESSAGE_MS = 15000
_REMEMBERED = 64  # notification ids kept to map a click back to its batch

BACKENDS = ("dbus", "tray", "banner")


# -- typed D-Bus values PySide6 cannot express -----------------------------------------------------
Writer = Callable[[int], QDBusArgument]


@cache
def _qtdbus_writers() -> tuple[Writer, Writer] | None:
    """Qt's QDBusArgument::operator<<(uint) and operator<<(uchar), or None where unavailable."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import shiboken6

        lib = ctypes.CDLL(_loaded_qtdbus_path() or "libQt6DBus.so.6")
        put_uint = lib._ZN13QDBusArgumentlsEj  # QDBusArgument::operator<<(unsigned int)
        put_byte = lib._ZN13QDBusArgumentlsEh  # QDBusArgument::operator<<(unsigned char)
    except (ImportError, OSError, AttributeError) as err:
        log.info("typed D-Bus arguments unavailable: %s", err)
        return None
    put_uint.argtypes, put_uint.restype = [ctypes.c_void_p, ctypes.c_uint], ctypes.c_void_p
    put_byte.argtypes, put_byte.restype = [ctypes.c_void_p, ctypes.c_ubyte], ctypes.c_void_p

    def writer(put: Callable[[int, int], object]) -> Writer:
        def write(value: int) -> QDBusArgument:
            arg = QDBusArgument()  # a marshalling argument of its own
            put(shiboken6.getCppPointer(arg)[0], value)
            return arg

        return write

    uint_writer, byte_writer = writer(put_uint), writer(put_byte)
    # Check on throwaway values that Qt wrote exactly the D-Bus type asked for.
    if uint_writer(7).currentSignature() != "u" or byte_writer(7).currentSignature() != "y":
        log.warning("typed D-Bus arguments came out wrong; not using D-Bus notifications")
        return None
    return uint_writer, byte_writer


def _loaded_qtdbus_path() -> str | None:
    """The libQt6DBus this process already uses (the one PySide6.QtDBus was built against)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                if "/libQt6DBus.so" in path:
                    return path
    except OSError:
        pass
    return None


def dbus_uint32(value: int) -> QDBusArgument | None:
    """A D-Bus uint32 ('u'); None where typed arguments are unavailable."""
    writers = _qtdbus_writers()
    return writers[0](value) if writers else None


def dbus_byte(value: int) -> QDBusArgument | None:
    """A D-Bus byte ('y'); None where typed arguments are unavailable."""
    writers = _qtdbus_writers()
    return writers[1](value) if writers else None


def notify_arguments(
    notice: Notice, *, icon: str = "", markup: bool = False
) -> list[object] | None:
    """The eight arguments of Notify for `notice`, correctly typed; None if they cannot be."""
    replaces_id = dbus_uint32(0)
    urgency = dbus_byte(URGENCY_CRITICAL if notice.failed else URGENCY_NORMAL)
    if replaces_id is None or urgency is None:
        return None
    body = html.escape(notice.body, quote=False) if markup else notice.body
    # A QDBusArgument as a map value is marshalled as a variant of its own type: v(y).
    hints = {"urgency": urgency, "desktop-entry": DESKTOP_ENTRY}
    return [APP_NAME, replaces_id, icon, notice.title, body, ["default", "Show"], hints, -1]


def _icon_uri() -> str:
    path = resource("icons", "reelforge.svg")
    return QUrl.fromLocalFile(str(path)).toString() if path.is_file() else ""


# -- the notifier ----------------------------------------------------------------------------------
class DesktopNotifier(QObject):
    activated = Signal(int)  # batch id of the notification the person clicked
    banner_requested = Signal(str)

    def __init__(
        self,
        tray: Tray | None = None,
        parent: QObject | None = None,
        *,
        connection: QDBusConnection | None = None,
    ) -> None:
        """`connection`: the D-Bus connection to use (default: the session bus on Linux)."""
        super().__init__(parent)
        self._tray = tray
        if connection is None and sys.platform.startswith("linux"):
            connection = QDBusConnection.sessionBus()
        self._bus = connection
        self._batches: OrderedDict[int, int] = OrderedDict()  # server id -> batch id
        self._tray_batch: int | None = None
        self._banner_batch: int | None = None
        self._capabilities: list[str] | None = None
        self._watchers: set[QDBusPendingCallWatcher] = set()
        self.last_notification_id: int | None = None  # the server's id of the last D-Bus notice
        self.last_backend: str | None = None
        if self._bus is not None and self._bus.isConnected():
            for name, slot in (
                ("ActionInvoked", "_on_action_invoked(QDBusMessage)"),
                ("NotificationClosed", "_on_notification_closed(QDBusMessage)"),
            ):
                if not self._bus.connect("", PATH, INTERFACE, name, self, SLOT(slot)):
                    log.info("cannot listen for %s: %s", name, self._bus.lastError().message())
        if tray is not None:
            tray.icon.messageClicked.connect(self._on_tray_message_clicked)

    # -- which backend --------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Where deliver() sends a notice now: "dbus", "tray" or "banner"."""
        if self._dbus_ready():
            return "dbus"
        if self._tray_ready():
            return "tray"
        return "banner"

    def _dbus_ready(self) -> bool:
        if self._bus is None or not self._bus.isConnected() or _qtdbus_writers() is None:
            return False
        iface = self._bus.interface()
        if iface is None:
            return False
        registered = iface.isServiceRegistered(SERVICE)
        if registered.isValid() and registered.value():
            return True
        activatable = iface.activatableServiceNames()
        return activatable.isValid() and SERVICE in (activatable.value() or [])

    def _tray_ready(self) -> bool:
        tray = self._tray
        return (
            tray is not None and tray.is_visible() and tray.available() and tray.supports_messages()
        )

    # -- delivering -----------------------------------------------------------------------------
    def deliver(self, notice: Notice) -> None:
        if self.backend == "dbus" and self._send_dbus(notice):
            return
        self._deliver_locally(notice)

    def _deliver_locally(self, notice: Notice) -> None:
        if self._tray_ready():
            assert self._tray is not None
            level = (
                QSystemTrayIcon.MessageIcon.Warning
                if notice.failed
                else QSystemTrayIcon.MessageIcon.Information
            )
            self._tray_batch = notice.batch_id
            self.last_backend = "tray"
            self._tray.icon.showMessage(notice.title, notice.body, level, TRAY_MESSAGE_MS)
            return
        self._banner_batch = notice.batch_id
        self.last_backend = "banner"
        self.banner_requested.emit(banner_text(notice))

    def _send_dbus(self, notice: Notice) -> bool:
        assert self._bus is not None
        args = notify_arguments(notice, icon=_icon_uri(), markup="body-markup" in self._caps())
        if args is None:
            return False
        msg = QDBusMessage.createMethodCall(SERVICE, PATH, INTERFACE, "Notify")
        msg.setArguments(args)
        watcher = QDBusPendingCallWatcher(self._bus.asyncCall(msg), self)
        self._watchers.add(watcher)
        watcher.finished.connect(lambda w=watcher, n=notice: self._notify_finished(w, n))
        self.last_backend = "dbus"
        return True

    def _notify_finished(self, watcher: QDBusPendingCallWatcher, notice: Notice) -> None:
        self._watchers.discard(watcher)
        reply = watcher.reply()
        watcher.deleteLater()
        if reply.type() != QDBusMessage.MessageType.ReplyMessage or not reply.arguments():
            log.warning("notification server refused the notice: %s", reply.errorMessage())
            self._deliver_locally(notice)  # the notice is not lost
            return
        server_id = int(reply.arguments()[0])
        self.last_notification_id = server_id
        self._batches[server_id] = notice.batch_id
        while len(self._batches) > _REMEMBERED:
            self._batches.popitem(last=False)

    def _caps(self) -> list[str]:
        """The server's capabilities, asked once (body-markup decides on escaping)."""
        if self._capabilities is None:
            assert self._bus is not None
            msg = QDBusMessage.createMethodCall(SERVICE, PATH, INTERFACE, "GetCapabilities")
            reply = self._bus.call(msg, QDBus.CallMode.Block, 1000)
            if reply.type() != QDBusMessage.MessageType.ReplyMessage or not reply.arguments():
                return []  # asked again next time: the server may just be starting
            self._capabilities = [str(c) for c in reply.arguments()[0]]
        return self._capabilities

    # -- clicks ---------------------------------------------------------------------------------
    @Slot(QDBusMessage)
    def _on_action_invoked(self, message: QDBusMessage) -> None:
        args = message.arguments()
        if len(args) < 2 or str(args[1]) != "default":
            return
        batch_id = self._batches.get(int(args[0]))
        if batch_id is not None:
            self.activated.emit(batch_id)

    @Slot(QDBusMessage)
    def _on_notification_closed(self, message: QDBusMessage) -> None:
        args = message.arguments()
        if args:
            # Some servers close before they report the action: forget the id a moment later.
            QTimer.singleShot(1000, self, partial(self._batches.pop, int(args[0]), None))

    def _on_tray_message_clicked(self) -> None:
        if self._tray_batch is not None:
            self.activated.emit(self._tray_batch)

    def banner_clicked(self) -> None:
        """For the window: the banner shown for a notice was clicked."""
        if self._banner_batch is not None:
            self.activated.emit(self._banner_batch)


def banner_text(notice: Notice) -> str:
    """One line for the in-app banner: 'Batch finished with failures — 12 done, ... · clip.mov'."""
    title = notice.title.removeprefix(f"{APP_NAME}: ")
    return f"{title[:1].upper()}{title[1:]} — {notice.body.replace(chr(10), ' · ')}"
