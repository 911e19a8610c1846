"""``python -m tuner.collectors stdout --metric NAME [options] -- COMMAND [ARG ...]``."""

from __future__ import annotations

import sys

from tuner.collectors._wrapper import main

if __name__ == "__main__":
    sys.exit(main())
