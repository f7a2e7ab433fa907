"""Benchmarks: `make bench` runs ``python -m bench.run``; servers start through ``tests.support.servers``."""
