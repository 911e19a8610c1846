"""Side-by-side benchmarks of tuner's algorithms against their peers.

Not installed: run from the repository root as ``python -m bench.compare --quick``.
See ``bench/README.md`` for the commands, the problems, the peers and the last tables.
"""
