"""One typed, validated settings object per stack, read once from the stack's config.

`load_settings` is pure: it takes the stack name and the raw `namespace:key -> value` config and either
returns `Settings` or raises `SettingsError` naming every wrong key and what it allows. Nothing is
declared before it has succeeded. `read_stack_settings` is the thin adapter over Pulumi's config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from config_schema import (
    InvalidSetting,
    Section,
    SettingsError,
    arn,
    boolean,
    cidr,
    integer,
    list_of,
    one_of,
    string_map,
    text,
)

NAMESPACE = "airflow"
PROJECT = "airflow"

# The Airflow version the image is built at unless a stack says otherwise; pyproject.toml's
# `airflow` dependency group and image/requirements.txt pin the same version (a test checks).
DEFAULT_AIRFLOW_VERSION = "3.3.2"

REGION_PARTITIONS = {"us-gov-east-1": "aws-us-gov", "us-gov-west-1": "aws-us-gov"}

# RDS for PostgreSQL instance classes by family, as sold for PostgreSQL.
_STANDARD_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
DB_INSTANCE_CLASSES: dict[str, tuple[str, ...]] = {
    "db.t3": ("micro", "small", "medium", "large", "xlarge", "2xlarge"),
    "db.t4g": ("micro", "small", "medium", "large", "xlarge", "2xlarge"),
    "db.m5": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "db.m6g": _STANDARD_SIZES,
    "db.m6i": (*_STANDARD_SIZES, "24xlarge", "32xlarge"),
    "db.m7g": _STANDARD_SIZES,
    "db.r5": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "db.r6g": _STANDARD_SIZES,
    "db.r6i": (*_STANDARD_SIZES, "24xlarge", "32xlarge"),
    "db.r7g": _STANDARD_SIZES,
}

POSTGRES_MAJOR_VERSIONS = ("15", "16", "17")

# Fargate task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# FIPS 140 validated TLS policies for the ALB's HTTPS listener.
FIPS_TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker")
Component = Literal["api-server", "scheduler", "dag-processor", "triggerer", "worker"]


@dataclass(frozen=True)
class NetworkSettings:
    vpc_id: str | None  # None: the program creates a VPC
    vpc_cidr: str
    availability_zones: int
    nat_gateway: Literal["none", "single"]
    task_subnet_ids: tuple[str, ...]
    database_subnet_ids: tuple[str, ...]
    load_balancer_subnet_ids: tuple[str, ...]  # existing VPC: public subnets for an internet-facing ALB
    assign_public_ip: bool

    @property
    def creates_vpc(self) -> bool:
        return self.vpc_id is None


@dataclass(frozen=True)
class DatabaseSettings:
    engine_version: str
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    backup_retention_days: int
    deletion_protection: bool
    final_snapshot: bool
    multi_az: bool
    restore_from_snapshot: str | None

    @property
    def parameter_group_family(self) -> str:
        return f"postgres{self.engine_version}"


@dataclass(frozen=True)
class TaskSize:
    cpu: int
    memory_mb: int


@dataclass(frozen=True)
class ServicesSettings:
    sizes: Mapping[str, TaskSize]
    triggerer_enabled: bool
    worker_concurrency: int
    worker_spot: bool
    container_insights: bool
    environment: Mapping[str, str]  # extra, non-secret environment for every component (what DAGs read)
    worker_policy_arns: tuple[str, ...]  # managed policies for what DAG tasks touch (workers, triggerer)

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(c for c in COMPONENTS if c != "triggerer" or self.triggerer_enabled)


@dataclass(frozen=True)
class ImageSettings:
    airflow_version: str
    uri: str | None  # an existing private ECR image instead of building one
    architecture: Literal["arm64", "x86_64"]


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    user_info_endpoint: str
    client_id: str
    scope: str


@dataclass(frozen=True)
class UiSettings:
    load_balancer: bool
    scheme: Literal["internet-facing", "internal"]
    certificate_arn: str | None
    tls_policy: str
    allowed_cidrs: tuple[str, ...]
    host_name: str | None
    oidc: OidcSettings | None
    wake_on_visit: bool  # a visit to a sleeping stack's UI gets the waking page, which wakes it
    visit_hold_minutes: int


@dataclass(frozen=True)
class SecretsSettings:
    fernet_key_secret_arn: str | None  # another stack's Fernet key (staging restored from prod)
    recovery_window_days: int


@dataclass(frozen=True)
class WakeWindow:
    name: str
    cron: str  # EventBridge Scheduler cron expression, e.g. cron(0 8 ? * MON-FRI *)
    timezone: str
    duration_minutes: int


@dataclass(frozen=True)
class WakerSettings:
    idle_minutes: int
    wake_lead_minutes: int
    max_workers: int
    reporter_stale_minutes: int
    boot_grace_minutes: int
    stop_database: bool
    database_start_minutes: int
    database_stop_after_minutes: int
    default_hold_minutes: int
    max_visit_wakes_per_day: int
    windows: tuple[WakeWindow, ...]
    event_queue_arns: tuple[str, ...]
    wake_on_dag_change: bool
    dag_change_hold_minutes: int
    alarm_emails: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    stack: str
    region: str
    partition: str
    network: NetworkSettings
    database: DatabaseSettings
    services: ServicesSettings
    image: ImageSettings
    ui: UiSettings
    secrets: SecretsSettings
    log_retention_days: int
    broker_visibility_timeout_seconds: int
    lambda_runtime: str
    waker: WakerSettings
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Prefix of every physical name in this stack, e.g. `airflow-dev`."""
        return f"{PROJECT}-{self.stack}"


