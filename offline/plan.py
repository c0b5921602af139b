"""Offline plan: what `pulumi up -s STACK` would create, with the settings that matter.

Runs the real program under Pulumi's mocks with the stack's settings (no AWS account, no Pulumi CLI)
and prints every resource it declares, then checks them against AWS's documented constraints
(offline/constraints.py; exit 3 if AWS would refuse any).
Usage: `uv run python -m offline.plan dev` (or `make plan STACK=dev`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from infra.settings.schema import SettingsError
from offline.constraints.resources import resource_problems
from offline.plan_summary import summary
from offline.recording import RecordedResource, Recording, run_stack

Summary = Callable[[dict[str, Any]], str]


def _strategy(strategy: list[dict[str, Any]] | None) -> str:
    """`FARGATE base 1 + FARGATE_SPOT weight 1`, or "" for a service with a launch type."""
    return " + ".join(
        f"{s['capacityProvider']}" + (f" base {s['base']}" if s.get("base") else "") + f" weight {s.get('weight', 0)}"
        for s in strategy or []
    )


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _n(value: Any) -> Any:
    """Numbers come back from the engine as floats; show whole ones as integers."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _rule(i: dict[str, Any]) -> str:
    source = i.get("cidrIpv4") or f"sg {i.get('referencedSecurityGroupId')}"
    return f"tcp/{_n(i.get('fromPort'))} {source}: {i.get('description', '')}"


def _containers(i: dict[str, Any]) -> str:
    containers = json.loads(i.get("containerDefinitions") or "[]")
    names = ", ".join(c["name"] for c in containers)
    secrets = sum(len(c.get("secrets", [])) for c in containers if c.get("essential", True))
    return (
        f"{i.get('cpu')} CPU / {i.get('memory')} MiB, {i['runtimePlatform']['cpuArchitecture']}; "
        f"containers {names}; {secrets} secrets by ARN"
    )


NAT_STRATEGIES = {
    "None": "no NAT gateway (tasks reach AWS over the internet gateway with public IPs)",
    "Single": "one NAT gateway for all zones",
    "OnePerAz": "a NAT gateway in each zone",
}


def _listener(i: dict[str, Any]) -> str:
    """Port, TLS policy and what the listener does with a request by default."""
    steps = []
    for action in sorted(i.get("defaultActions", []), key=lambda a: a.get("order", 0)):
        kind = action.get("type")
        if kind == "redirect":
            redirect = action.get("redirect", {})
            steps.append(
                f"redirect to {redirect.get('protocol')}:{redirect.get('port')} ({redirect.get('statusCode')})"
            )
        elif kind == "authenticate-oidc":
            steps.append(f"sign in with OIDC ({action.get('authenticateOidc', {}).get('issuer')})")
        elif kind == "forward":
            steps.append("forward to the api-server")
        elif kind == "fixed-response":
            steps.append(f"answer {action.get('fixedResponse', {}).get('statusCode')}")
        else:
            steps.append(str(kind))
    head = f"{i.get('protocol')}:{_n(i.get('port'))} {i.get('sslPolicy') or ''}".strip()
    return f"{head}: {', then '.join(steps)}" if steps else head


