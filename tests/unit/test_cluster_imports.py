"""A worker machine loads the cluster package without Qt or the history database, also through
what it imports (test_layers checks the cluster package's own import lines only)."""

from __future__ import annotations

import subprocess
import sys


def test_worker_and_beat_load_no_qt_and_no_database() -> None:
    code = (
        "import sys, reelforge.cluster.worker, reelforge.cluster.beat\n"
        "bad = ('PySide6', 'sqlalchemy', 'sqlmodel', 'alembic', 'reelforge.storage')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad or m.startswith(bad)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
