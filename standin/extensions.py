"""Read-only AWS APIs the stand-in adds to moto, for the preflight check and the rehearsal.

- `iam:SimulatePrincipalPolicy`, answered by the same evaluator that enforces IAM here
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html).
- `lambda:GetAccountSettings`, answering the account's concurrency as `STANDIN_LAMBDA_CONCURRENCY` sets it
  (default 1000, AWS's usual quota; new accounts may get 10)
  (https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html).
- ECS running counts from the rehearsal's actuator (moto keeps its own at 0): a JSON file
  `STANDIN_ECS_RUNNING` of service name -> running tasks, read when services are described.
- How one-off tasks (RunTask) end. moto walks a task on to STOPPED by itself over a few describes; ECS keeps it
  RUNNING until its essential container exits (or StopTask). Here a task stays RUNNING until a JSON file
  `STANDIN_ECS_STOPPED` of task ARN -> its essential container's name, exit code and the stop reason says how it
  ended (ECS's `lastStatus` STOPPED and the container's `exitCode`:
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Container.html).
- `ecs:UpdateTaskProtection` and `ecs:GetTaskProtection`, which moto lacks, kept in memory
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateTaskProtection.html).
- `ecs:RunTask` that cannot place a task where `STANDIN_ECS_UNPLACEABLE` says (comma-separated capacity
  providers, CPU architectures or `provider/architecture` pairs), answering as ECS does: no task, and a
  failure whose reason is Fargate's "Capacity is unavailable at this time"
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html, `failures`).
- `ecs:CreateService` keeping a capacity provider strategy, which moto drops, so DescribeServices shows it.
- `rds:DescribeOrderableDBInstanceOptions` for PostgreSQL, which moto answers with nothing: every instance class
  the settings accept, at one minor version per major, except the classes `STANDIN_RDS_NOT_ORDERABLE` names.
"""

from __future__ import annotations

import json
import os
from typing import Any

from standin.iam_policy import evaluate
from standin.identity import role_policies


def _simulate_principal_policy(self: Any) -> Any:
    from moto.core.responses import ActionResult

    query = self.querystring

    def members(name: str) -> list[str]:
        """A query-protocol list: Name.member.1, Name.member.2, ... in order."""
        prefix = f"{name}.member."
        numbered = {int(k[len(prefix) :]): v[0] for k, v in query.items() if k.startswith(prefix)}
        return [numbered[i] for i in sorted(numbered)]

    source = query["PolicySourceArn"][0]
    actions = members("ActionNames")
    resources = members("ResourceArns") or ["*"]
    account = source.split(":")[4]
    partition = source.split(":")[1]
    kind, _, name = source.split(":", 5)[5].partition("/")
    policies = role_policies(account, partition, name.rsplit("/", 1)[-1]) if kind == "role" else []
    results = []
    context: dict[str, Any] = {}  # ContextEntries.member.N.ContextKeyName / .ContextKeyValues.member.M
    for index in range(1, 100):
        key = query.get(f"ContextEntries.member.{index}.ContextKeyName")
        if not key:
            break
        values = members(f"ContextEntries.member.{index}.ContextKeyValues")
        context[key[0]] = values[0] if len(values) == 1 else values
    for action in actions:
        for resource in resources:
            verdict = evaluate(policies, action, resource, context)
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": "allowed" if verdict.allowed else "implicitDeny",
                    "MatchedStatements": [],
                    "MissingContextValues": [],
                }
            )
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def _get_account_settings(self: Any) -> Any:
    limit = int(os.environ.get("STANDIN_LAMBDA_CONCURRENCY", "1000"))
    body = {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    }
    return 200, {"content-type": "application/json"}, json.dumps(body)


STANDIN_POSTGRES_VERSIONS = ("15.10", "16.6", "17.2")


def _describe_orderable(self: Any) -> Any:
    from moto.core.responses import ActionResult

    from infra.settings import DB_INSTANCE_CLASSES

    wanted_class = self._get_param("DBInstanceClass")
    excluded = set(filter(None, os.environ.get("STANDIN_RDS_NOT_ORDERABLE", "").split(",")))
    options = [
        {"Engine": "postgres", "EngineVersion": version, "DBInstanceClass": f"{family}.{size}", "StorageType": "gp3"}
        for family, sizes in DB_INSTANCE_CLASSES.items()
        for size in sizes
        for version in STANDIN_POSTGRES_VERSIONS
        if f"{family}.{size}" not in excluded and wanted_class in (None, f"{family}.{size}")
    ]
    return ActionResult({"OrderableDBInstanceOptions": options})


_PROTECTION: dict[str, dict[str, Any]] = {}


def _update_task_protection(self: Any) -> Any:
    from datetime import UTC, datetime, timedelta

    from moto.core.responses import ActionResult

    enabled = bool(self._get_param("protectionEnabled"))
    minutes = int(self._get_param("expiresInMinutes") or 120)
    protected = []
    for task in self._get_param("tasks") or []:
        until = datetime.now(UTC) + timedelta(minutes=minutes)
        _PROTECTION[task] = {
            "taskArn": task,
            "protectionEnabled": enabled,
            **({"expirationDate": until} if enabled else {}),
        }
        protected.append(_PROTECTION[task])
    return ActionResult({"protectedTasks": protected, "failures": []})


