"""Declarations that would have broken the first day in GovCloud, each as the program now declares it."""

from __future__ import annotations

import json

from offline.recording import Recording, run_stack

TASK = "aws:ecs/taskDefinition:TaskDefinition"


def environment(recording: Recording, component: str, container: str | None = None) -> dict[str, str]:
    definition = recording.one(TASK, f"airflow-{component}-task")
    containers = json.loads(definition.inputs["containerDefinitions"])
    main = next(c for c in containers if c["name"] == (container or component))
    return {e["name"]: e["value"] for e in main["environment"]}


def test_a_stopped_worker_shuts_down_warm(recording: Recording):
    """Regression: without DUMB_INIT_SETSID=0 the official image's dumb-init sends SIGTERM to every process,
    so Celery's pool children die with their tasks instead of finishing them (the official docker-compose
    sets it for its worker: https://airflow.apache.org/docs/apache-airflow/stable/docker-compose.yaml)."""
    worker = environment(recording, "worker")
    assert worker["DUMB_INIT_SETSID"] == "0"
    assert "DUMB_INIT_SETSID" not in environment(recording, "scheduler")
    stop_timeout = next(
        c["stopTimeout"]
        for c in json.loads(recording.one(TASK, "airflow-worker-task").inputs["containerDefinitions"])
        if c["name"] == "worker"
    )
    assert stop_timeout == 120, "Fargate's longest: time for running tasks to finish"


def test_workers_of_the_built_image_protect_themselves_while_they_hold_a_task(recordings):
    dev = recordings["dev"]
    worker = environment(dev, "worker")
    assert worker["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == "worker_protection.CELERY_CONFIG"
    assert worker["AIRFLOW_WORKER_PROTECTION_MINUTES"] == "360"  # the broker's visibility timeout
    policy = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", "airflow-worker-task").inputs["policy"])
    protection = next(s for s in policy["Statement"] if "ecs:UpdateTaskProtection" in s["Action"])
    assert protection["Resource"] == ["arn:aws-us-gov:ecs:us-gov-east-1:123456789012:task/airflow-dev/*"]
    settings = json.loads(
        dev.one("aws:lambda/function:Function", "waker-function").inputs["environment"]["variables"]["WAKER_SETTINGS"]
    )
    assert settings["scale_in_protection"] is True
    # A stack's own image may not carry the module: no such configuration, and no partial scale-in.
    own = run_stack(
        "dev",
        {"airflow:image": json.dumps({"uri": "123456789012.dkr.ecr.us-gov-east-1.amazonaws.com/airflow:3.3.2"})},
    )
    assert "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS" not in environment(own, "worker")
    own_settings = json.loads(
        own.one("aws:lambda/function:Function", "waker-function").inputs["environment"]["variables"]["WAKER_SETTINGS"]
    )
    assert own_settings["scale_in_protection"] is False


def test_queued_tasks_wait_longer_than_a_cold_start(recordings):
    """Regression: Celery's task_queued_timeout (600 s) is shorter than a wake with the database stopped plus
    a worker's start; the scheduler failed tasks that were only waiting for their worker."""
    dev = recordings["dev"]
    settings = json.loads(
        dev.one("aws:lambda/function:Function", "waker-function").inputs["environment"]["variables"]["WAKER_SETTINGS"]
    )
    timeout = int(environment(dev, "scheduler")["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"])
    cold_start = 60 * (settings["database_start_minutes"] + 2 * settings["boot_grace_minutes"])
    assert settings["stop_database"] and timeout > cold_start > 600


def test_the_waker_judges_broker_messages_by_the_schedulers_own_queued_timeout(recordings):
    """One figure: the waker parks a broker message as stale past the timeout the scheduler fails tasks by."""
    for recording in recordings.values():
        variables = recording.one("aws:lambda/function:Function", "waker-function").inputs["environment"]["variables"]
        waker = json.loads(variables["WAKER_SETTINGS"])["task_queued_timeout_seconds"]
        assert waker == int(environment(recording, "scheduler")["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"])


def test_the_api_server_reaches_the_triggerers_log_server(recordings):
    """Regression: live logs of deferred tasks are served by the triggerer on 8794, which no rule admitted."""
    dev = recordings["dev"]
    dev.one("aws:ec2/securityGroup:SecurityGroup", "network-triggerer")
    triggerer_group, api_group = "network-triggerer-id", "network-api-server-id"  # the mocks' resource ids
    rule = dev.one(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "network-triggerer-logs-from-api"
    ).inputs
    assert rule["fromPort"] == rule["toPort"] == 8794
    assert rule["securityGroupId"] == triggerer_group and rule["referencedSecurityGroupId"] == api_group
    service = dev.one("aws:ecs/service:Service", "airflow-triggerer-service")
    assert triggerer_group in service.inputs["networkConfiguration"]["securityGroups"]


def test_operators_get_one_policy_scoped_to_the_stack(recordings):
    prod = recordings["prod"]
    policy = prod.one("aws:iam/policy:Policy", "operators-policy")
    assert policy.inputs["name"] == "airflow-prod-operator"
    assert prod.exports["operatorPolicyArn"] == policy.outputs["arn"]
    document = json.loads(policy.inputs["policy"])
    resources = [r for s in document["Statement"] for r in s["Resource"]]
    assert "*" not in resources
    assert "arn:aws-us-gov:lambda:us-gov-east-1:123456789012:function:airflow-prod-waker" in resources


def test_a_new_database_runs_the_migration_and_the_guard_again(recordings):
    """Regression: the migration (and the restore guard in it) ran only when its task definition changed, so a
    database replaced from the same snapshot was never guarded. The invocation carries the database's identity."""
    for key in ("dev", "restore"):
        recording = recordings[key]
        invocation = json.loads(recording.one("aws:lambda/invocation:Invocation").inputs["input"])
        instance = recording.one("aws:rds/instance:Instance")
        assert invocation["databaseId"] == instance.outputs["resourceId"]
        runner = recording.one("aws:lambda/function:Function", "airflow-migration-runner").inputs
        assert runner["environment"]["variables"]["RESTORED"] == ("true" if key == "restore" else "")
    restored = recordings["restore"]
    policy = json.loads(restored.one("aws:iam/rolePolicy:RolePolicy", "airflow-migration-runner").inputs["policy"])
    invoke = next(s for s in policy["Statement"] if s["Action"] == ["lambda:InvokeFunction"])
    assert invoke["Resource"] == ["arn:aws-us-gov:lambda:us-gov-east-1:123456789012:function:airflow-dev-waker"]


def test_deploys_roll_forward(recordings):
    """A circuit-breaker rollback after a migration starts the old image against the new schema
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html): none."""
    for recording in recordings.values():
        for service in recording.of_type("aws:ecs/service:Service"):
            breaker = service.inputs["deploymentCircuitBreaker"]
            assert breaker == {"enable": True, "rollback": False}, service.name
