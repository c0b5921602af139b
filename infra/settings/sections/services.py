"""The services and image sections: task sizes, the DAGs' environment and worker policies, the image."""

from __future__ import annotations

import re
from typing import Any

from infra.settings.model import (
    DEFAULT_AIRFLOW_VERSION,
    FARGATE_MEMORY,
    REGION_PARTITIONS,
    ImageSettings,
    ServicesSettings,
    TaskSize,
)
from infra.settings.schema import (
    InvalidSetting,
    Section,
    arn,
    boolean,
    integer,
    list_of,
    one_of,
    string_map,
    text,
)

LAMBDA_RUNTIMES = ("python3.12", "python3.13")

_ECR_IMAGE = text(
    r"\d{12}\.dkr\.ecr\.us-gov-(east|west)-1\.amazonaws\.com/[a-z0-9][a-z0-9._/-]*(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})",
    "a private ECR image in GovCloud, like 123456789012.dkr.ecr.us-gov-east-1.amazonaws.com/airflow:3.3.2",
)


def _task_size(section: Section, default: TaskSize) -> TaskSize:
    cpu = section.get("cpu", one_of(*FARGATE_MEMORY), default.cpu)
    memory = section.get("memoryMb", integer(512, 122880), default.memory_mb)
    section.reject_unknown()
    if cpu in FARGATE_MEMORY and memory not in FARGATE_MEMORY[cpu]:
        allowed = FARGATE_MEMORY[cpu]
        choices = (
            ", ".join(map(str, allowed))
            if len(allowed) < 5
            else f"{allowed[0]} to {allowed[-1]} in steps of {allowed[1] - allowed[0]}"
        )
        section.fail("memoryMb", f"with cpu {cpu} Fargate allows {choices}; got {memory}")
    return TaskSize(cpu, memory)


DEFAULT_SIZES = {
    "api-server": TaskSize(1024, 2048),
    "scheduler": TaskSize(512, 2048),
    "dag-processor": TaskSize(512, 2048),
    "triggerer": TaskSize(256, 1024),
    "worker": TaskSize(1024, 4096),
}

_COMPONENT_KEYS = {
    "api-server": "apiServer",
    "scheduler": "scheduler",
    "dag-processor": "dagProcessor",
    "triggerer": "triggerer",
    "worker": "worker",
}


def read_services(section: Section, partition: str) -> ServicesSettings:
    sizes = {
        component: _task_size(section.section(key), DEFAULT_SIZES[component])
        for component, key in _COMPONENT_KEYS.items()
    }
    allowed_names = frozenset(section.get("allowEnvironmentNames", list_of(_environment_name, maximum=20), ()))
    allow_administrators = section.get("allowAdministratorPolicies", boolean, False)
    settings = ServicesSettings(
        sizes=sizes,
        triggerer_enabled=section.get("triggererEnabled", boolean, True),
        worker_concurrency=section.get("workerConcurrency", integer(1, 64), 8),
        worker_spot=section.get("workerSpot", boolean, False),
        container_insights=section.get("containerInsights", boolean, False),
        environment=section.get("environment", lambda v: _extra_environment(v, allowed_names), {}),
        worker_policy_arns=section.get(
            "workerPolicyArns", lambda v: _worker_policies(v, partition, allow_administrators), ()
        ),
    )
    section.reject_unknown()
    return settings


# Names that change how every process of the stack loads code or reaches the network: set by mistake (or by
# someone who may edit the stack file but not the image), they run other code or send traffic elsewhere.
CODE_AND_ROUTING_NAMES = frozenset(
    {
        "PATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "PYTHONINSPECT",
        "PYTHONBREAKPOINT",
        "PYTHONEXECUTABLE",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "FTP_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
    }
)

