"""One reader per section of the stack's settings: raw config in, typed settings out, problems named.

Each reader takes a `Section` (which records every wrong key with what it allows) and returns that
section's typed settings; cross-key rules of the section are checked here too. `settings.load_settings`
composes them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from typing import Any

from contracts.stacks import STACK_NAME, stack_prefix
from contracts.waker import schedule_name
from infra.config_schema import (
    InvalidSetting,
    Section,
    arn,
    boolean,
    cidr,
    eventbridge_cron,
    integer,
    list_of,
    one_of,
    string_map,
    text,
)
from infra.settings_model import (
    DB_INSTANCE_CLASSES,
    DEFAULT_AIRFLOW_VERSION,
    FARGATE_MEMORY,
    FIPS_TLS_POLICIES,
    POSTGRES_MAJOR_VERSIONS,
    REGION_PARTITIONS,
    DatabaseSettings,
    ImageSettings,
    NetworkSettings,
    OidcSettings,
    RestoredFrom,
    SecretsSettings,
    ServicesSettings,
    TaskSize,
    UiSettings,
    WakerSettings,
    WakeWindow,
)

LAMBDA_RUNTIMES = ("python3.12", "python3.13")

_SUBNET_ID = text(r"subnet-[0-9a-f]{8,17}", "a subnet id like subnet-0123456789abcdef0")
_ECR_IMAGE = text(
    r"\d{12}\.dkr\.ecr\.us-gov-(east|west)-1\.amazonaws\.com/[a-z0-9][a-z0-9._/-]*(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})",
    "a private ECR image in GovCloud, like 123456789012.dkr.ecr.us-gov-east-1.amazonaws.com/airflow:3.3.2",
)
_HTTPS_URL = text(r"https://[^\s/$.?#][^\s]*", "an https:// URL")


def _instance_class(value: Any) -> str:
    if not isinstance(value, str) or value.count(".") != 2:
        raise InvalidSetting(f"must be an RDS instance class like db.t4g.micro, got {value!r}")
    family, size = value.rsplit(".", 1)
    if family not in DB_INSTANCE_CLASSES:
        raise InvalidSetting(f"family must be one of {', '.join(DB_INSTANCE_CLASSES)}; got {family!r}")
    if size not in DB_INSTANCE_CLASSES[family]:
        raise InvalidSetting(f"{family} has no size {size!r}; allowed: {', '.join(DB_INSTANCE_CLASSES[family])}")
    return value


def _snapshot(partition: str) -> Any:
    # A manual snapshot's identifier, or an automated one's (`rds:<db>-YYYY-MM-DD-HH-MM`, RDS's daily backups).
    identifier = text(r"(rds:)?[a-zA-Z][a-zA-Z0-9-]{0,254}", "")
    snapshot_arn = arn(
        partition,
        "rds",
        r"(snapshot|cluster-snapshot):[a-zA-Z][a-zA-Z0-9:-]{0,254}",
        "arn:{partition}:rds:us-gov-east-1:123456789012:snapshot:name",
    )

    def parse(value: Any) -> str:
        if isinstance(value, str) and value.startswith("arn:"):
            return snapshot_arn(value)
        try:
            return identifier(value)
        except InvalidSetting:
            raise InvalidSetting(
                f"must be a snapshot identifier (letters, digits, hyphens; starting with a letter; `rds:` before "
                f"an automated snapshot's) or a snapshot ARN in {partition}, got {value!r}"
            ) from None

    return parse


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


# What a new VPC carves per zone: a public /22, a private /22 with a NAT gateway, and an isolated /24.
def vpc_addresses_needed(zones: int, nat: str) -> int:
    return zones * (1024 + (1024 if nat == "single" else 0) + 256)


def _network(section: Section) -> NetworkSettings:
    vpc_id = section.get("vpcId", text(r"vpc-[0-9a-f]{8,17}", "a VPC id like vpc-0123456789abcdef0"), None)
    vpc_cidr = section.get("vpcCidr", cidr(), "10.40.0.0/16")
    zones = section.get("availabilityZones", integer(2, 3), 2)
    nat = section.get("natGateway", one_of("none", "single"), "none")
    task_subnets = section.get("taskSubnetIds", list_of(_SUBNET_ID, minimum=1, maximum=16), ())
    db_subnets = section.get("databaseSubnetIds", list_of(_SUBNET_ID, minimum=2, maximum=16), ())
    lb_subnets = section.get("loadBalancerSubnetIds", list_of(_SUBNET_ID, minimum=2, maximum=16), ())
    assign_public_ip = section.get("assignPublicIp", boolean, vpc_id is None and nat == "none")
    section.reject_unknown()
    if vpc_id is None:
        prefix = int(vpc_cidr.split("/")[1])
        needed = vpc_addresses_needed(zones, nat)
        if not 16 <= prefix <= 28:
            section.fail("vpcCidr", f"must be a /16 to /28 block (VPC limits), got /{prefix}")
        elif 2 ** (32 - prefix) < needed:
            smallest = 32 - (needed - 1).bit_length()
            section.fail(
                "vpcCidr",
                f"/{prefix} is too small for {zones} zones of subnets (a /22 public, "
                f"{'a /22 private, ' if nat == 'single' else ''}a /24 isolated each): use /{smallest} or larger",
            )
        for name in ("taskSubnetIds", "databaseSubnetIds", "loadBalancerSubnetIds"):
            if section.has(name):
                section.fail(name, "is only used with an existing VPC: set vpcId too, or remove it")
        if section.has("assignPublicIp") and assign_public_ip != (nat == "none"):
            section.fail("assignPublicIp", "follows natGateway for a new VPC (public IPs only without NAT); remove it")
    else:
        for name in ("taskSubnetIds", "databaseSubnetIds"):
            if not section.has(name):
                section.fail(name, "is required with vpcId (database subnets: at least 2, in 2 zones)")
        if section.has("natGateway"):
            section.fail("natGateway", "only applies to a VPC the program creates; remove it with vpcId")
        if set(task_subnets) & set(db_subnets):
            section.fail(
                "databaseSubnetIds",
                "must not share subnets with taskSubnetIds: the database subnets must have no route from the internet",
            )
        if set(lb_subnets) & set(db_subnets):
            section.fail("loadBalancerSubnetIds", "must not share subnets with databaseSubnetIds")
    return NetworkSettings(
        vpc_id, vpc_cidr, zones, nat, task_subnets, db_subnets, lb_subnets or task_subnets, assign_public_ip
    )


def _database(section: Section, stack: str, partition: str) -> DatabaseSettings:
    protected = stack == "prod"
    settings = DatabaseSettings(
        engine_version=section.get("engineVersion", one_of(*POSTGRES_MAJOR_VERSIONS), "16"),
        instance_class=section.get("instanceClass", _instance_class, "db.t4g.micro"),
        allocated_storage_gb=section.get("allocatedStorageGb", integer(20, 65536), 20),
        max_allocated_storage_gb=section.get("maxAllocatedStorageGb", integer(0, 65536), 100),
        backup_retention_days=section.get("backupRetentionDays", integer(1, 35), 14 if protected else 1),
        deletion_protection=section.get("deletionProtection", boolean, protected),
        final_snapshot=section.get("finalSnapshot", boolean, protected),
        multi_az=section.get("multiAz", boolean, False),
        restore_from_snapshot=section.get("restoreFromSnapshot", _snapshot(partition), None),
    )
    section.reject_unknown()
    if settings.restore_from_snapshot and settings.deletion_protection:
        section.fail(
            "restoreFromSnapshot",
            "restoring replaces the database, and this stack protects it (deletionProtection: true); restore "
            "into a staging stack (airflow-stack stage), or turn deletionProtection off in a separate update first",
        )
    if 0 < settings.max_allocated_storage_gb < settings.allocated_storage_gb:
        section.fail(
            "maxAllocatedStorageGb",
            f"must be 0 (no autoscaling) or at least allocatedStorageGb ({settings.allocated_storage_gb})",
        )
    return settings


def _services(section: Section, partition: str) -> ServicesSettings:
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
    arns = list_of(_POLICY_ARN_FOR[partition], maximum=10)(value)
    for policy_arn in arns:
        name = policy_arn.split(":policy/", 1)[1]
        if policy_arn.split(":")[4] == "aws" and name in ADMINISTRATOR_POLICIES and not allow_administrators:
            raise InvalidSetting(
                f"{policy_arn} makes every task, and every package a DAG imports, an administrator of the account: "
                "attach a policy for what the DAGs touch, or set services.allowAdministratorPolicies: true to do "
                "it deliberately"
            )
    return arns


MAX_TAGS = 50  # per resource (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html)
STACK_TAGS = ("Project", "Stack", "ManagedBy")  # stack_context.stack_tags
RESOURCE_OWN_TAGS = 2  # what a resource may carry of its own (a Name, for one)
_TAG_CHARACTERS = set("_.:/=+-@ ")


def tags(value: Any) -> dict[str, str]:
    """The stack's own tags on top of Project, Stack and ManagedBy: AWS's rules for tag keys and values."""
    given = string_map(value)
    most = MAX_TAGS - len(STACK_TAGS) - RESOURCE_OWN_TAGS
    if len(given) > most:
        raise InvalidSetting(
            f"at most {most} tags: AWS allows {MAX_TAGS} on a resource, and the stack adds {', '.join(STACK_TAGS)} "
            f"and resources a few of their own; got {len(given)}"
        )
    for key, tag_value in given.items():
        if key in STACK_TAGS:
            raise InvalidSetting(f"{key} is the stack's own tag ({', '.join(STACK_TAGS)}); use another key")
        if key.lower().startswith("aws:"):
            raise InvalidSetting(f"tag keys starting with aws: are reserved for AWS, got {key!r}")
        for part in (key, tag_value):
            bad = sorted({c for c in part if not (c.isalnum() or c in _TAG_CHARACTERS)})
            if bad:
                raise InvalidSetting(
                    f"tag {key!r} has characters AWS does not allow ({''.join(bad)!r}): letters, digits, spaces and "
                    "_ . : / = + - @"
                )
    return given


SECRET_WORDS = r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY|ACCESS_KEY"  # noqa: S105 (names, not a secret)


_POLICY_ARN_FOR = {
    partition: arn(partition, "iam", r"policy/[\w+=,.@/-]{1,512}", "arn:{partition}:iam::123456789012:policy/name")
    for partition in set(REGION_PARTITIONS.values())
}


def _image(section: Section) -> ImageSettings:
    settings = ImageSettings(
        airflow_version=section.get(
            "airflowVersion", text(r"3\.\d+\.\d+", "an Airflow 3 release like 3.3.2"), DEFAULT_AIRFLOW_VERSION
        ),
        uri=section.get("uri", _ECR_IMAGE, None),
        architecture=section.get("architecture", one_of("arm64", "x86_64"), "arm64"),
    )
    section.reject_unknown()
    if settings.uri and section.has("airflowVersion"):
        section.fail(
            "airflowVersion", "is the version the program builds; with uri, the image is yours: remove one of them"
        )
    return settings


def _oidc(section: Section) -> OidcSettings | None:
    if not section.raw:
        section.reject_unknown()
        return None
    fields = {
        name: section.get(name, _HTTPS_URL, "")
        for name in ("issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint")
    }
    client_id = section.get("clientId", text(r"\S{1,255}", "the OIDC client id"), "")
    scope = section.get("scope", text(r"[\w:./ -]{1,255}", "space-separated scopes"), "openid")
    section.reject_unknown()
    for name in (*fields, "clientId"):
        if not section.has(name):
            section.fail(name, "is required when oidc is set")
    return OidcSettings(
        fields["issuer"],
        fields["authorizationEndpoint"],
        fields["tokenEndpoint"],
        fields["userInfoEndpoint"],
        client_id,
        scope,
    )


def _ui(section: Section, partition: str, region: str) -> UiSettings:
    load_balancer = section.get("loadBalancer", boolean, False)
    settings = UiSettings(
        load_balancer=load_balancer,
        scheme=section.get("scheme", one_of("internet-facing", "internal"), "internal"),
        certificate_arn=section.get(
            "certificateArn",
            arn(
                partition,
                "acm",
                r"certificate/[0-9a-f-]{36}",
                "arn:{partition}:acm:us-gov-east-1:123456789012:certificate/<uuid>",
            ),
            None,
        ),
        tls_policy=section.get("tlsPolicy", one_of(*FIPS_TLS_POLICIES), FIPS_TLS_POLICIES[0]),
        allowed_cidrs=section.get("allowedCidrs", list_of(cidr(private_only=not load_balancer)), ()),
        host_name=section.get(
            "hostName",
            text(r"(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}", "a DNS name like airflow.example.gov"),
            None,
        ),
        oidc=_oidc(section.section("oidc")),
        wake_on_visit=section.get("wakeOnVisit", boolean, True),
        visit_hold_minutes=section.get("visitHoldMinutes", integer(5, 240), 30),
    )
    anonymous_internet = section.get("publicWithoutLogin", boolean, False)
    section.reject_unknown()
    if load_balancer:
        if settings.certificate_arn is None:
            section.fail("certificateArn", "is required with loadBalancer: the listener serves HTTPS only")
        elif settings.certificate_arn.split(":")[3] != region:
            section.fail(
                "certificateArn",
                f"must be a certificate in {region}, the stack's region (a load balancer uses its own region's "
                f"ACM certificates); got one in {settings.certificate_arn.split(':')[3]}",
            )
        if not settings.allowed_cidrs:
            section.fail("allowedCidrs", "needs at least one CIDR with loadBalancer (who may reach the UI)")
        public = [c for c in settings.allowed_cidrs if not ipaddress.ip_network(c).is_private]
        if settings.scheme == "internet-facing" and settings.oidc is None and public and not anonymous_internet:
            section.fail(
                "allowedCidrs",
                f"admits {', '.join(public)} from the internet with no login in front of the UI (no oidc): add "
                "ui.oidc, narrow the CIDRs, or set ui.publicWithoutLogin: true to accept Airflow's own login alone",
            )
    else:
        for name in (
            "certificateArn",
            "oidc",
            "scheme",
            "hostName",
            "wakeOnVisit",
            "visitHoldMinutes",
            "publicWithoutLogin",
        ):
            if section.has(name):
                section.fail(name, "only applies with loadBalancer: true")
    return settings


def _restored_from(section: Section, partition: str) -> RestoredFrom | None:
    if not section.raw:
        section.reject_unknown()
        return None
    restored = RestoredFrom(
        stack=section.get("stack", text(STACK_NAME.pattern, "the source stack's name"), ""),
        snapshot=section.get("snapshot", text(r"\S{1,255}", "the snapshot's identifier"), ""),
        environment=section.get("environment", string_map, {}),
        worker_policy_arns=section.get("workerPolicyArns", list_of(_POLICY_ARN_FOR[partition], maximum=10), ()),
        event_queue_arns=section.get("eventQueueArns", list_of(_QUEUE_ARN_FOR[partition], maximum=10), ()),
    )
    section.reject_unknown()
    if not restored.stack:
        section.fail("stack", "is required: the stack this one is a copy of")
    return restored


def _recovery_window(value: Any) -> int:
    try:
        days = integer(0, 30)(value)
    except InvalidSetting:
        days = -1
    if days not in (0, *range(7, 31)):
        raise InvalidSetting(f"must be 0 (delete at once) or 7 to 30 days, got {value!r}")
    return days


def _secrets(section: Section, stack: str, partition: str) -> SecretsSettings:
    if section.has("fernetKeySecretArn"):
        section.read.add("fernetKeySecretArn")
        section.fail(
            "fernetKeySecretArn",
            "is no longer read: a role that may read another stack's secret for its Fernet key may read all of it "
            "(IAM grants whole secrets); set secrets.fernetKeyFrom to the source stack's airflowSecretArn instead, "
            "and `pulumi up` copies only its fernet_key into this stack's own secret (airflow-stack stage writes it)",
        )
    settings = SecretsSettings(
        fernet_key_from=section.get(
            "fernetKeyFrom",
            arn(
                partition,
                "secretsmanager",
                r"secret:[\w/+=.@-]+-[A-Za-z0-9]{6}",
                "arn:{partition}:secretsmanager:us-gov-east-1:123456789012:secret:name-AbCdEf",
            ),
            None,
        ),
        recovery_window_days=section.get("recoveryWindowDays", _recovery_window, 30 if stack == "prod" else 0),
    )
    section.reject_unknown()
    return settings


_EMAIL = text(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", "an email address")


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidSetting(f"must be an IANA time zone like America/New_York or UTC, got {value!r}") from None
    return value


# EventBridge Scheduler names are at most 64 characters (botocore model of CreateSchedule); a window's
# schedule is named <stack name>-window-<window name>.
SCHEDULE_NAME_MAX = 64


def window_schedule_name(stack: str, window: str) -> str:
    return schedule_name(stack_prefix(stack), f"window-{window}")


def _windows(section: Section, stack: str) -> tuple[WakeWindow, ...]:
    raw = section.raw.get("windows") or []
    if not isinstance(raw, list) or len(raw) > 20:
        section.fail("windows", "must be a list (up to 20) of {name, cron, timezone, durationMinutes}")
        return ()
    windows = []
    for index, item in enumerate(raw):
        window = Section(f"{section.path('windows')}[{index}]", item, section.problems)
        windows.append(
            WakeWindow(
                name=window.get("name", text(r"[a-z0-9-]{1,40}", "lowercase letters, digits and hyphens"), f"w{index}"),
                cron=window.get("cron", eventbridge_cron, ""),
                timezone=window.get("timezone", _timezone, "UTC"),
                duration_minutes=window.get("durationMinutes", integer(1, 1440), 60),
            )
        )
        if not window.has("cron"):
            window.fail("cron", "is required: when the window opens")
        longest = SCHEDULE_NAME_MAX - len(window_schedule_name(stack, ""))
        if len(windows[-1].name) > longest:
            window.fail(
                "name",
                f"is at most {longest} characters in stack {stack} (its schedule {window_schedule_name(stack, '...')} "
                f"must fit EventBridge Scheduler's 64); got {len(windows[-1].name)}",
            )
        window.reject_unknown()
    names = [w.name for w in windows]
    if len(set(names)) != len(names):
        section.fail("windows", "names must be unique")
    return tuple(windows)


_QUEUE_ARN_FOR = {
    partition: arn(partition, "sqs", r"[\w-]{1,80}", "arn:{partition}:sqs:us-gov-east-1:123456789012:queue-name")
    for partition in set(REGION_PARTITIONS.values())
}


# How each `airflow:waker` setting is read (the key is the field's name in camelCase); every default is the
# dataclass's, and the waker's tuning takes its defaults from the contract (contracts/waker.py).
_WAKER_READERS: dict[str, Callable[[Any], Any]] = {
    "idle_minutes": integer(5, 1440),
    "wake_lead_minutes": integer(1, 60),
    "wake_lead_min_minutes": integer(1, 60),
    "wake_lead_max_minutes": integer(1, 120),
    "scheduled_grace_minutes": integer(1, 60),
    "max_workers": integer(1, 50),
    "reporter_stale_minutes": integer(2, 60),
    "boot_grace_minutes": integer(1, 60),
    "stop_database": boolean,
    "database_start_minutes": integer(5, 60),
    "database_stop_after_minutes": integer(30, 10080),
    "default_hold_minutes": integer(1, 1440),
    "max_visit_wakes_per_day": integer(0, 288),
    "wake_on_dag_change": boolean,
    "dag_change_hold_minutes": integer(1, 120),
    "alarm_emails": list_of(_EMAIL, maximum=10),
    "alarm_topic_key": one_of("none", "customer"),
    "dashboard": boolean,
}
_WAKER_DEFAULTS = {f.name: f.default for f in dataclass_fields(WakerSettings)}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _waker(section: Section, partition: str, stack: str) -> WakerSettings:
    queue_arn = _QUEUE_ARN_FOR[partition]
    section.read.add("windows")
    settings = WakerSettings(
        **{name: section.get(_camel(name), read, _WAKER_DEFAULTS[name]) for name, read in _WAKER_READERS.items()},
        windows=_windows(section, stack),
        event_queue_arns=section.get("eventQueueArns", list_of(queue_arn, maximum=10), ()),
    )
    if settings.wake_lead_min_minutes > settings.wake_lead_max_minutes:
        section.fail(
            "wakeLeadMinMinutes",
            f"must be at most wakeLeadMaxMinutes ({settings.wake_lead_max_minutes}); "
            f"got {settings.wake_lead_min_minutes}",
        )
    section.reject_unknown()
    return settings
