"""Who holds which secret: derived from the program, compared with the README's declared table.

A container's keys are the JSON keys of its task definition's `secrets` (ECS hands a container one key of a
secret: `ARN:key::`, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html).
A role's reach is every `secretsmanager:GetSecretValue` resource of its policies: IAM grants whole secrets.
A new key or grant fails here until the README's table ("Who holds which secret") says why, and a row the
program no longer gives fails too.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from offline.recording import Recording

ROOT = Path(__file__).resolve().parents[2]
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
PLACEHOLDERS = ("the stack's Airflow secret",)


def declared_tables() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Who holds which secret", 1)[1].split("\n## ", 1)[0]
    containers: dict[str, set[str]] = {}
    roles: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or set(cells[0]) <= {"-"} or cells[0] in ("Container", "Roles"):
            continue
        holders = re.findall(r"`([^`]+)`", cells[0])
        reach = set(re.findall(r"`([^`]+)`", cells[1])) | {p for p in PLACEHOLDERS if p in cells[1]}
        assert holders and reach and len(cells[2]) > 20, f"a row needs holders, what they hold and why: {line}"
        table = roles if holders[0].endswith(("-execution", "-task")) else containers
        for holder in holders:
            assert holder not in table, f"{holder} is declared twice"
            table[holder] = reach
    return containers, roles


def handed_keys(recording: Recording) -> dict[str, set[str]]:
    handed: dict[str, set[str]] = {}
    for definition in recording.of_type(TASK_DEFINITION):
        containers = json.loads(definition.inputs["containerDefinitions"])
        component = next(c["name"] for c in containers if c.get("essential", True))
        for container in containers:
            keys = {s["valueFrom"].rsplit(":", 3)[1] for s in container.get("secrets", [])}
            if keys:
                handed[f"{component}/{container['name']}"] = keys
    return handed


def readable_secrets(recording: Recording) -> dict[str, set[str]]:
    own = recording.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    reach: dict[str, set[str]] = defaultdict(set)
    for policy in recording.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] != "Allow" or not any(a.startswith("secretsmanager:") for a in actions):
                continue
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                if resource == own:
                    reach[policy.name.removeprefix("airflow-")].add("the stack's Airflow secret")
                else:
                    name = re.sub(r"^airflow-[a-z0-9-]+?/", "airflow-<stack>/", resource.split(":secret:", 1)[1])
                    reach[policy.name.removeprefix("airflow-")].add(name)
    return dict(reach)


@pytest.fixture(scope="module")
def declared():
    return declared_tables()


def matches_table(derived: dict[str, dict[str, set[str]]], table: dict[str, set[str]]) -> None:
    """Every holder a stack gives holds what its row says, and every row is given by some tested stack."""
    for variant, holders in derived.items():
        for holder, reach in holders.items():
            assert holder in table, f"{variant}: {holder} holds {sorted(reach)} with no row in the README's table"
            assert reach == table[holder], f"{variant}: {holder} holds {sorted(reach)}, the table says {table[holder]}"
    given = {holder for holders in derived.values() for holder in holders}
    assert given == set(table), f"rows no tested stack gives: {sorted(set(table) - given)}"


def test_every_container_is_handed_exactly_the_keys_the_table_declares(recordings, declared):
    containers, _ = declared
    matches_table({variant: handed_keys(r) for variant, r in recordings.items()}, containers)


def test_every_role_may_read_exactly_the_secrets_the_table_declares(recordings, declared):
    _, roles = declared
    matches_table({variant: readable_secrets(r) for variant, r in recordings.items()}, roles)


def test_task_code_finds_no_master_credentials_or_keys_on_a_worker(recordings):
    for recording in recordings.values():
        worker = handed_keys(recording)["worker/worker"]
        assert not worker & {"conn", "conn_async", "password", "fernet_key", "jwt_secret", "admin_password"}
