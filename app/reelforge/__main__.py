import sys

from reelforge.cli import main

sys.exit(main())
