"""`airflow-stack`: see and steer a stack. Every subcommand takes --stack (and --outputs FILE instead of Pulumi).

Exit codes: 0 done; 1 a wait timed out or a smoke step failed; 2 bad input, a refused, unsafe request, or a
failed preflight check; 3 refused: the outputs given are another stack's, or the waker refused (sleep while work
is active, without --force); 4 an AWS or Pulumi error; 130 interrupted (Ctrl-C or SIGTERM), after undoing what the
command had begun.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from airflow_stack import (
    aws,
    bootstrap,
    deploy_dags,
    deployer,
    deployer_command,
    operations,
    preflight,
    preflight_command,
    probe,
    smoke,
    stage_command,
    staging,
    ui_command,
)
from airflow_stack.operations import StackFactory
from airflow_stack.outputs import (
    NotDeployed,
    StackError,
    StackOutputs,
    ToolError,
    WakerFailed,
    WrongStack,
    read_outputs,
)
from airflow_stack.preflight_command import ClientFactory
from airflow_stack.terminal import printable
from contracts.stacks import STACK_NAME_RULE, is_stack_name
from contracts.waker import MAX_HOLD_MINUTES, Maintenance, Sleep, Wake, to_event
from infra.settings.model import REGION_PARTITIONS

PROJECT_DIR = Path.cwd()
EXIT_TIMEOUT, EXIT_REFUSED, EXIT_WAKER_REFUSED, EXIT_AWS, EXIT_WAKER_ERROR, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130
EXIT_WRONG_STACK = EXIT_WAKER_REFUSED  # both refuse to act: 3
EXIT_CODES: tuple[tuple[type[StackError], int], ...] = (
    (smoke.SmokeFailed, EXIT_TIMEOUT),
    (WrongStack, EXIT_WRONG_STACK),
    (ToolError, EXIT_AWS),
    (WakerFailed, EXIT_WAKER_ERROR),
    (StackError, EXIT_REFUSED),
)


def aws_stack(name: str, outputs_file: Path | None) -> operations.Stack:
    outputs = StackOutputs.of(name, read_outputs(name, outputs_file, cwd=PROJECT_DIR))

    def client(service: str) -> Any:
        return aws.client(service, outputs.region)

    if not outputs.get("wakerFunction"):
        raise NotDeployed(f"stack {name} has no wakerFunction output: deploy the waker first")
    return operations.Stack(outputs, client, operations.lambda_invoker(client("lambda"), outputs["wakerFunction"]))


class _Parser(argparse.ArgumentParser):
    """argparse's parser (its subcommands' too) with each error in one line, as every other bad input: the
    command, what is wrong, and where its help is; exit 2. argparse's own prints the usage block first."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_REFUSED, printable(f"{self.prog}: {message} (see `{self.prog} --help`)") + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="airflow-stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--stack", required=True, help="Pulumi stack name, e.g. dev")
        sub.add_argument("--outputs", type=Path, help="JSON file of the stack's outputs (instead of the Pulumi CLI)")
        return sub

    show = command("status", "awake or asleep and why, counts per service, active work, next wake, database, UI")
    show.add_argument("--json", action="store_true", help="machine-readable output")

    wake = command("wake", "wake the stack (and keep it awake for --hold)")
    wake.add_argument("--hold", default="1h", help="how long to keep it awake, e.g. 90m, 2h (default 1h)")
    wake.add_argument("--reason", default="woken with airflow-stack", help="why, for the waker's log and status")
    wake.add_argument("--wait", action="store_true", help="follow the services until they run")
    wake.add_argument("--timeout", default="15m", help="how long --wait waits (default 15m)")

    sleep = command("sleep", "put the stack to sleep (refused while work is active, unless --force)")
    sleep.add_argument("--force", action="store_true", help="sleep even with work active; queued work stays queued")
    sleep.add_argument("--hold", help="with --force: stay asleep this long unless woken by hand (default 1h)")
    sleep.add_argument(
        "--reason", default="put to sleep with airflow-stack", help="why, for the waker's log and status"
    )
    sleep.add_argument("--wait", action="store_true", help="follow the services until they stop")
    sleep.add_argument("--timeout", default="10m", help="how long --wait waits (default 10m)")

    command("snapshot", "a manual snapshot of the stack's database; waits until it is available")
    ui = command(
        "ui",
        "the UI of a stack without a load balancer at http://127.0.0.1:PORT: wakes it, then forwards a local port "
        "to the api-server through ECS Exec and Session Manager until Ctrl-C (needs the AWS CLI and its Session "
        "Manager plugin)",
    )
    ui.add_argument("--port", type=int, default=8080, help="the local port (default 8080)")
    ui.add_argument("--hold", default="1h", help="keep the stack awake at least this long (default 1h)")
    ui.add_argument("--timeout", default="15m", help="how long to wait for the stack to wake (default 15m)")
    ui.add_argument("--print", dest="print_only", action="store_true", help="print the forwarding command only")
    check_stack = command(
        "smoke",
        "after a deploy: wake the stack, run the smoke DAG (dags/airflow_smoke.py) through a one-off ECS task, find "
        "its task's log in the bucket, and let the stack sleep, printing each step with its time (as the deploying "
        "role)",
    )
    check_stack.add_argument("--timeout", default="15m", help="how long to wait for the stack to wake (default 15m)")
    check_stack.add_argument(
        "--no-sleep", dest="leave_awake", action="store_true", help="leave the stack awake afterwards (for its hold)"
    )
    command(
        "admin-password",
        "print the password of the first admin user (`admin`), read from the stack's Airflow secret "
        "(needs secretsmanager:GetSecretValue on it: the deploying role has it, operators do not)",
    )

    ending = command(
        "end-maintenance",
        "end a maintenance hold by hand (stage sets one while it replaces a staging stack's database)",
    )
    ending.add_argument("--reason", default="maintenance ended with airflow-stack", help="why, for the waker's log")

    predeploy = command(
        "predeploy",
        "before `pulumi up`: the database started if the waker stopped it, and held up (a first deploy: nothing)",
    )
    predeploy.add_argument("--hold", default="1h", help="how long the waker keeps the database up (default 1h)")
    predeploy.add_argument("--timeout", default="30m", help="how long to wait for the database (default 30m)")

    check = commands.add_parser(
        "preflight",
        help="read-only checks of the account before the first `pulumi up`",
        description=f"{preflight.__doc__}\n{probe.__doc__}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--stack", required=True, help="the stack to check: Pulumi.<stack>.yaml")
    check.add_argument(
        "--probe",
        action="store_true",
        help="after `pulumi up`: start one short worker task on each capacity provider and architecture the stack "
        "uses, and check its functions, schedules and load balancer rule (see `preflight --help`)",
    )
    check.add_argument("--outputs", type=Path, help="with --probe: JSON file of the stack's outputs")

    shipping = commands.add_parser(
        "deploy-dags",
        help="test what changed in dags/, then sync it to the stack's DAG bundle and wake it (from a checkout)",
        description=deploy_dags.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    deploy_dags.add_arguments(shipping)

    setup = commands.add_parser(
        "bootstrap",
        help="before the first `pulumi up` in an account: Pulumi's state bucket and secrets key (idempotent)",
        description=bootstrap.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    setup.add_argument("--region", required=True, choices=sorted(REGION_PARTITIONS), help="the stacks' Region")
    setup.add_argument("--bucket", help="the state bucket's name (default airflow-pulumi-state-<account>-<region>)")
    setup.add_argument(
        "--print-policy",
        action="store_true",
        help="print the IAM policy a principal needs to run bootstrap, and do nothing else",
    )

    policy = commands.add_parser(
        "deployer-policy",
        help="write the least-privilege IAM policies of the role that runs `pulumi up` for a stack (offline)",
        description=deployer.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    policy.add_argument("--stack", required=True, help="the stack: Pulumi.<stack>.yaml")
    policy.add_argument("--account", required=True, help="the 12-digit ID of the account the stack deploys to")
    policy.add_argument("--state-bucket", help="Pulumi's state bucket (default: the one `bootstrap` creates)")
    policy.add_argument("--out", type=Path, default=Path("build"), help="where to write the policies (default build/)")

    stage = commands.add_parser(
        "stage", help="write the config of a staging stack restored from a prod snapshot", description=staging.__doc__
    )
    stage.add_argument("--from", dest="source", required=True, help="the stack to copy, e.g. prod")
    stage.add_argument("--stack", default="staging", help="the staging stack to write (default staging)")
    stage.add_argument("--snapshot", help="snapshot identifier or ARN (default: the newest of the source's)")
    stage.add_argument("--outputs", type=Path, help="JSON file of the source stack's outputs")
    stage.add_argument("--target-outputs", type=Path, help="JSON file of the staging stack's outputs, if deployed")
    stage.add_argument("--set-env", action="append", metavar="KEY=VALUE", help="staging's own DAG setting (repeat)")
    stage.add_argument("--worker-policy", action="append", metavar="ARN", help="staging's own worker policy (repeat)")
    stage.add_argument("--event-queue", action="append", metavar="ARN", help="staging's own event queue (repeat)")
    return parser


def _checked(args: argparse.Namespace) -> dict[str, int]:
    """The options as minutes, or StackError naming the option and what it takes: nothing has been done yet."""
    if args.command == "bootstrap":
        if args.bucket is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", args.bucket):
            raise StackError(
                f"--bucket must be an S3 bucket name (3-63 lowercase letters, digits, . -), got {args.bucket!r}"
            )
        return {}
    if not is_stack_name(args.stack):
        raise StackError(f"--stack must be {STACK_NAME_RULE}; got {args.stack!r}")
    source = getattr(args, "source", None)
    if source is not None and not is_stack_name(source):
        raise StackError(f"--from must be a stack name (lowercase letters, digits, hyphens), got {source!r}")
    minutes: dict[str, int] = {}
    for option in ("hold", "timeout"):
        value = getattr(args, option, None)
        if value is None:
            continue
        try:
            minutes[option] = operations.parse_duration(value)
        except StackError as error:
            raise StackError(f"--{option}: {error}") from None
        if option == "hold" and not 0 <= minutes[option] <= MAX_HOLD_MINUTES:
            raise StackError(f"--hold is at most 24h (the waker's limit), got {value!r}")
        if option == "timeout" and minutes[option] == 0:
            raise StackError(f"--timeout must be more than 0, got {value!r}")
    if args.command == "ui" and not 1024 <= args.port <= 65535:
        raise StackError(f"--port must be 1024 to 65535 (a port a user may open), got {args.port}")
    if getattr(args, "reason", None) is not None:
        args.reason = args.reason.strip()  # as the waker reads it
        if not 0 < len(args.reason) <= 200:
            raise StackError("--reason must be 1 to 200 characters")
    return minutes


def _answered(answer: dict[str, Any]) -> bool:
    """Print the waker's answer; False when it refused (or another run held its lease)."""
    if answer.get("ok", False):
        print(printable(f"{answer.get('state')}: {answer.get('reason')}"))
        return True
    print(printable(f"refused: {answer.get('error') or answer.get('reason') or answer}"), file=sys.stderr)
    return False


def _wait(stack: operations.Stack, up: bool, timeout_minutes: int) -> int:
    want = operations.all_up if up else operations.all_down
    done = operations.wait_for_counts(stack, want, timeout=timeout_minutes * 60, watch_database=up)
    if not done:
        print(f"timed out after {timeout_minutes} minutes", file=sys.stderr)
        return EXIT_TIMEOUT
    print("running" if up else "asleep")
    return 0


def aws_clients(region: str) -> Callable[[str], Any]:
    return lambda service: aws.client(service, region)


def run(
    argv: Sequence[str],
    make_stack: StackFactory = aws_stack,
    project_dir: Path | None = None,
    make_clients: ClientFactory = aws_clients,
) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) or a bad option (2, in one line): a code, as every other outcome
        return stop.code if isinstance(stop.code, int) else EXIT_REFUSED
    if args.command == "deploy-dags":  # its own inputs and exit codes (tests, upload, wake)
        return deploy_dags.ship(args)
    project = project_dir or PROJECT_DIR
    with _interrupted_by_sigterm():
        return _run(args, make_stack, project, make_clients)


@contextlib.contextmanager
def _interrupted_by_sigterm() -> Any:
    """SIGTERM (a CI job cancelled, a terminal closed) stops the command as Ctrl-C does, so what it had begun is
    undone the same way."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals as they are
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, make_stack: StackFactory, project: Path, make_clients: ClientFactory) -> int:
    try:
        minutes = _checked(args)  # every input is checked before anything is asked of AWS
        if args.command == "bootstrap":
            return _bootstrap(args, make_clients)
        if args.command == "stage":
            return stage_command.stage(args, make_stack, project)
        if args.command == "deployer-policy":
            return deployer_command.write_policies(args.stack, args.account, project, args.out, args.state_bucket)
        if args.command == "preflight" and args.probe:
            return 0 if preflight_command.probe_passes(make_stack(args.stack, args.outputs)) else EXIT_REFUSED
        if args.command == "preflight":
            return 0 if preflight_command.preflight_passes(args.stack, project, make_clients) else EXIT_REFUSED
        if args.command == "predeploy":
            return _predeploy(args, make_stack)
        stack = make_stack(args.stack, args.outputs)
        if args.command == "status":
            report = operations.status(stack)
            print(
                json.dumps(report, indent=2) if args.json else printable(operations.render_status(report), lines=True)
            )
            return 0
        if args.command == "wake":
            answer = stack.invoke_waker(to_event(Wake(hold_minutes=minutes["hold"], reason=args.reason)))
            if not _answered(answer):
                return EXIT_WAKER_REFUSED
            return _wait(stack, True, minutes["timeout"]) if args.wait else 0
        if args.command == "sleep":
            answer = stack.invoke_waker(
                to_event(Sleep(reason=args.reason, force=args.force, hold_minutes=minutes.get("hold")))
            )
            if not _answered(answer):
                return EXIT_WAKER_REFUSED
            return _wait(stack, False, minutes["timeout"]) if args.wait else 0
        if args.command == "snapshot":
            print(operations.snapshot(stack))
            return 0
        if args.command == "ui":
            return ui_command.open_ui(
                stack,
                port=args.port,
                hold_minutes=minutes["hold"],
                timeout_minutes=minutes["timeout"],
                print_only=args.print_only,
            )
        if args.command == "smoke":
            run_id = smoke.smoke(
                stack, timeouts=smoke.Timeouts(wake=minutes["timeout"] * 60), leave_awake=args.leave_awake
            )
            print(f"smoke passed: {smoke.DAG_ID} run {run_id}")
            return 0
        if args.command == "admin-password":
            print(operations.admin_password(stack))
            return 0
        if args.command == "end-maintenance":
            answer = stack.invoke_waker(to_event(Maintenance(on=False, reason=args.reason)))
            return 0 if _answered(answer) else EXIT_WAKER_REFUSED
    except KeyboardInterrupt as interruption:
        print(f"airflow-stack: interrupted ({str(interruption) or 'Ctrl-C'})", file=sys.stderr)
        return EXIT_INTERRUPTED
    except StackError as error:
        print(printable(f"airflow-stack: {error}"), file=sys.stderr)
        # The most specific kind decides: another stack's outputs, then a missing or failing tool, then the rest.
        return next(code for kind, code in EXIT_CODES if isinstance(error, kind))
    except Exception as error:
        if type(error).__module__.startswith("botocore"):
            print(f"airflow-stack: AWS error: {printable(str(error))}", file=sys.stderr)
            return EXIT_AWS
        raise
    raise AssertionError(args.command)


def _bootstrap(args: argparse.Namespace, make_clients: ClientFactory) -> int:
    client = make_clients(args.region)
    if args.print_policy:
        account = client("sts").get_caller_identity()["Account"]
        bucket = args.bucket or bootstrap.state_bucket_name(account, args.region)
        print(
            json.dumps(
                bootstrap.bootstrap_policy(REGION_PARTITIONS[args.region], account, args.region, bucket), indent=2
            )
        )
        return 0
    done = bootstrap.bootstrap(client, args.region, args.bucket)
    for line in done.created or ("nothing to create: the state bucket and the secrets key are there",):
        print(f"created: {line}" if done.created else line)
    print(f"state bucket {done.bucket} (versioned, encrypted with {done.key_arn}, private, TLS only)")
    print("next:")
    print("\n".join(f"  {line}" for line in done.lines(args.region)))
    return 0


def _predeploy(args: argparse.Namespace, make_stack: StackFactory) -> int:
    try:
        stack = make_stack(args.stack, args.outputs)
    except NotDeployed as first:
        print(f"nothing to prepare: {first} (a first deploy creates everything)")
        return 0
    minutes = _checked(args)
    status = operations.prepare_deploy(stack, hold_minutes=minutes["hold"], timeout=minutes["timeout"] * 60)
    print(f"database {status}: ready for pulumi up -s {args.stack}")
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
