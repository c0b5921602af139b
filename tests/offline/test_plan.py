"""The offline plan: the first command a newcomer runs."""

from __future__ import annotations

import re
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
    # Printed whole, and then refused: prod's file ships with a placeholder certificate to replace.
    assert result.returncode == 2, result.stderr[-3000:]
    assert "stack prod: settings still hold placeholders" in result.stderr
    assert "Pulumi.prod.yaml line " in result.stderr and "certificateArn:" in result.stderr
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


def test_a_stack_file_without_placeholders_passes_and_one_with_them_names_each_line(tmp_path, monkeypatch):
    from offline import plan as offline_plan
    from offline import recording

    real = (ROOT / "Pulumi.prod.yaml").read_text()
    monkeypatch.setattr(recording, "PROJECT_DIR", tmp_path)
    (tmp_path / "Pulumi.prod.yaml").write_text(real)
    (line,) = offline_plan.placeholder_lines("prod")
    assert line.startswith("Pulumi.prod.yaml line ") and "certificate/00000000-0000-0000-0000-000000000000" in line
    mine = "arn:aws-us-gov:acm:us-gov-east-1:210987654321:certificate/6f0c2d1e-1111-4a2b-9c3d-0e1f2a3b4c5d"
    (tmp_path / "Pulumi.prod.yaml").write_text(
        real.replace(
            "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000", mine
        )
    )
    assert offline_plan.placeholder_lines("prod") == []


def test_the_plan_says_how_the_waker_keeps_the_stack_and_counts_its_resources_once(recordings):
    from datetime import UTC, datetime

    from offline.plan import render
    from offline.plan_summary import summary

    for key in ("dev", "prod"):
        text = render(recordings[key])
        header = re.search(r"Offline plan for stack '\w+': (\d+) resources", text)
        by_type = re.search(r"Resources by type \((\d+)\):", text)
        listed = sum(int(n) for n in re.findall(r"^ +(\d+)  \S+$", text, re.MULTILINE))
        assert header and by_type and int(header.group(1)) == int(by_type.group(1)) == listed, key
    # Monday 12:00 UTC is 07:00 in New York: prod's office-hours window fires next at 08:00 there, that day.
    monday = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    prod = summary(recordings["prod"], monday)
    assert "cron(0 8 ? * MON-FRI *) America/New_York: next Mon 2026-12-07 08:00 EST, Tue 2026-12-08 08:00 EST" in prod
    assert "sleeps after 20 idle minutes" in prod and "database: always up" in prod
    assert "at most 12 a day" in prod
    dev = summary(recordings["dev"], monday)
    assert "sleeps after 10 idle minutes" in dev and "database: stopped while asleep" in dev
    assert "no waking page" in dev and "workers: 0 to 2, 4 tasks each" in dev
    # Each role in one line, with what it may do (the worker's task role: its queue and the bucket).
    roles = prod.split("Roles, and what each may do:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(roles) == len(recordings["prod"].of_type("aws:iam/role:Role"))
    worker = next(line for line in roles if line.startswith("  airflow-worker-task (ecs-tasks): "))
    assert "sqs: ChangeMessageVisibility DeleteMessage" in worker and "s3: GetObject" in worker
    assert "ssmmessages" not in prod and "ssmmessages: CreateControlChannel" in dev


def test_make_plan_ends_with_the_idle_cost():
    from costs.__main__ import idle_line
    from costs.model import Prices, price_stack
    from infra.settings import load_settings
    from offline.recording import load_stack_file, run_stack

    done = subprocess.run(
        [sys.executable, "-m", "costs", "dev", "--idle"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    idle = price_stack(run_stack("dev"), load_settings("dev", load_stack_file("dev")), Prices.load()).idle_month
    assert done.stdout.strip() == idle_line("dev") and f"${idle:.2f} a month while asleep" in done.stdout


def test_the_plan_warns_of_dag_settings_the_stack_does_not_set(tmp_path):
    """Regression: the example DAGs read their bucket and queue from settings Pulumi.dev.yaml does not set, so
    shipped as they were they failed; nothing said so before `pulumi up`."""
    import json

    from offline.plan_summary import dag_lines
    from offline.recording import run_stack

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "lake.py").write_text(
        'import os\nBUCKET = os.environ.get("LAKE_BUCKET", "local-lake")\nURL = os.environ["EVENTS_URL"]\n'
        'HOME = os.getenv("AIRFLOW_HOME")\n'
    )
    bare = "\n".join(dag_lines(run_stack("dev"), dags))
    assert "warning: they read EVENTS_URL, LAKE_BUCKET, which services.environment does not set" in bare
    assert "services.workerPolicyArns: none" in bare
    services = {
        "environment": {"LAKE_BUCKET": "lake-bucket", "EVENTS_URL": "https://sqs.example/q"},
        "workerPolicyArns": ["arn:aws-us-gov:iam::123456789012:policy/lake-access"],
    }
    configured = "\n".join(dag_lines(run_stack("dev", {"airflow:services": json.dumps(services)}), dags))
    assert "warning" not in configured and "the settings they read are set: EVENTS_URL, LAKE_BUCKET" in configured
    assert "services.workerPolicyArns: 2 attached" in configured  # the worker's and the triggerer's roles
