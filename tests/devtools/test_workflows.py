"""The GitHub Actions workflows a team adopts: they parse, and call only what exists in the project."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from airflow_stack import affected_stacks

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def steps(document: dict):
    for name, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield name, job, step


def test_there_are_workflows_for_checks_deploys_and_dags():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "deploy.yml", "dags.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_command_exists_in_the_project(path):
    targets = make_targets()
    for _, _, step in steps(load(path)):
        for line in str(step.get("run", "")).splitlines():
            line = re.sub(r"\$\(([^)]*)\)", r"\1", line)  # look inside command substitutions too
            for command in re.split(r"&&|;|\|", line):
                words = shlex.split(command.replace("${{", "").replace("}}", ""))
                if not words:
                    continue
                if words[0] == "make":
                    assert words[1] in targets, f"{path.name}: make {words[1]} is not a Makefile target"
                for word in words:
                    if re.fullmatch(r"(tools|infra|lambdas|image|tests)/[\w/.-]+\.py", word):
                        assert (ROOT / word).is_file(), f"{path.name}: {word} does not exist"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_aws_access_is_by_github_oidc_in_govcloud(path):
    document = load(path)
    for name, job, step in steps(document):
        if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
            permissions = {**document.get("permissions", {}), **job.get("permissions", {})}
            assert permissions.get("id-token") == "write", f"{path.name}:{name} needs id-token: write for OIDC"
            assert step["with"]["aws-region"].startswith("us-gov-")
            assert "aws-access-key-id" not in step["with"], "no long-lived keys"
            assert "role-to-assume" in step["with"]
    assert "arn:aws:" not in path.read_text()


def test_prod_deploys_wait_for_approval_and_dev_deploys_on_merge():
    for name in ("deploy.yml", "dags.yml"):
        document = load(ROOT / ".github" / "workflows" / name)
        assert document["on"]["push"]["branches"] == ["main"]
        assert document["jobs"]["dev"]["environment"] == "dev"
        prod = document["jobs"]["prod"]
        assert prod["environment"] == "prod" and prod["needs"] == "dev"


def test_every_action_is_pinned_to_a_release():
    for path in WORKFLOWS:
        for _, _, step in steps(load(path)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["dags/orders_ingest.py", "README.md"], []),
        (["Pulumi.prod.yaml"], ["prod"]),
        (["Pulumi.dev.yaml", "tests/infra/test_stack.py"], ["dev"]),
        (["infra/components/network.py"], ["dev", "prod"]),
        (["uv.lock"], ["dev", "prod"]),
        (["lambdas/waker/policy.py"], ["dev", "prod"]),
        (["contracts/metrics.py"], ["dev", "prod"]),
    ],
)
def test_affected_stacks(changed, expected):
    assert affected_stacks.affected(changed, affected_stacks.all_stacks()) == expected


def test_everything_a_stack_is_built_from_affects_every_stack():
    from infra.components.python_lambda import archive_folders
    from infra.image_context import CONTEXT_DIR, context_files

    built_from = [*context_files(), "image/Dockerfile"]
    built_from += [
        str(path.relative_to(CONTEXT_DIR))
        for package in ("waker", "migrator", "waking_page")
        for folder in archive_folders(package).values()
        for path in folder.rglob("*.py")
    ]
    assert all(path.startswith(affected_stacks.SHARED) for path in built_from), built_from


def test_every_deploy_starts_and_holds_the_database_before_pulumi_up():
    """Regression: `pulumi up` failed on dev while the waker had its database stopped."""
    document = load(ROOT / ".github" / "workflows" / "deploy.yml")
    for name, job in document["jobs"].items():
        runs = [str(s.get("run", "")) + str((s.get("with") or {}).get("command", "")) for s in job["steps"]]
        predeploy = next(i for i, r in enumerate(runs) if r.startswith(f"make predeploy STACK={name}"))
        up = next(i for i, r in enumerate(runs) if r == "up")
        assert predeploy < up, name
