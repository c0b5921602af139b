"""Stack settings: defaults, the committed stack files, and a table of bad inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.settings import DEFAULT_AIRFLOW_VERSION, load_settings
from infra.settings.schema import SettingsError
from offline.recording import load_stack_file, run_stack

BASE = {"aws:region": "us-gov-east-1"}


def settings_with(**sections: Any) -> dict[str, Any]:
    config = dict(BASE)
    for key, value in sections.items():
        config[f"airflow:{key}"] = json.dumps(value) if isinstance(value, (dict, list)) else value
    return config


def test_defaults_are_small_cheap_and_private():
    settings = load_settings("dev", BASE)
    assert settings.partition == "aws-us-gov"
    assert settings.network.creates_vpc and settings.network.nat_gateway == "none"
    assert settings.network.assign_public_ip is True
    assert settings.database.instance_class == "db.t4g.micro"
    assert settings.database.deletion_protection is False
    assert settings.image.architecture == "x86_64", "what Fargate documents for GovCloud"
    assert settings.image.airflow_version == DEFAULT_AIRFLOW_VERSION
    assert settings.ui.load_balancer is False
    assert settings.services.enabled == ("api-server", "scheduler", "dag-processor", "triggerer", "worker")


def test_a_stack_named_prod_is_protected_by_default():
    settings = load_settings("prod", BASE)
    assert settings.database.deletion_protection and settings.database.final_snapshot
    assert settings.database.backup_retention_days >= 7
    assert settings.secrets.recovery_window_days == 30


def test_committed_stack_files_differ_where_dev_and_prod_should():
    dev = load_settings("dev", load_stack_file("dev"))
    prod = load_settings("prod", load_stack_file("prod"))
    assert dev.region == prod.region == "us-gov-east-1"
    assert dev.database.deletion_protection is False and prod.database.deletion_protection is True
    assert dev.log_retention_days < prod.log_retention_days
    assert dev.database.backup_retention_days < prod.database.backup_retention_days
    assert not dev.services.worker_spot and not prod.services.worker_spot, "Spot is an opt-in after a probe"
    assert dev.image.architecture == prod.image.architecture == "x86_64"
    assert dev.services.sizes["worker"].cpu < prod.services.sizes["worker"].cpu


def test_single_nat_puts_tasks_in_private_subnets_without_public_ips():
    settings = load_settings("dev", settings_with(network={"natGateway": "single"}))
    assert settings.network.assign_public_ip is False
    recording = run_stack("dev", {"airflow:network": json.dumps({"natGateway": "single"})})
    vpc = recording.one("awsx:ec2:Vpc").inputs
    assert vpc["natGateways"]["strategy"] == "Single"
    service = recording.one("aws:ecs/service:Service", "airflow-worker-service").inputs
    assert service["networkConfiguration"]["assignPublicIp"] is False
    assert all(s.startswith("subnet-priv") for s in service["networkConfiguration"]["subnets"])


CERT_ARN = "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"

BAD_INPUTS = [
    # (config, key named in the error, words of what is allowed)
    ({"aws:region": "us-east-1"}, "aws:region", "us-gov-east-1"),
    (settings_with(databse={}), "airflow:databse", "not a known setting"),
    (
        settings_with(database={"instanceClass": "db.t4g.mega"}),
        "airflow:database.instanceClass",
        "db.t4g has no size 'mega'",
    ),
    (settings_with(database={"instanceClass": "db.z9.large"}), "airflow:database.instanceClass", "family"),
    (settings_with(database={"instanceClass": 5}), "airflow:database.instanceClass", "db.t4g.micro"),
    (settings_with(database={"allocatedStorageGb": 10}), "airflow:database.allocatedStorageGb", "20 to 65536"),
    (settings_with(database={"allocatedStorageGb": "lots"}), "airflow:database.allocatedStorageGb", "whole number"),
    (settings_with(database={"engineVersion": "12"}), "airflow:database.engineVersion", "15, 16, 17"),
    (settings_with(database={"deletionProtection": "yes"}), "airflow:database.deletionProtection", "true or false"),
    (
        settings_with(database={"restoreFromSnapshot": "arn:aws:rds:us-east-1:123456789012:snapshot:x"}),
        "airflow:database.restoreFromSnapshot",
        "aws-us-gov",
    ),
    (
        settings_with(database={"restoreFromSnapshot": "1-bad id"}),
        "airflow:database.restoreFromSnapshot",
        "snapshot identifier",
    ),
    (
        settings_with(database={"maxAllocatedStorageGb": 30, "allocatedStorageGb": 50}),
        "airflow:database.maxAllocatedStorageGb",
        "at least 10% above allocatedStorageGb",
    ),
    (settings_with(database={"sizeGb": 20}), "airflow:database.sizeGb", "known here"),
    (settings_with(network={"vpcCidr": "10.0.0.0/33"}), "airflow:network.vpcCidr", "CIDR"),
    (settings_with(network={"vpcCidr": "10.0.0.1/16"}), "airflow:network.vpcCidr", "CIDR"),
    (settings_with(network={"natGateway": "per-az"}), "airflow:network.natGateway", "none, single"),
    (settings_with(network={"availabilityZones": 6}), "airflow:network.availabilityZones", "2 to 3"),
    (settings_with(network={"vpcId": "vpc-0a1b2c3d4e5f60718"}), "airflow:network.taskSubnetIds", "required"),
    (
        settings_with(
            network={
                "vpcId": "vpc-0a1b2c3d4e5f60718",
                "taskSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1"],
                "databaseSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1"],
            }
        ),
        "airflow:network.databaseSubnetIds",
        "2 to 16",
    ),
    (
        settings_with(
            network={
                "vpcId": "vpc-0a1b2c3d4e5f60718",
                "taskSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1"],
                "databaseSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb1"],
            }
        ),
        "airflow:network.databaseSubnetIds",
        "no route from the internet",
    ),
    (settings_with(network={"taskSubnetIds": ["sub-1"]}), "airflow:network.taskSubnetIds", "subnet id"),
    (settings_with(network={"vpcId": "my-vpc"}), "airflow:network.vpcId", "vpc-"),
    (settings_with(services={"worker": {"cpu": 300}}), "airflow:services.worker.cpu", "256, 512"),
    (
        settings_with(services={"worker": {"cpu": 256, "memoryMb": 4096}}),
        "airflow:services.worker.memoryMb",
        "512, 1024, 2048",
    ),
    (
        settings_with(services={"worker": {"cpu": 1024, "memoryMb": 1024}}),
        "airflow:services.worker.memoryMb",
        "2048 to 8192 in steps of 1024",
    ),
    (settings_with(services={"workerConcurrency": 0}), "airflow:services.workerConcurrency", "1 to 64"),
    (settings_with(services={"webserver": {}}), "airflow:services.webserver", "known here"),
    (settings_with(image={"architecture": "arm"}), "airflow:image.architecture", "arm64, x86_64"),
    (settings_with(image={"airflowVersion": "2.10.5"}), "airflow:image.airflowVersion", "Airflow 3"),
    (settings_with(image={"uri": "public.ecr.aws/airflow:3"}), "airflow:image.uri", "private ECR"),
    (
        settings_with(ui={"loadBalancer": True, "allowedCidrs": ["0.0.0.0/0"]}),
        "airflow:ui.certificateArn",
        "required with loadBalancer",
    ),
    (
        settings_with(
            ui={
                "loadBalancer": True,
                "certificateArn": "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/"
                "11111111-2222-3333-4444-555555555555",
            }
        ),
        "airflow:ui.allowedCidrs",
        "at least one",
    ),
    (
        settings_with(
            ui={
                "loadBalancer": True,
                "certificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
                "allowedCidrs": ["10.0.0.0/8"],
            }
        ),
        "airflow:ui.certificateArn",
        "arn:aws-us-gov:acm",
    ),
    (settings_with(ui={"allowedCidrs": ["0.0.0.0/0"]}), "airflow:ui.allowedCidrs", "private range"),
    (settings_with(ui={"tlsPolicy": "ELBSecurityPolicy-2016-08"}), "airflow:ui.tlsPolicy", "FIPS"),
    (settings_with(ui={"oidc": {"issuer": "https://x"}}), "airflow:ui.oidc.clientId", "required"),
    (
        settings_with(secrets={"fernetKeyFrom": "prod-fernet"}),
        "airflow:secrets.fernetKeyFrom",
        "arn:aws-us-gov:secretsmanager",
    ),
    (
        settings_with(secrets={"fernetKeySecretArn": "arn:aws-us-gov:secretsmanager:us-gov-east-1:1:secret:x-AbCdEf"}),
        "airflow:secrets.fernetKeySecretArn",
        "secrets.fernetKeyFrom",
    ),
    (settings_with(secrets={"recoveryWindowDays": 3}), "airflow:secrets.recoveryWindowDays", "7 to 30"),
    (settings_with(logRetentionDays=10), "airflow:logRetentionDays", "14"),
    (settings_with(brokerVisibilityTimeoutSeconds=60), "airflow:brokerVisibilityTimeoutSeconds", "900 to 43200"),
    (settings_with(lambdaRuntime="python2.7"), "airflow:lambdaRuntime", "python3.13"),
    (settings_with(tags=["a"]), "airflow:tags", "map of tag names"),
    (settings_with(database="db.t4g.micro"), "airflow:database", "object of settings"),
    # Found by trying the program as a new user would (issue 12).
    ({**BASE, "airflow:uiOidcClientSecret": "hunter2"}, "airflow:uiOidcClientSecret", "--secret"),
    (settings_with(waker={"windows": [{"cron": "cron(0 8 * *)"}]}), "airflow:waker.windows[0].cron", "6 fields"),
    (settings_with(waker={"windows": [{"cron": "cron(0 25 ? * MON *)"}]}), "airflow:waker.windows[0].cron", "0-23"),
    (settings_with(waker={"windows": [{"cron": "cron(0 8 * * MON *)"}]}), "airflow:waker.windows[0].cron", "?"),
    (settings_with(waker={"windows": [{"cron": "rate(1 hour)"}]}), "airflow:waker.windows[0].cron", "cron("),
    (
        settings_with(waker={"windows": [{"cron": "cron(0 8 ? * MON *)", "timezone": "Mars/Olympus"}]}),
        "airflow:waker.windows[0].timezone",
        "IANA time zone",
    ),
    (
        settings_with(
            waker={
                "windows": [{"name": "a", "cron": "cron(0 8 ? * MON *)"}, {"name": "a", "cron": "cron(0 9 ? * MON *)"}]
            }
        ),
        "airflow:waker.windows",
        "unique",
    ),
    (settings_with(network={"vpcCidr": "10.0.0.0/12"}), "airflow:network.vpcCidr", "/16 to /28"),
    (settings_with(network={"vpcCidr": "10.0.0.0/28"}), "airflow:network.vpcCidr", "too small"),
    (settings_with(network={"vpcCidr": "10.0.0.0/22"}), "airflow:network.vpcCidr", "use /20 or larger"),
    (settings_with(ui={"allowedCidrs": ["10.0.0.0/8", "10.0.0.0/8"]}), "airflow:ui.allowedCidrs", "repeat"),
    (
        settings_with(
            network={
                "vpcId": "vpc-0a1b2c3d4e5f60718",
                "taskSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa1"],
                "databaseSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
            }
        ),
        "airflow:network.taskSubnetIds",
        "repeat",
    ),
    (
        settings_with(
            ui={
                "loadBalancer": True,
                "certificateArn": "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/"
                "11111111-2222-3333-4444-555555555555",
                "allowedCidrs": ["10.0.0.0/8"],
            }
        ),
        "airflow:ui.certificateArn",
        "us-gov-east-1",
    ),
    ({**BASE, "airfow:database": "{}"}, "airfow:database", "unknown namespace"),
    ({**BASE, "database": "{}"}, "database", "no namespace"),
    (
        settings_with(services={"environment": {"AIRFLOW_CONN_WAREHOUSE": "postgres://u:p@h/db"}}),
        "airflow:services.environment",
        "Secrets Manager",
    ),
    (
        settings_with(services={"environment": {"DB_PASSWORD": "x"}}),
        "airflow:services.environment",
        "looks like a secret",
    ),
    (settings_with(services={"environment": {"lake": "x"}}), "airflow:services.environment", "upper-case"),
    (settings_with(services={"environment": {"AWS_PROFILE": "x"}}), "airflow:services.environment", "set by the stack"),
    (
        settings_with(
            ui={
                "loadBalancer": True,
                "scheme": "internet-facing",
                "certificateArn": CERT_ARN,
                "allowedCidrs": ["0.0.0.0/0"],
            }
        ),
        "airflow:ui.allowedCidrs",
        "publicWithoutLogin",
    ),
    (
        {
            **settings_with(
                ui={
                    "loadBalancer": True,
                    "certificateArn": CERT_ARN,
                    "allowedCidrs": ["10.0.0.0/8"],
                    "oidc": {
                        "issuer": "https://login.example.gov",
                        "authorizationEndpoint": "https://login.example.gov/a",
                        "tokenEndpoint": "https://login.example.gov/t",
                        "userInfoEndpoint": "https://login.example.gov/u",
                        "clientId": "airflow",
                    },
                }
            ),
            "airflow:uiOidcClientSecret": "[secret]",
        },
        "airflow:ui.oidc",
        "NAT gateway",
    ),
    (settings_with(ui={"wakeOnVisit": False}), "airflow:ui.wakeOnVisit", "only applies with loadBalancer"),
    (
        settings_with(
            ui={
                "loadBalancer": True,
                "certificateArn": CERT_ARN,
                "allowedCidrs": ["10.0.0.0/8"],
                "visitHoldMinutes": 1,
            }
        ),
        "airflow:ui.visitHoldMinutes",
        "5 to 240",
    ),
    (
        settings_with(
            ui={
                "loadBalancer": True,
                "certificateArn": CERT_ARN,
                "allowedCidrs": ["10.0.0.0/8"],
                "hostName": "Airflow_UI",
            }
        ),
        "airflow:ui.hostName",
        "DNS name",
    ),
    (
        settings_with(
            image={"uri": "123456789012.dkr.ecr.us-gov-east-1.amazonaws.com/airflow:3.3.2", "airflowVersion": "3.3.2"}
        ),
        "airflow:image.airflowVersion",
        "remove one of them",
    ),
    (settings_with(waker={"idleMinutes": 0}), "airflow:waker.idleMinutes", "5 to 1440"),
    (settings_with(waker={"maxWorkers": 100}), "airflow:waker.maxWorkers", "1 to 50"),
    (settings_with(waker={"alarmEmails": ["ops"]}), "airflow:waker.alarmEmails", "email address"),
    (
        settings_with(waker={"eventQueueArns": ["arn:aws:sqs:us-east-1:123456789012:q"]}),
        "airflow:waker.eventQueueArns",
        "arn:aws-us-gov:sqs",
    ),
    (
        settings_with(services={"workerPolicyArns": ["AmazonS3ReadOnlyAccess"]}),
        "airflow:services.workerPolicyArns",
        "arn:aws-us-gov:iam",
    ),
    (
        settings_with(restoredFrom={"stack": "dev", "snapshot": "s"}, database={"restoreFromSnapshot": "s"}),
        "airflow:restoredFrom.stack",
        "this stack itself",
    ),
    (
        settings_with(restoredFrom={"stack": "prod", "snapshot": "s"}),
        "airflow:database.restoreFromSnapshot",
        "required with restoredFrom",
    ),
    (
        settings_with(
            restoredFrom={"stack": "prod", "snapshot": "s", "environment": {"LAKE": "prod-lake"}},
            database={"restoreFromSnapshot": "s"},
            services={"environment": {"LAKE": "prod-lake"}},
        ),
        "airflow:services.environment",
        "prod's values",
    ),
    (
        settings_with(restoredFrom={"snapshot": "s"}, database={"restoreFromSnapshot": "s"}),
        "airflow:restoredFrom.stack",
        "required",
    ),
]


@pytest.mark.parametrize(("config", "key", "allowed"), BAD_INPUTS, ids=[c[1] for c in BAD_INPUTS])
def test_bad_settings_are_rejected_naming_the_key(config, key, allowed):
    with pytest.raises(SettingsError) as raised:
        load_settings("dev", config)
    keys = [k for k, _ in raised.value.problems]
    assert key in keys, raised.value
    message = str(raised.value)
    line = next(line for line in message.splitlines() if line.strip().startswith(f"{key}:"))
    assert allowed in line, line


def test_there_are_at_least_sixty_bad_settings_in_the_table():
    assert len(BAD_INPUTS) >= 60


def test_an_aws_managed_policy_is_a_valid_worker_policy():
    """Regression: `arn:aws-us-gov:iam::aws:policy/...` (AWS-managed, account `aws`) was refused."""
    managed = "arn:aws-us-gov:iam::aws:policy/AmazonS3ReadOnlyAccess"
    settings = load_settings("dev", settings_with(services={"workerPolicyArns": [managed]}))
    assert settings.services.worker_policy_arns == (managed,)


def test_every_problem_is_reported_at_once():
    config = settings_with(database={"instanceClass": "db.t4g.mega", "allocatedStorageGb": 1}, logRetentionDays=10)
    with pytest.raises(SettingsError) as raised:
        load_settings("dev", config)
    assert len(raised.value.problems) == 3


def test_bad_stack_name_is_rejected():
    with pytest.raises(SettingsError, match="stack: name must be lowercase"):
        load_settings("Prod_1", BASE)


def test_a_bad_setting_stops_the_program_before_any_resource(monkeypatch):
    from offline import recording as offline

    recorded = []
    original = offline.RecordingMonitor.RegisterResource

    def spy(self, request):
        recorded.append(request.type)
        return original(self, request)

    monkeypatch.setattr(offline.RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(SettingsError, match=r"airflow:database\.instanceClass"):
        run_stack("dev", {"airflow:database": json.dumps({"instanceClass": "db.t4g.mega"})})
    assert [t for t in recorded if t != "pulumi:pulumi:Stack"] == [], "nothing may be declared first"
