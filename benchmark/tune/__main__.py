"""``python -m benchmark.tune``: the same as ``albench tune``."""
import sys

from benchmark.tune.cli import main

sys.exit(main())
