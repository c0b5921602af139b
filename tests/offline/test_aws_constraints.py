"""What AWS would refuse, caught here: every committed stack and variant passes AWS's documented constraints,
and each rule catches the declaration it is there for (the defects found by reading the program as AWS does).

Each rule in offline/constraints/ cites the AWS page it comes from.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from infra.settings import load_settings, stack_config_from_yaml
from infra.settings.schema import SettingsError
from offline.constraints.model import operation_problems
from offline.constraints.requests import request_problem
from offline.constraints.resources import resource_problems
from offline.recording import Recording
from tests.support.variants import OIDC


def messages(recording: Recording) -> list[str]:
    return [str(p) for p in resource_problems(recording)]


def changed(recording: Recording, name: str, **fields) -> Recording:
    """The recording with one resource's fields replaced (what an older or broken program declared)."""
    resources = [dataclasses.replace(r, **fields) if r.name == name else r for r in recording.resources]
    return Recording(recording.stack, resources, recording.exports)


def test_every_variant_passes(recording: Recording):
    assert messages(recording) == []


def test_a_spot_worker_must_wait_for_the_capacity_providers(recordings):
    opted = recordings["existing-vpc-oidc"]
    service = opted.one("aws:ecs/service:Service", "airflow-worker-service")
    assert service.inputs.get("capacityProviderStrategies"), "this variant runs its workers on Fargate Spot"
    before = changed(opted, service.name, dependencies=[d for d in service.dependencies if "Capacity" not in d])
    assert any("capacity providers" in m for m in messages(before))


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ([{"capacityProvider": "FARGATE_SPOT", "weight": 1}], "without a base of one task on FARGATE"),
        ([{"capacityProvider": "FARGATE", "base": 1, "weight": 0}], "weight above 0"),
        (
            [{"capacityProvider": "FARGATE", "base": 1, "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "base": 1}],
            "only one provider may have a base",
        ),
    ],
)
def test_a_strategy_aws_refuses_or_one_without_fallback_is_caught(recordings, strategy, expected):
    opted = recordings["existing-vpc-oidc"]
    service = opted.one("aws:ecs/service:Service", "airflow-worker-service")
    broken = changed(opted, service.name, inputs={**service.inputs, "capacityProviderStrategies": strategy})
    assert any(expected in m for m in messages(broken)), messages(broken)


def test_a_strategy_naming_a_provider_the_cluster_lacks_is_caught(recordings):
    opted = recordings["existing-vpc-oidc"]
    capacity = opted.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    broken = changed(opted, capacity.name, inputs={**capacity.inputs, "capacityProviders": ["FARGATE"]})
    assert any("FARGATE_SPOT is not associated with the cluster" in m for m in messages(broken))


def test_a_service_behind_the_load_balancer_must_wait_for_its_listener(recordings):
    prod = recordings["prod"]
    service = prod.one("aws:ecs/service:Service", "airflow-api-server-service")
    before = changed(prod, service.name, dependencies=[d for d in service.dependencies if "Listener" not in d])
    assert any("listener" in m for m in messages(before))


def test_oidc_needs_https_out_to_the_identity_provider(recordings):
    recording = recordings["existing-vpc-oidc"]
    without = Recording(
        recording.stack, [r for r in recording.resources if r.name != "network-lb-to-idp"], recording.exports
    )
    assert any("identity provider" in m for m in messages(without))


def test_schedule_names_are_at_most_64_characters(recordings):
    prod = recordings["prod"]
    window = prod.one("aws:scheduler/schedule:Schedule", "waker-window-office-hours")
    long = changed(prod, window.name, inputs={**window.inputs, "name": "airflow-prod-window-" + "x" * 45})
    assert any("Name must be at most 64 characters" in m for m in messages(long))


