"""`airflow-stack stage`: write a staging stack's file, restored from a snapshot of another stack, after every
check (nothing is written if one fails); a deployed staging stack is held asleep while its database is
replaced."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from airflow_stack import operations, staging
from airflow_stack.operations import StackFactory
from airflow_stack.outputs import NotDeployed, StackError, StackOutputs, read_outputs
from airflow_stack.terminal import printable
from contracts.waker import Maintenance, to_event


def _stage_targets(args: argparse.Namespace) -> staging.StagingTargets:
    environment = {}
    for item in args.set_env or []:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise StackError(f"--set-env takes KEY=VALUE with an upper-case KEY, got {item!r}")
        environment[name] = value
    return staging.StagingTargets(environment, tuple(args.worker_policy or ()), tuple(args.event_queue or ()))


def stage(args: argparse.Namespace, make_stack: StackFactory, project: Path) -> int:
    from infra.settings import load_settings, read_stack_path, stack_config_from_yaml
    from infra.settings.schema import SettingsError

    if args.stack == args.source:
        raise StackError(f"refusing to write stack {args.stack!r}: stage writes a separate staging stack")
    targets = _stage_targets(args)
    source_file = project / f"Pulumi.{args.source}.yaml"
    if not source_file.exists():
        raise StackError(f"no {source_file.name} to copy settings from")
    target = project / f"Pulumi.{args.stack}.yaml"
    try:
        existing = read_stack_path(target) if target.exists() else None
        source_document = read_stack_path(source_file)
    except SettingsError as error:
        problems = "; ".join(f"{where}: {allowed}" for where, allowed in error.problems)
        raise StackError(f"nothing written: {problems}; fix the file (or remove {target.name} to start anew)") from None
    writable = os.access(target, os.W_OK) if target.exists() else os.access(project, os.W_OK | os.X_OK)
    if not writable:
        raise StackError(f"nothing done: {target if target.exists() else project} is not writable by this user")
    if existing is not None:
        current = load_settings(args.stack, stack_config_from_yaml(existing))
        if current.database.deletion_protection:
            raise StackError(
                f"stack {args.stack} is protected (database.deletionProtection): stage never replaces a protected "
                "database. To re-use the stack, turn protection off in an update of its own first, then stage"
            )
        if current.restored_from is None and not current.database.restore_from_snapshot:
            raise StackError(
                f"stack {args.stack} holds data of its own (it was not staged from a snapshot): staging it would "
                "replace its database. Snapshot it (airflow-stack snapshot) and stage into another stack name"
            )
    if args.target_outputs:  # whose outputs they are is checked before anything is asked of AWS
        StackOutputs.of(args.stack, read_outputs(args.stack, args.target_outputs))
    source = make_stack(args.source, args.outputs)
    if not source.outputs.get("airflowSecretArn"):
        raise StackError(f"stack {args.source} has no airflowSecretArn output: deploy it with this version first")
    snapshot = staging.choose_snapshot(source.client("rds"), source.outputs, args.snapshot)
    staging.check_key(source.client("kms"), snapshot)

    document = staging.staging_document(
        source_document,
        existing,
        snapshot=snapshot,
        source=source.outputs,
        targets=targets,
    )
    own_secrets_needed = []
    try:
        load_settings(args.stack, stack_config_from_yaml(document))  # what the plan would refuse, refused now
    except SettingsError as error:
        # Staging's own encrypted settings are set after the file exists (`pulumi config set --secret`).
        own_secrets_needed = [k for k, _ in error.problems if k.endswith(":uiOidcClientSecret")]
        refused = "; ".join(f"{k}: {allowed}" for k, allowed in error.problems if k not in own_secrets_needed)
        if refused:
            raise StackError(f"nothing written, the staging settings would be refused: {refused}") from None
    held = _hold_for_restage(args, make_stack) if existing is not None else None  # it may be deployed and awake
    header = staging.HEADER.format(
        source=args.source, when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), stack=args.stack
    )
    try:
        staging.write_stack_file(target, document, header)
    except BaseException:
        if held is not None:
            _end_hold(held, args)
        raise
    print(
        f"wrote {target.name}: restore {snapshot['DBSnapshotIdentifier']} "
        f"({(snapshot.get('SnapshotType') or 'manual')} snapshot, taken {snapshot.get('SnapshotCreateTime')}, "
        f"{snapshot.get('AllocatedStorage')} GB), {args.source}'s Fernet key copied into {args.stack}'s own secret, "
        f"none of {args.source}'s targets, DAGs paused after restore"
    )
    print("next:")
    if existing is None:
        print(f"  pulumi stack init {args.stack}")
    for key in own_secrets_needed:
        name = key.split(":", 1)[1]
        print(f"  pulumi config set --secret --stack {args.stack} {name}   # {args.stack}'s own, not {args.source}'s")
    print(f"  make plan STACK={args.stack}")
    print(f"  pulumi up -s {args.stack}      # the guard runs on the new database, then the maintenance hold ends")
    return 0


def _hold_for_restage(args: argparse.Namespace, make_stack: StackFactory) -> operations.Stack | None:
    """A deployed staging stack is put to sleep and held there (maintenance) before its database is replaced:
    no scheduler may wake against the new copy before the restore guard has run on it. If the command stops
    before the new stack file is written (interrupted, or the stack does not stop in time), the hold is ended:
    nothing was replaced, and the stack must not stay unusable."""
    try:
        target = make_stack(args.stack, args.target_outputs)
    except NotDeployed:
        return None
    answer = target.invoke_waker(to_event(Maintenance(on=True, reason=f"re-staging {args.stack} from {args.source}")))
    if not answer.get("ok", False):
        raise StackError(f"the waker of {args.stack} did not take the maintenance hold: {answer.get('error')}")
    print(printable(f"{args.stack}: {answer.get('reason')}"))
    try:
        if not operations.wait_for_counts(target, operations.all_down, timeout=600):
            raise StackError(f"{args.stack} did not stop within 10 minutes: nothing written; run stage again")
    except BaseException:
        _end_hold(target, args)
        raise
    return target


def _end_hold(target: operations.Stack, args: argparse.Namespace) -> None:
    reason = f"stage of {args.stack} stopped before it wrote anything"
    ended = target.invoke_waker(to_event(Maintenance(on=False, reason=reason)))
    if ended.get("ok", False):
        print(f"{args.stack}: the maintenance hold ended (nothing was replaced)", file=sys.stderr)
    else:
        print(
            f"{args.stack}: the maintenance hold was NOT ended ({ended.get('error')}): "
            f"airflow-stack end-maintenance --stack {args.stack}",
            file=sys.stderr,
        )
