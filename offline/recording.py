"""Run the real Pulumi program offline, under Pulumi's own mocks, and record every resource.

No AWS account and no Pulumi CLI are needed: `pulumi.runtime.set_mocks` stands in for the engine, the
mocks below answer what the providers would (IDs, ARNs in the stack's partition, endpoints), and a
monitor subclass records each resource's type, name, inputs and options (`ignore_changes`, `protect`,
parent). Used by the offline plan (`make plan`) and by the tests.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from contracts.stacks import PROJECT
from infra.settings import REGION_PARTITIONS, read_stack_path, stack_config_from_yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
INFRA_DIR = PROJECT_DIR / "infra"  # Pulumi.yaml's main: the program
MOCK_ACCOUNT = "123456789012"


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str = ""
    ignore_changes: list[str] = field(default_factory=list)
    protect: bool = False
    custom: bool = True
    dependencies: list[str] = field(default_factory=list)  # URNs it waits for (depends_on and inputs)


@dataclass
class Recording:
    stack: str
    resources: list[RecordedResource]
    exports: dict[str, Any]

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def top_level_component(self, resource: RecordedResource) -> RecordedResource | None:
        """The component directly under the stack that `resource` belongs to (None for the stack's own)."""
        by_urn = {r.urn: r for r in self.resources}
        current = resource
        while current.parent in by_urn:
            current = by_urn[current.parent]
        return None if current is resource else current

    def depends_on(self, resource: RecordedResource, urn: str) -> bool:
        """Whether `resource` waits for `urn`, directly or through what it waits for."""
        by_urn = {r.urn: r for r in self.resources}
        seen: set[str] = set()
        pending = list(resource.dependencies)
        while pending:
            current = pending.pop()
            if current == urn:
                return True
            if current not in seen and current in by_urn:
                seen.add(current)
                pending.extend(by_urn[current].dependencies)
                # Waiting for a component is waiting for its children.
                pending.extend(r.urn for r in self.resources if r.parent == current)
        return False

    def one(self, type_: str, name: str | None = None) -> RecordedResource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_} {name or ''}, found {[r.name for r in found]}")
        return found[0]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class StackMocks(pulumi_mocks.Mocks):
    """Answers as the AWS provider would, with ARNs in the stack's partition and region."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.partition = REGION_PARTITIONS.get(region, "aws")

    def arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if regional else ''}:"
            f"{MOCK_ACCOUNT if account else ''}:{resource}"
        )

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        answers = {
            "aws:index/getPartition:getPartition": lambda _: {
                "id": self.partition,
                "partition": self.partition,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            },
            "aws:index/getCallerIdentity:getCallerIdentity": lambda _: {
                "id": MOCK_ACCOUNT,
                "accountId": MOCK_ACCOUNT,
                "userId": "AIDAMOCK",
                "arn": self.arn("iam", "user/deployer", regional=False),
            },
            "aws:ec2/getVpc:getVpc": lambda call_args: {"id": call_args.get("id"), "cidrBlock": "10.20.0.0/16"},
            # Another stack's Airflow secret (secrets.fernetKeyFrom): a document with its keys, values made up.
            "aws:secretsmanager/getSecretVersion:getSecretVersion": lambda call_args: {
                "id": call_args.get("secretId"),
                "arn": call_args.get("secretId"),
                "secretString": json.dumps(
                    {"conn": "postgresql+psycopg2://source", "fernet_key": "source-fernet-key-" + "x" * 26}
                ),
                "versionId": "v1",
            },
        }
        if args.token not in answers:
            raise NotImplementedError(f"the offline mocks do not answer {args.token}")
        return answers[args.token](args.args), []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        name = inputs.get("name") or f"{args.name}-{_short_hash(args.name)}"
        resource_id = f"{args.name}-id"
        outputs: dict[str, Any] = {**inputs}
        resource_type = args.typ
        service = resource_type.split(":")[1].split("/")[0] if resource_type.startswith("aws:") else ""

        if resource_type == "awsx:ec2:Vpc":
            zones = int(inputs.get("numberOfAvailabilityZones") or 2)
            kinds = [spec["type"] for spec in inputs.get("subnetSpecs", [])]
            outputs = {"vpcId": "vpc-0123456789abcdef0"}
            for kind, key in (
                ("Public", "publicSubnetIds"),
                ("Private", "privateSubnetIds"),
                ("Isolated", "isolatedSubnetIds"),
            ):
                outputs[key] = [f"subnet-{kind.lower()[:4]}{i:013x}" for i in range(zones)] if kind in kinds else []
            return resource_id, outputs
        if resource_type == "awsx:ecr:Image":
            digest = hashlib.sha256(repr(sorted(inputs.items())).encode()).hexdigest()
            return resource_id, {"imageUri": f"{inputs['repositoryUrl']}@sha256:{digest}"}
        if resource_type.startswith("random:"):
            return resource_id, {
                **outputs,
                "result": "mock-random-" + _short_hash(args.name) * 4,
                "hex": _short_hash(args.name),
                "base64": "bW9jay1rZXktYnl0ZXMtMzItYnl0ZXMtbG9uZy0tLS0=",
            }

        if resource_type == "aws:secretsmanager/secretVersion:SecretVersion":
            # Secrets Manager gives every new value a new version id.
            outputs["versionId"] = _short_hash(json.dumps(inputs.get("secretString"), sort_keys=True, default=str))
        if resource_type == "aws:rds/instance:Instance" and not inputs.get("kmsKeyId"):
            # RDS encrypts with the account's aws/rds key when none is given, and reports that key's ARN.
            outputs["kmsKeyId"] = self.arn("kms", "key/00000000-0000-4000-8000-0000000a0e55")
        # IAM puts a role's or policy's path in its ARN (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
        path = str(inputs.get("path") or "/")
        if resource_type == "aws:iam/policy:Policy":
            outputs["arn"] = self.arn("iam", f"policy{path}{name}", regional=False)
        elif service == "iam":
            outputs["arn"] = self.arn("iam", f"role{path}{name}", regional=False)
        elif resource_type == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', '')}{_short_hash(args.name)}"
            outputs.update(bucket=bucket, arn=f"arn:{self.partition}:s3:::{bucket}")
            resource_id = bucket
        elif resource_type == "aws:sqs/queue:Queue":
            outputs.update(
                arn=self.arn("sqs", name), url=f"https://sqs.{self.region}.amazonaws.com/{MOCK_ACCOUNT}/{name}"
            )
            resource_id = outputs["url"]
        elif resource_type == "aws:secretsmanager/secret:Secret":
            secret_name = inputs.get("name") or f"{inputs.get('namePrefix', '')}{_short_hash(args.name)}"
            outputs.update(name=secret_name, arn=self.arn("secretsmanager", f"secret:{secret_name}-AbCdEf"))
            resource_id = outputs["arn"]
        elif resource_type == "aws:rds/instance:Instance":
            address = f"{inputs.get('identifier')}.abcdefghijkl.{self.region}.rds.amazonaws.com"
            outputs.update(
                address=address,
                port=5432,
                endpoint=f"{address}:5432",
                username=inputs.get("username") or "airflow",
                arn=self.arn("rds", f"db:{inputs.get('identifier')}"),
                # RDS's resource id: new with every instance, a restore from the same snapshot included.
                resourceId="db-"
                + _short_hash(f"{inputs.get('identifier')}:{inputs.get('snapshotIdentifier')}").upper(),
            )
        elif resource_type == "aws:ecr/repository:Repository":
            outputs.update(
                arn=self.arn("ecr", f"repository/{name}"),
                repositoryUrl=f"{MOCK_ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{name}",
            )
        elif resource_type == "aws:ecs/cluster:Cluster":
            outputs["arn"] = self.arn("ecs", f"cluster/{name}")
        elif resource_type == "aws:ecs/taskDefinition:TaskDefinition":
            outputs["arn"] = self.arn("ecs", f"task-definition/{inputs.get('family')}:1")
        elif resource_type == "aws:ecs/service:Service":
            outputs["arn"] = self.arn("ecs", f"service/{name}")
        elif resource_type == "aws:cloudwatch/logGroup:LogGroup":
            outputs["arn"] = self.arn("logs", f"log-group:{name}")
        elif resource_type == "aws:lambda/function:Function":
            outputs["arn"] = self.arn("lambda", f"function:{name}")
        elif resource_type == "aws:sns/topic:Topic":
            outputs["arn"] = self.arn("sns", str(name))
        elif resource_type == "aws:ssm/parameter:Parameter":
            outputs["arn"] = self.arn("ssm", f"parameter/{str(name).lstrip('/')}")
        elif resource_type == "aws:lb/loadBalancer:LoadBalancer":
            outputs["arnSuffix"] = f"app/{name}/0123456789abcdef"
            outputs.update(
                arn=self.arn("elasticloadbalancing", f"loadbalancer/app/{name}/0123456789abcdef"),
                dnsName=f"{name}-1234567890.{self.region}.elb.amazonaws.com",
            )
        elif resource_type == "aws:lb/listener:Listener":
            outputs["arn"] = self.arn(
                "elasticloadbalancing", f"listener/app/airflow-ui/0123456789abcdef/{_short_hash(args.name)}"
            )
        elif resource_type == "aws:lb/listenerRule:ListenerRule":
            outputs["arn"] = self.arn(
                "elasticloadbalancing",
                f"listener-rule/app/airflow-ui/0123456789abcdef/fedcba9876543210/{_short_hash(args.name)}",
            )
        elif resource_type == "aws:lb/targetGroup:TargetGroup":
            outputs["arn"] = self.arn("elasticloadbalancing", f"targetgroup/{name}/0123456789abcdef")
            outputs["arnSuffix"] = f"targetgroup/{name}/0123456789abcdef"
        elif service:
            outputs.setdefault("arn", self.arn(service, f"{resource_type.split(':')[-1].lower()}/{name}"))
        outputs.setdefault("name", name)
        return resource_id, outputs


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps each resource's options, which plain mocks never see."""

    def __init__(self, mocks: StackMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            state = self.resources[response.urn].state
            inputs = rpc.deserialize_properties(request.object)
            self.recorded.append(
                RecordedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=inputs,
                    outputs=dict(state),
                    parent=request.parent,
                    ignore_changes=list(request.ignoreChanges),
                    protect=bool(request.protect),
                    custom=bool(request.custom),
                    dependencies=list(request.dependencies),
                )
            )
        return response


