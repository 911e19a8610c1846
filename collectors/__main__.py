"""``python -m tuner.collectors KIND [options] -- COMMAND [ARG ...]``."""

from __future__ import annotations

import sys

from tuner.collectors._cli import main

if __name__ == "__main__":
    sys.exit(main())