SUMMARIES: dict[str, Summary] = {
    "awsx:ec2:Vpc": lambda i: (
        f"new VPC with its subnets, route tables and internet gateway: {i.get('cidrBlock')}, "
        f"{_n(i.get('numberOfAvailabilityZones'))} zones, "
        f"{NAT_STRATEGIES.get(str(i.get('natGateways', {}).get('strategy')), i.get('natGateways'))}, subnets "
        f"{'/'.join(s['type'] for s in i.get('subnetSpecs', []))}"
    ),
    "awsx:ecr:Image": lambda i: (
        f"docker build of {i.get('dockerfile', '').rsplit('/', 2)[-2]}/Dockerfile for "
        f"{i.get('platform')}, AIRFLOW_VERSION {i.get('args', {}).get('AIRFLOW_VERSION')}, "
        f"pushed to the stack's ECR repository"
    ),
    "aws:rds/instance:Instance": lambda i: (
        f"{i.get('engine')} {i.get('engineVersion')} {i.get('instanceClass')}, {_n(i.get('allocatedStorage'))} GB "
        f"{i.get('storageType')}, encrypted {_yes(i.get('storageEncrypted'))}, public "
        f"{_yes(i.get('publiclyAccessible'))}, multi-AZ {_yes(i.get('multiAz'))}, deletion protection "
        f"{_yes(i.get('deletionProtection'))}, final snapshot {_yes(not i.get('skipFinalSnapshot'))}, backups "
        f"{_n(i.get('backupRetentionPeriod'))} d"
        + (f", restored from {i['snapshotIdentifier']}" if i.get("snapshotIdentifier") else "")
    ),
    "aws:rds/parameterGroup:ParameterGroup": lambda i: ", ".join(
        f"{p['name']}={p['value']}" for p in i.get("parameters", [])
    ),
    "aws:ecs/service:Service": lambda i: (
        f"desired {int(i.get('desiredCount', 0))}, "
        f"{_strategy(i.get('capacityProviderStrategies')) or i.get('launchType')}, public IP "
        f"{_yes(i.get('networkConfiguration', {}).get('assignPublicIp'))}"
        + (", behind the load balancer" if i.get("loadBalancers") else "")
        + (", ECS Exec on (airflow-stack ui)" if i.get("enableExecuteCommand") else "")
    ),
    "aws:ecs/taskDefinition:TaskDefinition": _containers,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rule,
    "aws:cloudwatch/logGroup:LogGroup": lambda i: f"{i.get('name')}, retention {_n(i.get('retentionInDays'))} d",
    "aws:sqs/queue:Queue": lambda i: (
        f"{i.get('name')}, SSE {_yes(i.get('sqsManagedSseEnabled'))}, visibility "
        f"{_n(i.get('visibilityTimeoutSeconds', 30))} s"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": lambda i: i["versioningConfiguration"]["status"],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": lambda i: i["rules"][0][
        "applyServerSideEncryptionByDefault"
    ]["sseAlgorithm"],
    "aws:lb/loadBalancer:LoadBalancer": lambda i: "internal" if i.get("internal") else "internet-facing",
    "aws:lb/listener:Listener": _listener,
    "aws:lambda/function:Function": lambda i: (
        f"{i.get('runtime')}, {'/'.join(i.get('architectures') or ['x86_64'])}, "
        f"memory {_n(i.get('memorySize', 128))} MB, timeout {_n(i.get('timeout', 3))} s"
    ),
    "aws:secretsmanager/secret:Secret": lambda i: f"recovery window {_n(i.get('recoveryWindowInDays'))} d",
    "aws:ecs/cluster:Cluster": lambda i: f"{i.get('name')}",
}


def describe(resource: RecordedResource) -> str:
    summary = SUMMARIES.get(resource.type)
    text = summary(resource.inputs) if summary else ""
    flags = [f"ignores {', '.join(resource.ignore_changes)}"] if resource.ignore_changes else []
    if resource.protect:
        flags.append("protected")
    return "; ".join(p for p in (text, *flags) if p)


def render(recording: Recording) -> str:
    # Custom resources, and the awsx components (which create their own children when deployed).
    custom = [
        r
        for r in recording.resources
        if (r.custom or r.type.startswith("awsx:")) and not r.type.startswith("pulumi:providers:")
    ]
    lines = [
        f"Offline plan for stack '{recording.stack}': {len(custom)} resources "
        f"(no AWS account or Pulumi CLI used; IDs and ARNs come from the mocks)",
        "",
        summary(recording),
    ]
    groups: dict[str, list[RecordedResource]] = {}
    for resource in custom:
        component = recording.top_level_component(resource)
        groups.setdefault(f"{component.name} ({component.type})" if component else "stack", []).append(resource)
    for group, members in sorted(groups.items()):
        lines += ["", group]
        for resource in sorted(members, key=lambda r: (r.type, r.name)):
            short_type = resource.type.split(":")[-1]
            detail = describe(resource)
            lines.append(f"  {short_type:<34} {resource.name}" + (f"\n  {'':<34}   {detail}" if detail else ""))
    lines += ["", f"Resources by type ({len(custom)}):"]
    for type_, count in sorted(Counter(r.type for r in custom).items()):
        lines.append(f"  {count:>3}  {type_}")
    lines += ["", "Stack outputs (values from the mocks):"]
    for key, value in recording.exports.items():
        lines.append(f"  {key}: {json.dumps(value) if not isinstance(value, str) else value}")
    return "\n".join(lines)


def check_change(stack: str, ref: str) -> None:
    """SettingsError when the stack's file, against its version at `ref`, changes what one update must not."""
    import subprocess

    from infra.settings import change_problems, load_settings, read_stack_file, stack_config_from_yaml
    from offline.recording import PROJECT_DIR, load_stack_file

    shown = subprocess.run(
        ["git", "show", f"{ref}:Pulumi.{stack}.yaml"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        return  # a new stack: nothing to compare
    try:
        previous = load_settings(
            stack, stack_config_from_yaml(read_stack_file(shown.stdout, f"{ref}:Pulumi.{stack}.yaml"))
        )
    except SettingsError:
        return  # the previous version was invalid: the current one is checked on its own
    problems = change_problems(previous, load_settings(stack, load_stack_file(stack)))
    if problems:
        raise SettingsError(problems)


# Values a stack file ships with that are no one's real resource: the account AWS's documentation uses, an
# all-zero certificate id, an angle-bracket blank.
PLACEHOLDERS = (
    re.compile(r"\b123456789012\b"),
    re.compile(r"00000000-0000-0000-0000-000000000000"),
    re.compile(r"<[^<>]+>"),
)


def placeholder_lines(stack: str) -> list[str]:
    """Each line of Pulumi.<stack>.yaml (comments aside) that still holds a placeholder, numbered, for the reader
    to change before `pulumi up`."""
    from offline.recording import PROJECT_DIR

    path = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        value = line.split("#", 1)[0]
        if any(pattern.search(value) for pattern in PLACEHOLDERS):
            found.append(f"{path.name} line {number}: {value.strip()}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offline plan: what `pulumi up -s STACK` would create.")
    parser.add_argument("stack", nargs="+", help="stack name(s): Pulumi.<stack>.yaml")
    parser.add_argument(
        "--against",
        metavar="GIT_REF",
        help="also refuse what may not change in one update, compared with the stack file at GIT_REF (CI: the base)",
    )
    args = parser.parse_args(argv)
    for stack in args.stack:
        try:
            if args.against:
                check_change(stack, args.against)
            recording = run_stack(stack)
        except (SettingsError, FileNotFoundError) as error:
            print(f"stack {stack}: {error}", file=sys.stderr)
            return 2
        print(render(recording))
        problems = resource_problems(recording)
        if problems:
            return _refused(f"\nstack {stack}: AWS would refuse {len(problems)} declaration(s):", problems, 3)
        print("\nAWS constraints: every resource above checked, none refused")
        print()
        placeholders = placeholder_lines(stack)
        if placeholders:
            header = f"stack {stack}: settings still hold placeholders; change each before pulumi up:"
            return _refused(header, placeholders, 2)
    return 0


def _refused(header: str, items: list[Any], code: int) -> int:
    print(header, file=sys.stderr)
    for item in items:
        print(f"  {item}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
