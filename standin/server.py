"""The stand-in AWS: a moto server on loopback that enforces IAM as AWS would, conditions included.

moto's own IAM enforcement checks only some resources and no conditions (see ARCHITECTURE.md, section 6),
so this server replaces it: every request signed with a role's credentials (from sts:AssumeRole) is
authorized against that role's policies as they are stored in the server's IAM, by
`standin.iam_policy`, with the actions, resources and condition keys of
`standin.authorization`. Requests signed with the admin key (the one that seeds the account) are
not checked; any other key is refused. Every checked request is appended to an audit file (JSON lines)
with its verdict, so a refusal names the call, the action and the resource.

Requests are also checked against botocore's models (lengths, patterns, enums; moto checks none) and
against AWS's cross-field rules in `offline.constraints.requests`.

Run: `python -m standin.server --port 5000 --audit audit.jsonl --admin-key AKIA...`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from standin import authorization, extensions, lambda_runner
from standin.iam_policy import UnsupportedCondition, evaluate
from standin.identity import ADMIN_KEY, role_policies


class MotoLookups:
    """What the server's own backends know, for requests that name resources indirectly."""

    def __init__(self, account: str, region: str, partition: str) -> None:
        self.account, self.region, self.partition = account, region, partition

    def secret_arn(self, secret_id: str) -> str | None:
        from moto.secretsmanager.models import secretsmanager_backends

        try:
            return secretsmanager_backends[self.account][self.region].describe_secret(secret_id).arn
        except Exception:
            return None

    def task_definition_roles(self, task_definition: str) -> tuple[str, list[str]]:
        from moto.ecs.models import ecs_backends

        definition = ecs_backends[self.account][self.region].describe_task_definition(task_definition)
        roles = [r for r in (definition.task_role_arn, definition.execution_role_arn) if r]
        return definition.arn, roles

    def role_arn(self, role_name: str) -> str | None:
        from moto.iam.models import iam_backends

        try:
            return iam_backends[self.account][self.partition].get_role(role_name).arn
        except Exception:
            return None

    def object_exists(self, bucket: str, key: str) -> bool:
        from moto.s3.models import s3_backends

        try:
            return s3_backends[self.account][self.partition].get_object(bucket, key) is not None
        except Exception:
            return False


class Enforcer:
    """Decides each request and writes the audit trail."""

    def __init__(self, audit: Path, admin_key: str) -> None:
        self.audit = audit
        self.admin_key = admin_key
        self._lock = threading.Lock()

    def principal(self, access_key: str, account: str, partition: str) -> tuple[str, str] | None:
        """(role name, session ARN) of an assumed-role key, None for an unknown key."""
        from moto.sts.models import sts_backends

        for role in sts_backends[account][partition].assumed_roles:
            if role.access_key_id == access_key:
                name = role.role_arn.split("/")[-1]
                return name, f"arn:{partition}:sts::{account}:assumed-role/{name}/{role.session_name}"
        return None

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock, self.audit.open("a") as out:
            out.write(json.dumps({"at": time.time(), **entry}, default=str) + "\n")

    def decide(
        self,
        *,
        access_key: str,
        account: str,
        partition: str,
        operation: str,
        checks: Callable[[], list[authorization.Check]],
    ) -> tuple[bool, str, str]:
        """(allowed, principal ARN, why). Objects missing under a failed ListBucket answer 403, as AWS does."""
        if access_key == self.admin_key:
            return True, "admin", "admin"
        found = self.principal(access_key, account, partition)
        if found is None:
            self.record({"principal": None, "operation": operation, "allowed": False, "why": "unknown access key"})
            return False, f"arn:{partition}:iam::{account}:user/unknown", "unknown access key"
        role, session = found
        try:
            needed = checks()
            policies = role_policies(account, partition, role)
            verdicts = [(check, evaluate(policies, check.action, check.resource, check.context)) for check in needed]
        except authorization.Unmapped as unmapped:
            why = f"the stand-in has no IAM rule for {unmapped}: add it to standin/authorization.py"
            self.record({"principal": role, "operation": operation, "allowed": False, "why": why})
            return False, session, why
        except UnsupportedCondition as error:
            self.record({"principal": role, "operation": operation, "allowed": False, "why": str(error)})
            return False, session, str(error)
        refused = [(c, v) for c, v in verdicts if not v.allowed]
        entry = {
            "principal": role,
            "operation": operation,
            "checks": [
                {"action": c.action, "resource": c.resource, "allowed": v.allowed, "why": v.reason} for c, v in verdicts
            ],
            "allowed": not refused,
        }
        if refused:
            check, verdict = refused[0]
            entry["why"] = f"{check.action} on {check.resource}: {verdict.reason}"
        self.record(entry)
        return not refused, session, entry.get("why", "allowed")


