"""The in-process signal bus.

publish() may be called from any thread; subscribers always run on the thread that owns the bus
(the GUI or CLI main thread), in subscription order, one event at a time. That is what lets the
repository be the single writer of the history and the UI models touch Qt safely. Delivery rides
on a Qt signal, queued from other threads. An event published by a subscriber while another is
being dispatched waits its turn (FIFO), so no handler ever runs inside another handler.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

from reelforge.domain.events import Event

log = logging.getLogger("reelforge.bus")
E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


class ThreadHop(QObject):
    """Hands items from any thread to a callback on the thread that created this object.

    Items travel in a deque; the Qt signal carries no arguments and only wakes the owner up.
    (Passing Python objects through queued PySide6 signals has hit refcount bugs at shutdown;
    a bare wake-up also coalesces: one wake-up drains everything that arrived.)
    """

    _wake = Signal()

    def __init__(self, callback: Callable[[Any], None]) -> None:
        super().__init__()
        self._callback = callback
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._armed = False
        self._wake.connect(self.drain, Qt.ConnectionType.QueuedConnection)

    def post(self, item: Any) -> None:
        self._items.append(item)
        with self._lock:
            if self._armed:
                return
            self._armed = True
        self._wake.emit()

    def drain(self) -> None:
        with self._lock:
            self._armed = False
        while self._items:
            self._callback(self._items.popleft())


class Bus(QObject):
    def __init__(self) -> None:
        super().__init__()
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._any: list[Handler] = []
        self._pending: deque[Event] = deque()
        self._dispatching = False
        self._hop = ThreadHop(self._enqueue)
        self._owner = threading.get_ident()  # the bus lives on the thread that created it

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[event_type].append(handler)

    def subscribe_all(self, handler: Handler) -> None:
        """For consumers that want every event (logs, metrics)."""
        self._any.append(handler)

    def unsubscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        if handler in self._handlers[event_type]:
            self._handlers[event_type].remove(handler)

    def publish(self, event: Event) -> None:
        """Thread-safe. On the owner thread the event is delivered before this returns,
        unless a dispatch is already running, in which case it follows that one."""
        if threading.get_ident() == self._owner:
            self._enqueue(event)
        else:
            self._hop.post(event)

    def flush(self) -> None:
        """Deliver what other threads have published so far (used at shutdown)."""
        self._hop.drain()

    def _enqueue(self, event: Event) -> None:
        self._pending.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._pending:
                self._dispatch(self._pending.popleft())
        finally:
            self._dispatching = False

    def _dispatch(self, event: Event) -> None:
        for handler in (*self._handlers.get(type(event), ()), *self._any):
            try:
                handler(event)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("subscriber %r failed on %s", handler, type(event).__name__)
