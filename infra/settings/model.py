"""The stack's settings as typed values, and the constants they are checked against (AWS's allowed values)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from contracts.components import COMPONENTS
from contracts.stacks import stack_prefix
from contracts.waker import WakerTuning

NAMESPACE = "airflow"

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

# The database's storage ceiling unless a stack sets database.maxAllocatedStorageGb (0: no autoscaling).
DEFAULT_MAX_STORAGE_GB = 100

# FIPS 140 validated TLS policies for the ALB's HTTPS listener.
FIPS_TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
)


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
    # `airflow-stack ui`: a port forward to the api-server through ECS Exec and Session Manager
    port_forward: bool = False


@dataclass(frozen=True)
class SecretsSettings:
    # The Airflow secret of the stack a snapshot is restored from: `pulumi up` copies its `fernet_key` (and only
    # that) into this stack's own secret, so no role of this stack can read the source's secret.
    fernet_key_from: str | None
    recovery_window_days: int


@dataclass(frozen=True)
class WakeWindow:
    name: str
    cron: str  # EventBridge Scheduler cron expression, e.g. cron(0 8 ? * MON-FRI *)
    timezone: str
    duration_minutes: int


@dataclass(frozen=True, kw_only=True)
class WakerSettings(WakerTuning):
    """The stack file's `airflow:waker`: the waker's tuning (its defaults are the contract's) and what the
    program builds around it."""

    windows: tuple[WakeWindow, ...] = ()
    event_queue_arns: tuple[str, ...] = ()
    wake_on_dag_change: bool = True
    dag_change_hold_minutes: int = 10
    alarm_emails: tuple[str, ...] = ()
    # "customer": the alarm topic is encrypted with its own KMS key ($1 a month, $1 more per yearly rotation;
    # CloudWatch cannot publish to a topic under AWS's aws/sns key). "none": no key (the messages carry alarm
    # names and states only).
    alarm_topic_key: str = "none"
    dashboard: bool = False  # a CloudWatch dashboard ($3 a month beyond an account's first three)


@dataclass(frozen=True)
class RestoredFrom:
    """Written by `airflow-stack stage`: the stack this one is a copy of, and what of the source's it must not
    reach (the plan refuses any of it in this stack's own settings)."""

    stack: str
    snapshot: str
    environment: Mapping[str, str]
    worker_policy_arns: tuple[str, ...]
    event_queue_arns: tuple[str, ...]


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
    restored_from: RestoredFrom | None = None

    @property
    def name(self) -> str:
        """Prefix of every physical name in this stack, e.g. `airflow-dev`."""
        return stack_prefix(self.stack)


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
    "restoredFrom",
)