def test_a_role_path_iam_would_refuse_is_caught(recordings):
    """IAM's path is `/` or `/.../` of printable ASCII (botocore's model of CreateRole): the stack's roles carry
    `/airflow-<stack>/`, which the deploying role's policy is limited to."""
    dev = recordings["dev"]
    role = dev.of_type("aws:iam/role:Role")[0]
    assert role.inputs["path"] == "/airflow-dev/" and not messages(dev)
    bare = changed(dev, role.name, inputs={**role.inputs, "path": "airflow-dev"})
    assert any("Path must match" in m for m in messages(bare))


def test_a_window_name_too_long_for_its_schedule_is_refused_by_the_settings():
    config = stack_config_from_yaml(
        {
            "config": {
                "aws:region": "us-gov-east-1",
                "airflow:waker": {"windows": [{"name": "x" * 40, "cron": "cron(0 8 ? * MON-FRI *)"}]},
            }
        }
    )
    with pytest.raises(SettingsError) as error:
        load_settings("staging-blue-rehearse", config)  # the longest stack name allowed: 21 characters
    assert "windows[0].name" in str(error.value) and "at most 27 characters" in str(error.value)


def test_an_internal_load_balancer_with_oidc_needs_a_nat_gateway():
    ui = {
        "loadBalancer": True,
        "scheme": "internal",
        "certificateArn": "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/"
        "11111111-2222-3333-4444-555555555555",
        "allowedCidrs": ["10.0.0.0/8"],
        "oidc": OIDC,
    }
    config = {"aws:region": "us-gov-east-1", "airflow:ui": json.dumps(ui), "airflow:uiOidcClientSecret": "[secret]"}
    with pytest.raises(SettingsError) as error:
        load_settings("dev", config)
    assert "airflow:ui.oidc" in str(error.value) and "natGateway: single" in str(error.value)
    config["airflow:network"] = json.dumps({"natGateway": "single"})
    assert load_settings("dev", config).ui.oidc is not None


def test_container_rules_that_no_model_encodes(recordings):
    dev = recordings["dev"]
    scheduler = dev.one("aws:ecs/taskDefinition:TaskDefinition", "airflow-scheduler-task")
    containers = json.loads(scheduler.inputs["containerDefinitions"])
    containers[1]["stopTimeout"] = 300
    containers[0]["essential"] = True  # the wait-for-migrations container, which the scheduler waits to SUCCEED
    broken = changed(dev, scheduler.name, inputs={**scheduler.inputs, "containerDefinitions": json.dumps(containers)})
    found = messages(broken)
    assert any("at most 120 seconds on Fargate" in m for m in found)
    assert any("SUCCESS can't be set on an essential container" in m for m in found)


def test_load_balancer_names_and_lambda_environment_limits(recordings):
    prod = recordings["prod"]
    group = prod.one("aws:lb/targetGroup:TargetGroup", "ui-api-server")
    long_name = changed(prod, group.name, inputs={**group.inputs, "name": "airflow-production-west-api-server"})
    assert any("up to 32" in m for m in messages(long_name))
    waker = prod.one("aws:lambda/function:Function", "waker-function")
    variables = {**waker.inputs["environment"]["variables"], "EXTRA": "x" * 4096}
    big = changed(prod, waker.name, inputs={**waker.inputs, "environment": {"variables": variables}})
    assert any("4 KB" in m for m in messages(big))