# The top-level keys under the `airflow:` namespace; anything else there is a typo.
TOP_LEVEL_KEYS = (
    "network",
    "database",
    "services",
    "image",
    "ui",
    "secrets",
    "logRetentionDays",
    "brokerVisibilityTimeoutSeconds",
    "lambdaRuntime",
    "tags",
    "uiOidcClientSecret",
    "waker",
)

LAMBDA_RUNTIMES = ("python3.12", "python3.13")

_SUBNET_ID = text(r"subnet-[0-9a-f]{8,17}", "a subnet id like subnet-0123456789abcdef0")
_ECR_IMAGE = text(
    r"\d{12}\.dkr\.ecr\.us-gov-(east|west)-1\.amazonaws\.com/[a-z0-9][a-z0-9._/-]*(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})",
    "a private ECR image in GovCloud, like 123456789012.dkr.ecr.us-gov-east-1.amazonaws.com/airflow:3.3.2",
)
_HTTPS_URL = text(r"https://[^\s/$.?#][^\s]*", "an https:// URL")
_STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,20}")


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
    identifier = text(r"[a-zA-Z][a-zA-Z0-9-]{0,254}", "")
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
                f"must be a snapshot identifier (letters, digits, hyphens; starting with a letter) or a "
                f"snapshot ARN in {partition}, got {value!r}"
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
    settings = ServicesSettings(
        sizes=sizes,
        triggerer_enabled=section.get("triggererEnabled", boolean, True),
        worker_concurrency=section.get("workerConcurrency", integer(1, 64), 8),
        worker_spot=section.get("workerSpot", boolean, False),
        container_insights=section.get("containerInsights", boolean, False),
        environment=section.get("environment", _extra_environment, {}),
        worker_policy_arns=section.get("workerPolicyArns", list_of(_POLICY_ARN_FOR[partition], maximum=10), ()),
    )
    section.reject_unknown()
    return settings


def _extra_environment(value: Any) -> dict[str, str]:
    variables = string_map(value)
    for name in variables:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise InvalidSetting(f"names must be upper-case environment variable names, got {name!r}")
        if name.startswith(("AIRFLOW__", "AWS_", "_AIRFLOW")) or name == "AIRFLOW_CONN_AWS_DEFAULT":
            raise InvalidSetting(f"{name} is set by the stack itself; use other names for your DAGs' settings")
    return variables


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


def _ui(section: Section, partition: str) -> UiSettings:
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
    section.reject_unknown()
    if load_balancer:
        if settings.certificate_arn is None:
            section.fail("certificateArn", "is required with loadBalancer: the listener serves HTTPS only")
        if not settings.allowed_cidrs:
            section.fail("allowedCidrs", "needs at least one CIDR with loadBalancer (who may reach the UI)")
    else:
        for name in ("certificateArn", "oidc", "scheme", "hostName", "wakeOnVisit", "visitHoldMinutes"):
            if section.has(name):
                section.fail(name, "only applies with loadBalancer: true")
    return settings


def _recovery_window(value: Any) -> int:
    try:
        days = integer(0, 30)(value)
    except InvalidSetting:
        days = -1
    if days not in (0, *range(7, 31)):
        raise InvalidSetting(f"must be 0 (delete at once) or 7 to 30 days, got {value!r}")
    return days