def load_stack_file(stack: str) -> dict[str, Any]:
    path = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    if not path.exists():
        stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {path.name}; stacks: {', '.join(stacks)}")
    return stack_config_from_yaml(read_stack_path(path))


@dataclass(frozen=True)
class Secret:
    """A config value given as a secret (as `pulumi config set --secret` does), in overrides."""

    value: str


def run_program(stack: str, config: Mapping[str, Any]) -> Recording:
    """Run infra/__main__.py for `stack` with `config` under mocks and return what it declared."""
    return contextvars.Context().run(_run_program, stack, dict(config))


def _run_program(stack: str, config: dict[str, Any]) -> Recording:
    mocks = StackMocks(str(config.get("aws:region", "")))
    monitor = RecordingMonitor(mocks)
    secret_keys = [k for k, v in config.items() if v == "[secret]" or isinstance(v, Secret)]
    config = {k: v.value if isinstance(v, Secret) else v for k, v in config.items()}
    pulumi.runtime.set_all_config(config, secret_keys)
    pulumi_mocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)

    def program() -> None:
        runpy.run_path(str(INFRA_DIR), run_name="__main__")

    _sync_await(run_pulumi_func(program))

    root = get_root_resource()
    exports: dict[str, Any] = {}
    for key, value in getattr(root, "outputs", {}).items():
        exports[key] = _sync_await(pulumi.Output.from_input(value).future())
    return Recording(stack, monitor.recorded, exports)


def run_stack(stack: str, overrides: Mapping[str, Any] | None = None) -> Recording:
    """Run the program with a committed stack file's config, optionally changed by `overrides`."""
    config = load_stack_file(stack)
    config.update(overrides or {})
    return run_program(stack, config)