def test_a_modify_rule_that_drops_the_client_secret_is_refused():
    """Regression: the waker sent the rule's authenticate-oidc action back without ClientSecret or
    UseExistingClientSecret; ModifyRule refuses that, and every tick failed before saving its state."""
    oidc = {
        "Issuer": "https://login.example.gov",
        "AuthorizationEndpoint": "https://login.example.gov/authorize",
        "TokenEndpoint": "https://login.example.gov/token",
        "UserInfoEndpoint": "https://login.example.gov/userinfo",
        "ClientId": "airflow",
    }
    old = {"RuleArn": "arn", "Actions": [{"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": oidc}]}
    assert "UseExistingClientSecret" in (request_problem("elasticloadbalancing", "ModifyRule", old) or "")
    kept = {**oidc, "UseExistingClientSecret": True}
    fixed = {"RuleArn": "arn", "Actions": [{"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": kept}]}
    assert request_problem("elasticloadbalancing", "ModifyRule", fixed) is None
    conditions = {"RuleArn": "arn", "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}]}
    assert request_problem("elasticloadbalancing", "ModifyRule", conditions) is None


def test_the_migration_waits_for_the_secret_values_and_its_roles_policies(recordings):
    """Regression: the migration task could start before its secrets had values or before its execution role
    could read them."""
    for recording in recordings.values():
        invocation = recording.one("aws:lambda/invocation:Invocation")
        for version in recording.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
            assert recording.depends_on(invocation, version.urn), version.name
        for name in ("airflow-migration-task-execution", "airflow-migration-runner"):
            assert recording.depends_on(invocation, recording.one("aws:iam/rolePolicy:RolePolicy", name).urn), name


def test_the_offline_plan_refuses_what_aws_would_refuse(tmp_path, monkeypatch, capsys):
    from offline import plan

    prod = plan.run_stack("prod")
    group = prod.one("aws:lb/targetGroup:TargetGroup", "ui-api-server")
    broken = changed(prod, group.name, inputs={**group.inputs, "name": "x" * 40})
    monkeypatch.setattr(plan, "run_stack", lambda stack: broken)
    assert plan.main(["prod"]) == 3
    assert "AWS would refuse 1 declaration" in capsys.readouterr().err


def test_model_patterns_that_leave_out_govcloud_are_read_partition_aware():
    """EventBridge Scheduler's model writes Target.RoleArn's partition as `aws(-[a-z]+)?`, which `aws-us-gov`
    does not match; the service runs in GovCloud and takes its role ARNs. Found when the waker, run by the
    stand-in with its declared role, moved its one-time wake."""
    target = {"Arn": "arn:aws-us-gov:lambda:us-gov-east-1:123456789012:function:f"}
    good = {**target, "RoleArn": "arn:aws-us-gov:iam::123456789012:role/airflow-dev-scheduler"}
    bad = {**target, "RoleArn": "arn:aws-us-gov:iam::123456789012:user/someone"}
    assert operation_problems("scheduler", "UpdateSchedule", {"Target": good}) == []
    assert operation_problems("scheduler", "UpdateSchedule", {"Target": bad})


def test_protection_off_and_a_restore_in_one_change_is_refused_with_the_two_steps():
    """Regression: a protected prod-dr stack rewritten with deletionProtection false and a restore in one
    change; only AWS's own deletion protection stood in the way."""
    from infra.settings import change_problems

    base = {"aws:region": "us-gov-east-1"}
    protected = load_settings("prod-dr", {**base, "airflow:database": json.dumps({"deletionProtection": True})})
    flipped = load_settings(
        "prod-dr",
        {**base, "airflow:database": json.dumps({"deletionProtection": False, "restoreFromSnapshot": "snap-1"})},
    )
    problems = change_problems(protected, flipped)
    assert problems and "in a change of its own" in problems[0][1]
    unprotected = load_settings("prod-dr", {**base, "airflow:database": json.dumps({"deletionProtection": False})})
    assert change_problems(unprotected, flipped) == [], "the second step is allowed"


def test_a_task_definition_over_ecs_size_limit_is_caught_before_any_resource():
    """Regression: 400 long DAG settings were accepted; every container of every component carries them, and
    ECS refuses a task definition over 64 KiB."""
    from offline.recording import run_stack

    many = {f"ORDERS_SETTING_{i}": "v" * 150 for i in range(400)}
    recording = run_stack("dev", {"airflow:services": json.dumps({"environment": many})})
    found = [m for m in messages(recording) if "over ECS's 64 KiB" in m]
    assert found and "airflow:services.environment" in found[0]
    few = run_stack("dev", {"airflow:services": json.dumps({"environment": dict(list(many.items())[:5])})})
    assert messages(few) == []
