"""The Airflow metadata database: RDS PostgreSQL, private, encrypted, TLS only.

The master password is generated (a Pulumi secret, never in plain text); the connection strings built
from it go into the stack's one Airflow secret (components/secrets.py), which ECS injects by key. A stack
can instead restore the instance from a snapshot (a staging stack rehearsing an upgrade on a copy of prod).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.stack_context import StackContext

DATABASE_NAME = "airflow"
MASTER_USERNAME = "airflow"
RDS_CA = "rds-ca-rsa2048-g1"
LOG_EXPORTS = ("postgresql", "upgrade")


@dataclass(frozen=True)
class DatabaseArgs:
    context: StackContext
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]


def connection_document(username: str, password: str, host: str, port: int, dbname: str) -> str:
    """The JSON kept in the connection secret: RDS's usual keys plus Airflow's sync and async URLs."""
    credentials = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}:{port}/{dbname}"
    return json.dumps(
        {
            "engine": "postgres",
            "username": username,
            "password": password,
            "host": host,
            "port": port,
            "dbname": dbname,
            # rds.force_ssl refuses plain connections; both drivers are told to use TLS.
            "conn": f"postgresql+psycopg2://{credentials}?sslmode=require",
            "conn_async": f"postgresql+asyncpg://{credentials}?ssl=require",
        }
    )


CELERY_RESULTS_ROLE = "airflow_celery_results"  # image/celery_results.py creates and keeps it


def result_backend_url(connection: str, password: str) -> str:
    """Celery's result backend as its own role (rows of Celery's two tables only), on the stack's database."""
    document = json.loads(connection)
    credentials = f"{CELERY_RESULTS_ROLE}:{quote(password, safe='')}@{document['host']}:{document['port']}"
    return f"db+postgresql+psycopg2://{credentials}/{document['dbname']}?sslmode=require"


class Database(pulumi.ComponentResource):
    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:database:Database", name, None, opts)
        context = args.context
        settings = context.settings.database
        child = pulumi.ResourceOptions(parent=self)

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=args.subnet_ids,
            description=f"{context.name} metadata database (isolated subnets)",
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters",
            family=settings.parameter_group_family,
            description=f"{context.name} metadata database: TLS only",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1", apply_method="immediate"),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value="5000", apply_method="immediate"
                ),
            ],
            opts=child,
        )
        password = random.RandomPassword(
            f"{name}-password",
            length=40,
            special=True,
            override_special="-_.~",  # URL-safe, so the connection URL needs no escaping surprises
            opts=child,
        )

        identifier = context.name
        # Each incarnation of the instance leaves its own final snapshot: a fixed name would make the second
        # destroy (or a replacement, e.g. a new restore) fail because the snapshot already exists.
        final_suffix = random.RandomId(
            f"{name}-final-snapshot",
            byte_length=4,
            keepers={"identifier": identifier, "restoreFrom": settings.restore_from_snapshot or ""},
            opts=child,
        )
        # RDS would create its log groups itself, with no retention; create them first, with one.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-log-{log}",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=context.settings.log_retention_days,
                opts=child,
            )
            for log in LOG_EXPORTS
        ]
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            engine_version=settings.engine_version,
            instance_class=settings.instance_class,
            allocated_storage=settings.allocated_storage_gb,
            max_allocated_storage=settings.max_allocated_storage_gb or None,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=None if settings.restore_from_snapshot else DATABASE_NAME,
            username=None if settings.restore_from_snapshot else MASTER_USERNAME,
            password=password.result,
            snapshot_identifier=settings.restore_from_snapshot,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[args.security_group_id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=settings.multi_az,
            ca_cert_identifier=RDS_CA,
            backup_retention_period=settings.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=settings.deletion_protection,
            skip_final_snapshot=not settings.final_snapshot,
            final_snapshot_identifier=final_suffix.hex.apply(lambda h: f"{identifier}-final-{h}")
            if settings.final_snapshot
            else None,
            auto_minor_version_upgrade=True,
            # A change of database.engineVersion is a major upgrade, which RDS refuses without this.
            allow_major_version_upgrade=True,
            apply_immediately=not settings.deletion_protection,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            opts=pulumi.ResourceOptions(parent=self, protect=settings.deletion_protection, depends_on=log_groups),
        )

        # The connection goes into the stack's one Airflow secret (components/secrets.py), never in plain text.
        self.connection = pulumi.Output.secret(
            pulumi.Output.all(password.result, self.instance.address, self.instance.port, self.instance.username).apply(
                lambda v: connection_document(v[3] or MASTER_USERNAME, v[0], v[1], int(v[2]), DATABASE_NAME)
            )
        )

        self.identifier = self.instance.identifier
        self.resource_id = self.instance.resource_id
        self.arn = self.instance.arn
        self.key_arn = self.instance.kms_key_id  # RDS reports the key's ARN (aws/rds unless one is given)
        self.endpoint = self.instance.endpoint
        self.register_outputs(
            {
                "identifier": self.identifier,
                "endpoint": self.endpoint,
            }
        )
