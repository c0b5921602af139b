"""What `make image` checks inside the image is derived from the program, not listed by hand."""

from __future__ import annotations

import json

from devtools import build_image, image_probe
from offline.recording import run_stack


def test_the_probe_covers_every_container_of_every_task_definition():
    spec = build_image.probe_spec("3.3.2")
    probed = {(c["component"], c["name"]) for c in spec["containers"]}
    for stack in ("dev", "prod"):
        recording = run_stack(stack)
        for definition in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
            containers = json.loads(definition.inputs["containerDefinitions"])
            component = next(c["name"] for c in containers if c.get("essential", True))
            assert {(component, c["name"]) for c in containers} <= probed
    assert ("scheduler", "activity-reporter") in probed and ("api-server", "wait-for-migrations") in probed
    assert spec["python"] == "3.11"  # the official tag image/Dockerfile names: apache/airflow:slim-...-python3.11
    assert "/opt/airflow/config/worker_protection.py" in spec["copy_destinations"]
    assert spec["pins"]["apache-airflow-providers-amazon[aiobotocore]"] == "9.39.0"


def test_the_probe_reads_commands_as_the_entrypoint_does():
    assert image_probe.subcommand(["db", "check-migrations", "--migration-wait-timeout", "600"]) == [
        "db",
        "check-migrations",
    ]
    assert image_probe.subcommand(["celery", "worker"]) == ["celery", "worker"]
    assert image_probe.subcommand(["users", "create", "--username", "admin"]) == ["users", "create"]
    assert image_probe.expand_default('"${RESTORE_GUARD:-/opt/airflow/restore_guard.py}"') == (
        '"/opt/airflow/restore_guard.py"'
    )
