"""Guards against a PySide6 regression that crashed Reelforge at exit (seen in 6.12.0):
every Python-side Signal.emit() dropped one reference to True, and the interpreter aborted
with "bool_dealloc" when it finalized."""

import gc
import sys

from PySide6.QtCore import QCoreApplication, QObject, Signal


class _Emitter(QObject):
    ping = Signal()


def test_signal_emit_keeps_reference_counts(qapp: QCoreApplication) -> None:
    emitter = _Emitter()
    emitter.ping.connect(lambda: None)
    gc.collect()
    before = sys.getrefcount(True)
    for _ in range(200):
        emitter.ping.emit()
    gc.collect()
    assert sys.getrefcount(True) >= before - 5
