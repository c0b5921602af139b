"""The network and database sections: the VPC the stack creates or joins, and its PostgreSQL."""

from __future__ import annotations

from typing import Any

from infra.settings.model import (
    DB_INSTANCE_CLASSES,
    DEFAULT_MAX_STORAGE_GB,
    POSTGRES_MAJOR_VERSIONS,
    DatabaseSettings,
    NetworkSettings,
)
from infra.settings.schema import (
    InvalidSetting,
    Section,
    arn,
    boolean,
    cidr,
    integer,
    list_of,
    one_of,
    text,
)

_SUBNET_ID = text(r"subnet-[0-9a-f]{8,17}", "a subnet id like subnet-0123456789abcdef0")


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


# What a new VPC carves per zone: a public /22, a private /22 with a NAT gateway, and an isolated /24.
def vpc_addresses_needed(zones: int, nat: str) -> int:
    return zones * (1024 + (1024 if nat == "single" else 0) + 256)


def read_network(section: Section) -> NetworkSettings:
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
        for name in ("natGateway", "vpcCidr", "availabilityZones"):
            if section.has(name):
                section.fail(name, "only applies to a VPC the program creates; remove it with vpcId")
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


def read_database(section: Section, stack: str, partition: str, region_of_stack: str) -> DatabaseSettings:
    protected = stack == "prod"
    settings = DatabaseSettings(
        engine_version=section.get("engineVersion", one_of(*POSTGRES_MAJOR_VERSIONS), "16"),
        instance_class=section.get("instanceClass", _instance_class, "db.t4g.micro"),
        allocated_storage_gb=section.get("allocatedStorageGb", integer(20, 65536), 20),
        max_allocated_storage_gb=section.get("maxAllocatedStorageGb", integer(0, 65536), DEFAULT_MAX_STORAGE_GB),
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
    # RDS refuses a maximum storage threshold less than 10% above the allocated storage ("Invalid max storage
    # size"; https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html).
    least = -(-settings.allocated_storage_gb * 11 // 10)
    if 0 < settings.max_allocated_storage_gb < least:
        section.fail(
            "maxAllocatedStorageGb",
            f"must be 0 (no autoscaling) or at least 10% above allocatedStorageGb ({settings.allocated_storage_gb}): "
            f"{least} or more; got {settings.max_allocated_storage_gb}",
        )
    snapshot = settings.restore_from_snapshot or ""
    if snapshot.startswith("arn:"):
        kind, region = snapshot.split(":")[5], snapshot.split(":")[3]
        if kind == "cluster-snapshot":
            section.fail(
                "restoreFromSnapshot",
                "is an Aurora cluster snapshot; the stack's database is an RDS for PostgreSQL instance: give a DB "
                "snapshot (arn:...:snapshot:<name> or its identifier)",
            )
        elif region != region_of_stack:
            section.fail(
                "restoreFromSnapshot",
                f"is in {region}; RDS restores a snapshot in the stack's own Region ({region_of_stack}): copy it "
                "there first (aws rds copy-db-snapshot) and give the copy",
            )
    return settings