def _secrets(section: Section, stack: str, partition: str) -> SecretsSettings:
    settings = SecretsSettings(
        fernet_key_secret_arn=section.get(
            "fernetKeySecretArn",
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


_CRON = text(r"cron\((\S+ ){5}\S+\)", "an EventBridge Scheduler cron expression like cron(0 8 ? * MON-FRI *)")
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
    return f"{PROJECT}-{stack}-window-{window}"


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
                cron=window.get("cron", _CRON, ""),
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


def _waker(section: Section, partition: str, stack: str) -> WakerSettings:
    queue_arn = arn(partition, "sqs", r"[\w-]{1,80}", "arn:{partition}:sqs:us-gov-east-1:123456789012:queue-name")
    section.read.add("windows")
    settings = WakerSettings(
        idle_minutes=section.get("idleMinutes", integer(5, 1440), 15),
        wake_lead_minutes=section.get("wakeLeadMinutes", integer(1, 60), 5),
        max_workers=section.get("maxWorkers", integer(1, 50), 4),
        reporter_stale_minutes=section.get("reporterStaleMinutes", integer(2, 60), 5),
        boot_grace_minutes=section.get("bootGraceMinutes", integer(1, 60), 10),
        stop_database=section.get("stopDatabase", boolean, False),
        database_start_minutes=section.get("databaseStartMinutes", integer(5, 60), 15),
        database_stop_after_minutes=section.get("databaseStopAfterMinutes", integer(30, 10080), 120),
        default_hold_minutes=section.get("defaultHoldMinutes", integer(1, 1440), 60),
        max_visit_wakes_per_day=section.get("maxVisitWakesPerDay", integer(0, 288), 12),
        windows=_windows(section, stack),
        event_queue_arns=section.get("eventQueueArns", list_of(queue_arn, maximum=10), ()),
        wake_on_dag_change=section.get("wakeOnDagChange", boolean, True),
        dag_change_hold_minutes=section.get("dagChangeHoldMinutes", integer(1, 120), 10),
        alarm_emails=section.get("alarmEmails", list_of(_EMAIL, maximum=10), ()),
    )
    section.reject_unknown()
    return settings


def load_settings(stack: str, config: Mapping[str, Any]) -> Settings:
    """Build the stack's settings from raw config (`namespace:key` -> value), or raise SettingsError."""
    problems: list[tuple[str, str]] = []
    if not _STACK_NAME.fullmatch(stack):
        problems.append(
            (
                "stack",
                f"name must be lowercase letters, digits and hyphens (up to 21), starting with a letter; got {stack!r}",
            )
        )

    region = config.get("aws:region")
    if region not in REGION_PARTITIONS:
        problems.append(("aws:region", f"must be one of {', '.join(REGION_PARTITIONS)}; got {region!r}"))
        region = "us-gov-east-1"
    partition = REGION_PARTITIONS[region]

    prefix = f"{NAMESPACE}:"
    for key in sorted(config):
        if key.startswith(prefix) and key[len(prefix) :] not in TOP_LEVEL_KEYS:
            problems.append((key, f"is not a known setting; known: {', '.join(TOP_LEVEL_KEYS)}"))

    def section(name: str) -> Section:
        return Section(prefix + name, config.get(prefix + name), problems)

    root = Section(prefix, {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}, problems)

    ui = _ui(section("ui"), partition)
    if ui.oidc is not None and not root.has("uiOidcClientSecret"):
        problems.append(
            (
                f"{prefix}uiOidcClientSecret",
                "is required with ui.oidc; set it with `pulumi config set --secret uiOidcClientSecret`",
            )
        )

    network = _network(section("network"))
    if ui.oidc is not None and ui.scheme == "internal" and network.creates_vpc and network.nat_gateway == "none":
        problems.append(
            (
                f"{prefix}ui.oidc",
                "an internal load balancer reaches the identity provider only through a NAT gateway: set "
                "network.natGateway: single, or ui.scheme: internet-facing (the load balancer calls the token and "
                "user info endpoints itself)",
            )
        )

    settings = Settings(
        stack=stack,
        region=region,
        partition=partition,
        network=network,
        database=_database(section("database"), stack, partition),
        services=_services(section("services"), partition),
        image=_image(section("image")),
        ui=ui,
        secrets=_secrets(section("secrets"), stack, partition),
        log_retention_days=root.get("logRetentionDays", one_of(*LOG_RETENTION_DAYS), 30),
        broker_visibility_timeout_seconds=root.get("brokerVisibilityTimeoutSeconds", integer(900, 43200), 21600),
        lambda_runtime=root.get("lambdaRuntime", one_of(*LAMBDA_RUNTIMES), "python3.13"),
        waker=_waker(section("waker"), partition, stack),
        tags=root.get("tags", string_map, {}),
    )
    if problems:
        raise SettingsError(problems)
    return settings


def stack_config_from_yaml(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `config:` block of a Pulumi.<stack>.yaml as the engine hands it over: objects as JSON text."""
    config = document.get("config") or {}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            flat[key] = "[secret]"
        elif isinstance(value, (Mapping, list)):
            flat[key] = json.dumps(value)
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    return flat


def read_stack_settings() -> Settings:
    """Read this stack's settings from the Pulumi engine's config (the only place that touches it)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    class StackSettingsError(SettingsError, pulumi.RunError):
        """Reported by `pulumi up` as the message alone, without a Python traceback."""

    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    try:
        return load_settings(pulumi.get_stack(), raw)
    except SettingsError as error:
        raise StackSettingsError(error.problems) from None
