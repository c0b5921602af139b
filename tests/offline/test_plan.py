"""The offline plan: the first command a newcomer runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plan(*stacks: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "offline.plan", *stacks], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_plan_prints_the_dev_and_prod_stacks():
    result = plan("dev", "prod")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Offline plan for stack 'dev'" in out and "Offline plan for stack 'prod'" in out
    dev, prod = out.split("Offline plan for stack 'prod'")
    # The settings that matter are shown: sizes, counts, encryption, exposure, protection.
    assert "db.t4g.micro" in dev and "db.t4g.small" in prod
    assert "deletion protection no" in dev and "deletion protection yes" in prod
    assert "encrypted yes, public no" in dev
    assert dev.count("desired 0,") == 5 and "ignores desiredCount" in dev
    assert "FARGATE_SPOT" not in dev and "FARGATE_SPOT" not in prod
    assert "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04" in prod
    assert "retention 14 d" in dev and "retention 90 d" in prod
    assert "clusterName: airflow-dev" in dev
    # What a reader asked of the plan: Lambda memory, what port 80 does, a NAT choice in words.
    assert "waker-function\n" in dev and "x86_64, memory 256 MB, timeout 60 s" in dev
    assert "HTTP:80: redirect to HTTPS:443 (HTTP_301)" in prod
    assert "HTTPS:443 ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04: forward to the api-server" in prod
    assert "no NAT gateway" in dev and "NAT None" not in dev


def test_plan_names_the_stacks_there_are_when_asked_for_another():
    result = plan("nosuch")
    assert result.returncode == 2
    assert "Pulumi.nosuch.yaml" in result.stderr and "dev" in result.stderr and "prod" in result.stderr