def _get_task_protection(self: Any) -> Any:
    from moto.core.responses import ActionResult

    tasks = self._get_param("tasks") or list(_PROTECTION)
    found = [_PROTECTION.get(t, {"taskArn": t, "protectionEnabled": False}) for t in tasks]
    return ActionResult({"protectedTasks": found, "failures": []})


def _with_running_counts(describe: Any) -> Any:
    def describe_services(self: Any, cluster_str: str, names: list[str]) -> Any:
        services, failures = describe(self, cluster_str, names)
        path = os.environ.get("STANDIN_ECS_RUNNING")
        if path and os.path.exists(path):
            with open(path) as handle:
                running = json.load(handle)
            for service in services:
                service.running_count = int(running.get(service.name, 0))
                service.pending_count = max(0, service.desired_count - service.running_count)
        return services, failures

    return describe_services


def _with_one_off_outcomes(describe: Any) -> Any:
    def describe_tasks(self: Any, cluster_str: str, tasks: list[str]) -> Any:
        found = describe(self, cluster_str, tasks)
        path = os.environ.get("STANDIN_ECS_STOPPED")
        outcomes = {}
        if path and os.path.exists(path):
            with open(path) as handle:
                outcomes = json.load(handle)
        for task in found:
            outcome = outcomes.get(task.task_arn)
            if outcome is None:
                # moto walks every task on to STOPPED over a few describes, as if its containers had exited by
                # themselves; ECS keeps a task RUNNING until they do, or until StopTask.
                if task.desired_status == "RUNNING":
                    task.last_status = "RUNNING"
                continue
            task.last_status = task.desired_status = "STOPPED"
            task.stopped_reason = outcome.get("reason", "Essential container in task exited")
            container = task.containers[0]
            container.name, container.exitCode = outcome["container"], outcome["exitCode"]
            container.last_status = "STOPPED"
        return found

    return describe_tasks


UNAVAILABLE = "Capacity is unavailable at this time. Please try again later or in a different availability zone"


def _placing_where_possible(run_task: Any) -> Any:
    def placing(self: Any) -> Any:
        from moto.core.responses import ActionResult

        unplaceable = set(filter(None, os.environ.get("STANDIN_ECS_UNPLACEABLE", "").split(",")))
        strategy = self._get_param("capacityProviderStrategy") or []
        provider = strategy[0]["capacityProvider"] if strategy else self._get_param("launchType") or "FARGATE"
        definition = self.ecs_backend.describe_task_definition(self._get_param("taskDefinition"))
        architecture = (definition.runtime_platform or {}).get("cpuArchitecture", "X86_64")
        if unplaceable & {provider, architecture, f"{provider}/{architecture}"}:
            return ActionResult({"tasks": [], "failures": [{"arn": definition.arn, "reason": UNAVAILABLE}]})
        return run_task(self)

    return placing


def _keeping_strategies(create_service: Any) -> Any:
    """moto drops a service's capacity provider strategy and calls it EC2; ECS keeps and describes it."""

    def create(self: Any) -> Any:
        result = create_service(self)
        strategy = self._get_param("capacityProviderStrategy")
        if strategy:
            service = self.ecs_backend.describe_services(self._get_param("cluster"), [self._get_param("serviceName")])
            for found in service[0]:
                found.capacity_provider_strategy = strategy
                found.launch_type = None
        return result

    return create


def install() -> None:
    from moto.awslambda import urls as lambda_urls
    from moto.awslambda.responses import LambdaResponse
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.iam.responses import IamResponse
    from moto.rds.responses import RDSResponse

    IamResponse.simulate_principal_policy = _simulate_principal_policy  # type: ignore[attr-defined]
    LambdaResponse.get_account_settings = _get_account_settings  # type: ignore[attr-defined]
    RDSResponse.describe_orderable_db_instance_options = _describe_orderable  # type: ignore[method-assign]
    EC2ContainerServiceResponse.update_task_protection = _update_task_protection  # type: ignore[attr-defined]
    EC2ContainerServiceResponse.get_task_protection = _get_task_protection  # type: ignore[attr-defined]
    EC2ContainerServiceResponse.run_task = _placing_where_possible(EC2ContainerServiceResponse.run_task)  # type: ignore[method-assign]
    EC2ContainerServiceResponse.create_service = _keeping_strategies(EC2ContainerServiceResponse.create_service)  # type: ignore[method-assign]
    EC2ContainerServiceBackend.describe_tasks = _with_one_off_outcomes(EC2ContainerServiceBackend.describe_tasks)  # type: ignore[method-assign]
    EC2ContainerServiceBackend.describe_services = _with_running_counts(EC2ContainerServiceBackend.describe_services)  # type: ignore[method-assign]
    lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch
