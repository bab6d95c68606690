"""Entry script of the frozen app: the same `main` as the `reelforge` console script.

It lives outside the package so that PyInstaller does not put app/reelforge itself on the
module search path (its modules would then also be importable under their bare names).
"""

import sys

from reelforge.cli import main

if __name__ == "__main__":
    sys.exit(main())