def _access_key(headers: Any) -> str:
    authorization_header = headers.get("Authorization") or ""
    return authorization_header.partition("Credential=")[2].partition("/")[0]


def _signing_service(headers: Any) -> str:
    scope = (headers.get("Authorization") or "").partition("Credential=")[2].partition(",")[0].split("/")
    return scope[3] if len(scope) > 3 else ""


def _params(response: Any) -> dict[str, Any]:
    """The request's parameters by their API names: moto's parsed ones where it parsed them, else the
    query string (query-protocol services such as RDS and ELB send their parameters as a form)."""
    params = {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in response.querystring.items()}
    if not getattr(response, "params", None):
        try:
            response.parse_parameters(response.normalized_request)
        except Exception:
            response.params = {}
    params.update(getattr(response, "params", None) or {})
    params.update(getattr(response, "uri_match", None) or {})
    return params


def install(enforcer: Enforcer) -> None:
    """Replace moto's authorization with the enforcer's (in this process)."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.core.exceptions import _RESTError as XmlRESTError
    from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError

    from offline.constraints import requests as aws_requests

    def normal(self: Any, resource: str = "*") -> None:
        service = _signing_service(self.headers)
        operation = self._get_action()
        params = _params(self)
        problem = aws_requests.request_problem(service, operation, params)
        if problem:
            xml = aws_requests.protocol(service) in ("query", "ec2")
            raise (XmlRESTError if xml else JsonRESTError)("ValidationError", problem)
        request = authorization.Request(self.partition, self.region, self.current_account, params)
        lookups = MotoLookups(self.current_account, self.region, self.partition)
        allowed, principal, why = enforcer.decide(
            access_key=_access_key(self.headers),
            account=self.current_account,
            partition=self.partition,
            operation=f"{service}:{operation}",
            checks=lambda: authorization.checks_for(service, operation, request, lookups),
        )
        if not allowed:
            raise AccessDeniedError(user_arn=principal, action=f"{operation} ({why})")

    def s3(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        action = str(self.data.get("Action", ""))
        lookups = MotoLookups(self.current_account, self.region, self.partition)
        deleted = authorization.delete_keys(self.body if isinstance(self.body, str) else "")
        query = {k: v for k, v in self.querystring.items()} if hasattr(self, "querystring") else {}
        allowed, _, _ = enforcer.decide(
            access_key=_access_key(self.headers),
            account=self.current_account,
            partition=self.partition,
            operation=f"s3:{action}",
            checks=lambda: authorization.s3_checks(
                self.partition,
                action,
                bucket_name,
                key_name,
                query,
                lookups,
                deleted_keys=deleted if action == "DeleteObject" and key_name is None else None,
            ),
        )
        if not allowed:
            if bucket_name:
                raise BucketAccessDeniedError(bucket=bucket_name)
            raise S3AccessDeniedError()

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = normal  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = s3  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The stand-in AWS: moto with IAM enforced as AWS does.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--audit", type=Path, required=True)
    parser.add_argument("--admin-key", default=ADMIN_KEY)
    args = parser.parse_args(argv)

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    enforcer = Enforcer(args.audit, args.admin_key)
    install(enforcer)
    extensions.install()
    lambda_runner.install(f"http://127.0.0.1:{args.port}", args.audit.parent)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"stand-in AWS on http://127.0.0.1:{args.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
