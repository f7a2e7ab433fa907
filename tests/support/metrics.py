"""This process's figures (prometheus-client's default registry): what an in-process test reads
to see what it changed. Another test in the process may have counted too, so tests compare with
the figure before."""

from __future__ import annotations

from prometheus_client import REGISTRY


def figure(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
