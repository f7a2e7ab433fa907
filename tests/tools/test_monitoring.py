"""The monitoring's files (deploy/prometheus/): the rules are valid PromQL and do what
rules_test.yml says (each alert fires on the series that should raise it, and not just below its
threshold), and prometheus.yml, filled in as the cluster fills it, is a configuration Prometheus
accepts. tests/serving/test_cluster.py runs them for real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deploy.common import fill
from deploy.monitoring import PROMETHEUS

pytestmark = pytest.mark.once


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=120)


def test_the_rules_are_valid_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", "rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "rules_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_filled_in_configuration_is_one_prometheus_accepts(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(fill((PROMETHEUS / "prometheus.yml").read_text(), {
        "hosts": '"10.0.0.11:8000", "10.0.0.12:8000"', "haproxy": "10.0.0.2:8405",
        "postgres": "10.0.0.3:9187", "redis": "10.0.0.4:9121",
        "rules": str(PROMETHEUS / "rules.yml")}))
    checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout
