"""`airflow-stack preflight --stack S`: read-only checks of the target account before the first `pulumi up`.

Each check prints one line, ok, warn or FAIL, with the fix. Nothing is created or changed: every call is a
read (Describe, Get, List, Simulate). The stack's settings come from Pulumi.<stack>.yaml, and what
`pulumi up` will create comes from the program itself, run offline under Pulumi's mocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airflow_stack import deployer

Level = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Check:
    level: Level
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.level:<4}  {self.name}: {self.detail}" + (f"\n      fix: {self.fix}" if self.fix else "")


LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384"  # Service Quotas code of Lambda's concurrent executions


def lambda_concurrency(lambda_client: Any) -> Check:
    limits = lambda_client.get_account_settings()["AccountLimit"]
    total, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
    detail = f"{total} concurrent executions, {unreserved} unreserved; the stack reserves none (the waker uses a lease)"
    if unreserved < 10:
        return Check(
            "warn",
            "Lambda concurrency",
            detail,
            f"other functions can starve the waker; request more (Service Quotas, Lambda, {LAMBDA_CONCURRENCY_QUOTA})",
        )
    return Check("ok", "Lambda concurrency", detail)


def database_orderable(rds: Any, engine_major: str, instance_class: str, region: str) -> Check:
    options = rds.describe_orderable_db_instance_options(Engine="postgres", DBInstanceClass=instance_class)
    versions = sorted(
        {
            o["EngineVersion"]
            for o in options["OrderableDBInstanceOptions"]
            if o["EngineVersion"].split(".")[0] == engine_major
        },
        key=lambda v: [int(p) if p.isdigit() else 0 for p in v.split(".")],
    )
    if versions:
        return Check(
            "ok", "RDS", f"{instance_class} with PostgreSQL {engine_major} is orderable ({versions[-1]} newest)"
        )
    return Check(
        "FAIL",
        "RDS",
        f"{instance_class} with PostgreSQL {engine_major} is not orderable in {region}",
        "pick database.instanceClass and database.engineVersion from "
        f"`aws rds describe-orderable-db-instance-options --engine postgres --region {region}`",
    )


def certificate(acm: Any, arn: str | None, region: str, now: datetime) -> Check | None:
    if arn is None:
        return None
    if arn.split(":")[3] != region:
        return Check("FAIL", "certificate", f"{arn} is in {arn.split(':')[3]}", f"use a certificate in {region}")
    described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    status = described.get("Status")
    if status != "ISSUED":
        return Check("FAIL", "certificate", f"status {status}", "finish its validation, or import an issued one")
    expires = described.get("NotAfter")
    if expires and expires - now < timedelta(days=30):
        return Check("warn", "certificate", f"expires {expires:%Y-%m-%d}", "renew or replace it soon")
    return Check("ok", "certificate", f"issued, in {region}" + (f", valid until {expires:%Y-%m-%d}" if expires else ""))


SERVICE_LINKED_ROLES = {
    "AWSServiceRoleForECS": "ecs.amazonaws.com",
    "AWSServiceRoleForElasticLoadBalancing": "elasticloadbalancing.amazonaws.com",
}


def service_linked_roles(iam: Any, load_balancer: bool) -> Iterable[Check]:
    for role, service in SERVICE_LINKED_ROLES.items():
        if role.endswith("ElasticLoadBalancing") and not load_balancer:
            continue
        try:
            iam.get_role(RoleName=role)
            yield Check("ok", "service-linked role", role)
        except iam.exceptions.NoSuchEntityException:
            yield Check(
                "warn",
                "service-linked role",
                f"{role} does not exist yet (the service creates it on first use if the deployer may)",
                f"aws iam create-service-linked-role --aws-service-name {service}",
            )


def fargate_architecture(architecture: str, spot: bool) -> Check:
    """X86_64 on FARGATE is documented for GovCloud; ARM64 (tasks and functions) and Fargate Spot are not, and
    no read-only call can tell whether a task would start."""
    unknown = [
        *(["ARM64 tasks and functions (image.architecture: arm64)"] if architecture == "arm64" else []),
        *(["workers on Fargate Spot (services.workerSpot: true)"] if spot else []),
    ]
    if unknown:
        return Check(
            "warn",
            "Fargate",
            f"{' and '.join(unknown)}: documented for commercial Regions, not for GovCloud",
            "after `pulumi up`, `airflow-stack preflight --stack <stack> --probe` starts one short task on each and "
            "says what started; the fallbacks: image.architecture: x86_64, services.workerSpot: false",
        )
    return Check("ok", "Fargate", f"{architecture} on FARGATE (platform LATEST), as documented for GovCloud")


def principal_arn(caller_arn: str) -> str:
    """The IAM role behind an assumed-role session (what SimulatePrincipalPolicy takes)."""
    parts = caller_arn.split(":")
    if parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller_arn


def deployer_permissions(iam: Any, caller_arn: str, target: deployer.Target, resource_types: Iterable[str]) -> Check:
    """Simulate each of the deploying role's grants (airflow_stack/deployer.py: the same declaration the
    generated policy comes from) on the stack's resources, with the request context its conditions read."""
    principal = principal_arn(caller_arn)
    denied: list[str] = []
    needed = 0
    for grant in deployer.grants_for(resource_types):
        actions = sorted(a for a in grant.actions if "*" not in a)
        needed += len(actions)
        resources = target.fill(list(grant.resources))
        context = [
            {"ContextKeyName": key, "ContextKeyValues": [_first(value)], "ContextKeyType": "string"}
            for conditions in target.fill(dict(grant.condition)).values()
            for key, value in conditions.items()
        ]
        answer = iam.simulate_principal_policy(
            PolicySourceArn=principal, ActionNames=actions, ResourceArns=resources, ContextEntries=context
        )
        denied += sorted({r["EvalActionName"] for r in answer["EvaluationResults"] if r["EvalDecision"] != "allowed"})
    if denied:
        return Check(
            "FAIL",
            "deployer",
            f"{principal} may not {len(denied)} of the {needed} actions `pulumi up` needs: {', '.join(denied)}",
            f"attach the policies `airflow-stack deployer-policy --stack {target.stack} --account {target.account}` "
            "writes to the deploying role (the CI role in .github/workflows/deploy.yml too)",
        )
    return Check("ok", "deployer", f"{principal} may do all {needed} actions `pulumi up` needs")


def _first(value: Any) -> str:
    return str(value[0] if isinstance(value, list) else value)


def fernet_key_source(iam: Any, caller_arn: str, source_secret_arn: str) -> Check:
    """A restored stack's `pulumi up` reads the source stack's secret to copy its Fernet key (secrets.fernetKeyFrom)."""
    principal = principal_arn(caller_arn)
    answer = iam.simulate_principal_policy(
        PolicySourceArn=principal, ActionNames=["secretsmanager:GetSecretValue"], ResourceArns=[source_secret_arn]
    )
    if all(r["EvalDecision"] == "allowed" for r in answer["EvaluationResults"]):
        return Check("ok", "Fernet key", f"{principal} may read {source_secret_arn} to copy its Fernet key")
    return Check(
        "FAIL",
        "Fernet key",
        f"{principal} may not secretsmanager:GetSecretValue on {source_secret_arn} (secrets.fernetKeyFrom): "
        "`pulumi up` copies the source's Fernet key from it",
        "grant it to the deploying role for that secret only; no role of the stack itself needs it",
    )


def run(
    client: Callable[[str], Any],
    *,
    settings: Any,
    resource_types: Iterable[str],
    now: datetime | None = None,
) -> list[Check]:
    """Every check, in order; `client(service)` gives a read-only boto3 client in the stack's region."""
    checks: list[Check] = [lambda_concurrency(client("lambda"))]
    checks.append(
        database_orderable(
            client("rds"), settings.database.engine_version, settings.database.instance_class, settings.region
        )
    )
    cert = certificate(client("acm"), settings.ui.certificate_arn, settings.region, now or datetime.now(UTC))
    if cert is not None:
        checks.append(cert)
    checks += service_linked_roles(client("iam"), settings.ui.load_balancer)
    checks.append(fargate_architecture(settings.image.architecture, settings.services.worker_spot))
    identity = client("sts").get_caller_identity()
    caller = identity["Arn"]
    target = deployer.target_of(settings, identity["Account"])
    checks.append(deployer_permissions(client("iam"), caller, target, resource_types))
    if settings.secrets.fernet_key_from:
        checks.append(fernet_key_source(client("iam"), caller, settings.secrets.fernet_key_from))
    return checks