# Values that carry a credential: a URL with a password in it, an AWS access key id, a private key.
_CREDENTIAL_VALUES = (
    (re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a URL with a password in it"),
    (re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
)

STACK_OWNED_PREFIXES = ("AIRFLOW__", "AWS_", "_AIRFLOW", "DUMB_INIT_", "ECS_")


def _environment_name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
        raise InvalidSetting(f"must be upper-case environment variable names, got {value!r}")
    return value


def _extra_environment(value: Any, allowed_names: frozenset[str] = frozenset()) -> dict[str, str]:
    variables = string_map(value)
    for name, setting in variables.items():
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise InvalidSetting(f"names must be upper-case environment variable names, got {name!r}")
        if (
            name.startswith(("AIRFLOW__", "AWS_", "_AIRFLOW", "DUMB_INIT_", "ECS_"))
            or name == "AIRFLOW_CONN_AWS_DEFAULT"
        ):
            raise InvalidSetting(f"{name} is set by the stack itself; use other names for your DAGs' settings")
        if name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_")) or re.search(SECRET_WORDS, name):
            raise InvalidSetting(
                f"{name} looks like a secret, and this setting is stored and shown in plain text (state, task "
                "definitions): keep it in Secrets Manager as a connection or variable of the stack's secrets "
                "backend (<stack name>/connections/<id>, <stack name>/variables/<key>)"
            )
        if name in CODE_AND_ROUTING_NAMES and name not in allowed_names:
            raise InvalidSetting(
                f"{name} changes how every process of the stack loads code or routes traffic; to set it "
                f"deliberately, also list it in services.allowEnvironmentNames"
            )
        for pattern, what in _CREDENTIAL_VALUES:
            if pattern.search(setting):
                raise InvalidSetting(
                    f"{name}'s value carries a credential ({what}), and this setting is stored and shown in plain "
                    "text: keep it in Secrets Manager as a connection of the stack's secrets backend "
                    "(<stack name>/connections/<id>)"
                )
    return variables


# AWS-managed policies that make whoever holds them an administrator of the account (or of its IAM): on the
# worker, every task and every package a DAG imports would hold them.
ADMINISTRATOR_POLICIES = frozenset(
    {
        "AdministratorAccess",
        "AdministratorAccess-Amplify",
        "AdministratorAccess-AWSElasticBeanstalk",
        "PowerUserAccess",
        "IAMFullAccess",
        "AWSOrganizationsFullAccess",
        "job-function/SystemAdministrator",
        "job-function/NetworkAdministrator",
        "job-function/DatabaseAdministrator",
    }
)


def _worker_policies(value: Any, partition: str, allow_administrators: bool) -> tuple[str, ...]:
    arns = list_of(POLICY_ARN_FOR[partition], maximum=10)(value)
    for policy_arn in arns:
        name = policy_arn.split(":policy/", 1)[1]
        if policy_arn.split(":")[4] == "aws" and name in ADMINISTRATOR_POLICIES and not allow_administrators:
            raise InvalidSetting(
                f"{policy_arn} makes every task, and every package a DAG imports, an administrator of the account: "
                "attach a policy for what the DAGs touch, or set services.allowAdministratorPolicies: true to do "
                "it deliberately"
            )
    return arns


SECRET_WORDS = r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY|ACCESS_KEY"  # noqa: S105 (names, not a secret)

POLICY_ARN_FOR = {
    partition: arn(partition, "iam", r"policy/[\w+=,.@/-]{1,512}", "arn:{partition}:iam::123456789012:policy/name")
    for partition in set(REGION_PARTITIONS.values())
}


def read_image(section: Section) -> ImageSettings:
    settings = ImageSettings(
        airflow_version=section.get(
            "airflowVersion", text(r"3\.\d+\.\d+", "an Airflow 3 release like 3.3.2"), DEFAULT_AIRFLOW_VERSION
        ),
        uri=section.get("uri", _ECR_IMAGE, None),
        # X86_64 is what Fargate documents in GovCloud; ARM64 is an opt-in `preflight --probe` can prove.
        architecture=section.get("architecture", one_of("arm64", "x86_64"), "x86_64"),
    )
    section.reject_unknown()
    if settings.uri and section.has("airflowVersion"):
        section.fail(
            "airflowVersion", "is the version the program builds; with uri, the image is yours: remove one of them"
        )
    return settings
