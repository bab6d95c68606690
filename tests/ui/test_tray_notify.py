"""Tray menu and notifier fallbacks, offscreen (the real desktop is tests/desktop)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtDBus import QDBusConnection, QDBusMessage
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from reelforge.services.notifications import Notice
from reelforge.ui import notify
from reelforge.ui.notify import DesktopNotifier, banner_text, notify_arguments
from reelforge.ui.tray import Tray

FAILED = Notice(
    "Reelforge: batch finished with failures",
    "12 done, 1 failed - 4 min\nclip.mov: not a media file",
    failed=True,
    batch_id=5,
)
OK = Notice("Reelforge: batch done", "3 done - 12 s", failed=False, batch_id=6)


@pytest.fixture
def tray(qapp: QApplication):
    t = Tray()
    yield t
    t.hide()
    t.menu.deleteLater()
    t.deleteLater()


@pytest.fixture
def no_bus():
    """A D-Bus connection that is not connected: no notification server to be found."""
    conn = QDBusConnection.connectToBus("unix:path=/nonexistent/reelforge-bus", "rf-test-no-bus")
    assert not conn.isConnected()
    yield conn
    QDBusConnection.disconnectFromBus("rf-test-no-bus")


def _spy(signal) -> list:
    got: list = []
    signal.connect(lambda *args: got.append(args))
    return got


# -- tray ------------------------------------------------------------------------------------------
def test_no_tray_offscreen_means_no_icon(tray: Tray) -> None:
    assert not Tray.available()
    assert not tray.show()
    assert not tray.is_visible()


def test_menu_actions_emit_their_signals(tray: Tray) -> None:
    show_hide = _spy(tray.show_hide_requested)
    quit_ = _spy(tray.quit_requested)
    opened = _spy(tray.open_last_output_requested)
    tray.action_show_hide.trigger()
    tray.action_quit.trigger()
    assert show_hide == [()] and quit_ == [()]
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["Hide window", "Pause queue", "Open last output folder", "Quit"]

    assert not tray.action_open_output.isEnabled()
    tray.action_open_output.trigger()  # disabled: nothing happens
    assert opened == []
    tray.set_last_output("/videos/out")
    assert tray.action_open_output.isEnabled() and tray.last_output == "/videos/out"
    tray.action_open_output.trigger()
    assert opened == [()]
    tray.set_last_output(None)
    assert not tray.action_open_output.isEnabled()


def test_pause_toggle_flips_text_and_reports_the_wanted_state(tray: Tray) -> None:
    toggled = _spy(tray.pause_toggled)
    tray.action_pause.trigger()
    assert toggled == [(True,)] and tray.action_pause.text() == "Resume queue"
    tray.action_pause.trigger()
    assert toggled == [(True,), (False,)] and tray.action_pause.text() == "Pause queue"
    tray.set_paused(True)  # the queue was paused elsewhere (window, schedule)
    assert tray.action_pause.text() == "Resume queue" and tray.paused
    assert toggled == [(True,), (False,)]


def test_clicking_the_icon_shows_or_hides_the_window(tray: Tray) -> None:
    show_hide = _spy(tray.show_hide_requested)
    tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Context)
    assert show_hide == []
    tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert show_hide == [()]
    tray.set_window_visible(False)
    assert tray.action_show_hide.text() == "Show window"


def test_tooltip(tray: Tray) -> None:
    assert tray.tooltip() == "Reelforge"
    tray.set_progress("Reelforge — 3 running, 40% · 12 queued")
    assert tray.icon.toolTip() == "Reelforge — 3 running, 40% · 12 queued"
    tray.set_progress("")
    assert tray.tooltip() == "Reelforge"


# -- notifier --------------------------------------------------------------------------------------
def test_falls_back_to_banner_without_dbus_or_tray(tray: Tray, no_bus: QDBusConnection) -> None:
    notifier = DesktopNotifier(tray, connection=no_bus)
    assert notifier.backend == "banner"
    banners = _spy(notifier.banner_requested)
    activated = _spy(notifier.activated)
    notifier.deliver(FAILED)
    assert banners == [(banner_text(FAILED),)]
    text = banners[0][0]
    assert text.startswith("Batch finished with failures — 12 done, 1 failed - 4 min")
    assert "clip.mov: not a media file" in text and "\n" not in text
    assert notifier.last_backend == "banner"
    notifier.banner_clicked()
    assert activated == [(5,)]


def test_banner_without_any_tray_object(qapp: QApplication, no_bus: QDBusConnection) -> None:
    notifier = DesktopNotifier(None, connection=no_bus)
    banners = _spy(notifier.banner_requested)
    notifier.deliver(OK)
    assert notifier.backend == "banner"
    assert banners == [("Batch done — 3 done - 12 s",)]


def test_uses_the_tray_when_one_is_shown(
    tray: Tray, no_bus: QDBusConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Tray, "available", staticmethod(lambda: True))
    monkeypatch.setattr(Tray, "supports_messages", staticmethod(lambda: True))
    assert tray.show()
    notifier = DesktopNotifier(tray, connection=no_bus)
    assert notifier.backend == "tray"
    banners = _spy(notifier.banner_requested)
    activated = _spy(notifier.activated)
    notifier.deliver(OK)
    assert banners == [] and notifier.last_backend == "tray"
    tray.icon.messageClicked.emit()
    assert activated == [(6,)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="D-Bus notifications: Linux")
def test_notify_arguments_have_the_types_servers_check(qapp: QApplication) -> None:
    args = notify_arguments(FAILED, icon="file:///x.svg", markup=True)
    assert args is not None
    app_name, replaces_id, icon, summary, body, actions, hints, timeout = args
    assert (app_name, icon, summary, timeout) == ("Reelforge", "file:///x.svg", FAILED.title, -1)
    assert replaces_id.currentSignature() == "u"  # not the int32 PySide6 makes of an int
    assert actions == ["default", "Show"]
    assert hints["urgency"].currentSignature() == "y"
    assert hints["desktop-entry"] == "reelforge"
    assert body == FAILED.body  # nothing to escape
    escaped = notify_arguments(Notice("t", "a <b> & c", False, 1), markup=True)
    assert escaped is not None and escaped[4] == "a &lt;b&gt; &amp; c"
    plain = notify_arguments(Notice("t", "a <b> & c", False, 1), markup=False)
    assert plain is not None and plain[4] == "a <b> & c"


def test_dbus_click_maps_back_to_its_batch(
    qapp: QApplication, qtbot, no_bus: QDBusConnection
) -> None:
    """The slots the ActionInvoked / NotificationClosed signals are connected to."""
    notifier = DesktopNotifier(None, connection=no_bus)
    notifier._batches[17] = 5  # as if the server had answered Notify with id 17
    activated = _spy(notifier.activated)

    def signal(name: str, *args: object) -> QDBusMessage:
        msg = QDBusMessage.createSignal(notify.PATH, notify.INTERFACE, name)
        msg.setArguments(list(args))
        return msg

    notifier._on_action_invoked(signal("ActionInvoked", 99, "default"))  # someone else's
    notifier._on_action_invoked(signal("ActionInvoked", 17, "other"))
    assert activated == []
    notifier._on_action_invoked(signal("ActionInvoked", 17, "default"))
    assert activated == [(5,)]
    notifier._on_notification_closed(signal("NotificationClosed", 17, 2))
    notifier._on_action_invoked(signal("ActionInvoked", 17, "default"))  # late, still known
    assert activated == [(5,), (5,)]
    qtbot.waitUntil(lambda: 17 not in notifier._batches, timeout=3000)


def test_backend_names() -> None:
    assert notify.BACKENDS == ("dbus", "tray", "banner")
