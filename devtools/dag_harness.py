"""Run and check the DAGs in dags/ on this machine, with local stand-ins for AWS (a moto server).

    uv run python -m devtools.dag_harness check                 facts about every DAG, as JSON (used by the tests)
    uv run python -m devtools.dag_harness run DAG [--date D] [--conf JSON] [--no-logical-date] [--json]
                                                             one run of DAG with `dag.test()`, on sample data
    uv run python -m devtools.dag_harness runs                  several runs, one per line of input (JSON
                                                             lists of `run`'s arguments), one JSON line each

Airflow runs from `.airflow-local/dag-test/` (SQLite; `AIRFLOW_HOME` overrides it), apart from `make dev`'s,
so a run here never collides with one there. `run` starts a moto server on a free local port, points
Airflow's `aws_default` connection at it, creates the buckets and queue the example DAGs use with a sample
export for the date, and runs the DAG. It prints one line per task (state, duration, what it wrote to the
lake bucket); Airflow's own log of the run goes to a file whose path it prints. `--json` prints the result
as one JSON document instead. Nothing reaches AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

from devtools.local_airflow import (
    DAGS,
    REGION,
    ROOT,
    SAMPLE_EXPORT,
    LakeWrites,
    free_port,
    lake_objects,
    prepare_airflow,
    seed,
    stand_in_environment,
)


class ImportTimeIO(RuntimeError):
    """Raised when a DAG file reaches the network while it is imported."""


def forbid_network() -> None:
    """Make any connection attempt fail, so a DAG file doing I/O at import shows up as an import error."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ImportTimeIO("network access while the DAG file is imported: move it into a task")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def check(dags: Path) -> dict[str, Any]:
    """Parse a DAG folder the way the dag-processor does, with the network forbidden, and report what the
    DAG policy tests look at."""
    from airflow.dag_processing.dagbag import BundleDagBag

    forbid_network()
    started = time.perf_counter()
    bag = BundleDagBag(dag_folder=dags, bundle_path=dags, bundle_name="dags-folder", safe_mode=False)
    seconds = time.perf_counter() - started
    result = {}
    for dag_id, dag in sorted(bag.dags.items()):
        result[dag_id] = {
            "fileloc": Path(dag.fileloc).name,
            "owners": sorted({t.owner for t in dag.tasks}),
            "retries": sorted({t.retries or 0 for t in dag.tasks}),
            "execution_timeouts": sorted({str(t.execution_timeout) for t in dag.tasks}),
            "dagrun_timeout": str(dag.dagrun_timeout) if dag.dagrun_timeout else None,
            "tags": sorted(dag.tags),
            "timetable": type(dag.timetable).__name__,
            "catchup": dag.catchup,
            "tasks": [t.task_id for t in dag.tasks],
            "doc": bool(dag.doc_md),
        }
    files = sorted(p.name for p in dags.glob("*.py"))
    return {"import_errors": bag.import_errors, "dags": result, "files": files, "parse_seconds": seconds}


def watcher_event(names: dict[str, str]) -> dict[str, Any]:
    """Run the orders_events asset watcher's trigger once, as the triggerer would, and return its event."""
    import asyncio
    import importlib

    # The DAG bag put dags/ on the import path, as the DAG processor does for a bundle.
    module = importlib.import_module("orders_events")
    watcher = module.ORDERS_EVENTS.watchers[0]

    async def first_event() -> dict[str, Any]:
        async for event in watcher.trigger.trigger.run():
            return event.payload
        raise RuntimeError("the watcher's trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first_event(), timeout=60))


def run(dag_id: str, day: str, conf: dict[str, Any] | None, logical: bool = True) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        # moto keeps its accounts per process, not per server: each run starts from none (moto's reset API).
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - http, local
        urllib.request.urlopen(reset, timeout=30).close()  # noqa: S310
        names = {
            "LAKE_BUCKET": "local-lake",
            "ORDERS_SOURCE_BUCKET": "local-source",
            "ORDERS_EVENTS_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/orders-events",
        }
        os.environ.update(stand_in_environment(endpoint, names))
        clients = {name: boto3.client(name, endpoint_url=endpoint, region_name=REGION) for name in ("s3", "sqs")}
        seed(clients, names, day)
        queue_url = clients["sqs"].get_queue_url(QueueName="orders-events")["QueueUrl"]
        names["ORDERS_EVENTS_QUEUE_URL"] = os.environ["ORDERS_EVENTS_QUEUE_URL"] = queue_url

        from airflow.dag_processing.dagbag import BundleDagBag

        bag = BundleDagBag(dag_folder=DAGS, bundle_path=DAGS, bundle_name="dags-folder", safe_mode=False)
        if dag_id not in bag.dags:
            raise SystemExit(missing_dag_message(dag_id, bag.dags, bag.import_errors))

        extra: dict[str, Any] = {}
        if dag_id == "orders_events" and conf is None:
            # A new file announced on the queue; the watcher's trigger picks it up as in the triggerer.
            notification = {"bucket": names["ORDERS_SOURCE_BUCKET"], "key": f"exports/orders/{day}/orders-part-2.csv"}
            clients["sqs"].send_message(QueueUrl=queue_url, MessageBody=json.dumps(notification))
            event = watcher_event(names)
            extra["watcher_event"] = event
            conf = {"messages": [m["Body"] for m in event.get("message_batch", [])]}
        if dag_id == "orders_transform" and conf is None:
            for name, text in SAMPLE_EXPORT.items():  # what orders_ingest would have landed
                clients["s3"].put_object(Bucket=names["LAKE_BUCKET"], Key=f"raw/orders/dt={day}/{name}", Body=text)
            conf = {"date": day}

        # As the UI's Trigger button: a manual run may have no logical date (its day comes from its conf).
        logical_date = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC) if logical else None
        writes = LakeWrites(clients["s3"], names["LAKE_BUCKET"])
        writes.register()
        try:
            dag_run = bag.dags[dag_id].test(logical_date=logical_date, run_conf=conf)
        finally:
            writes.unregister()
        instances = sorted(dag_run.get_task_instances(), key=lambda ti: (ti.start_date is None, ti.start_date))
        started = min((ti.start_date for ti in instances if ti.start_date), default=None)
        contents = clients["s3"].list_objects_v2(Bucket=names["LAKE_BUCKET"]).get("Contents", [])
        return {
            "dag_id": dag_id,
            "date": day,
            "state": str(dag_run.state),
            "seconds": (dag_run.end_date - started).total_seconds() if dag_run.end_date and started else None,
            "tasks": {ti.task_id: str(ti.state) for ti in instances},
            "task_runs": [
                {
                    "task_id": ti.task_id,
                    "state": str(ti.state),
                    "seconds": ti.duration,
                    "wrote": writes.by_task.get(ti.task_id, []),
                }
                for ti in instances
            ],
            "sizes": {o["Key"]: o["Size"] for o in contents},
            "lake": lake_objects(clients["s3"], names["LAKE_BUCKET"]),
            **extra,
        }
    finally:
        server.stop()


def summary(result: dict[str, Any], log: Path) -> str:
    """What a DAG author reads after a run: one line per task, what it wrote, where the full log is."""
    took = f" in {result['seconds']:.1f} s" if result.get("seconds") is not None else ""
    lines = [f"{result['dag_id']} ({result['date']}): {result['state']}{took}"]
    rows = [("task", "state", "took", "wrote to the lake bucket")]
    for task in result["task_runs"]:
        wrote = [f"{key} ({result['sizes'][key]} B)" for key in task["wrote"]] or ["-"]
        seconds = f"{task['seconds']:.1f} s" if task["seconds"] is not None else "-"
        rows.append((task["task_id"], task["state"], seconds, wrote[0]))
        rows.extend(("", "", "", more) for more in wrote[1:])
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3] for row in rows]
    shown = os.path.relpath(log) if log.is_relative_to(Path.cwd()) else str(log)
    lines.append(f"Airflow's log of the run (task logs, moto's requests, warnings): {shown}")
    return "\n".join(line.rstrip() for line in lines)


class quiet_output:
    """Send everything written to stdout and stderr (Airflow's task logs, moto's request log, warnings, by
    this process and its children) to a file while the block runs."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def __enter__(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = os.dup(1), os.dup(2)
        self.file = self.log.open("w")
        os.dup2(self.file.fileno(), 1)
        os.dup2(self.file.fileno(), 2)

    def __exit__(self, kind: object, *_exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        os.close(self.saved[0])
        os.close(self.saved[1])
        self.file.close()
        if kind is not None and kind is not SystemExit:  # an unexpected error: the log says what led to it
            print(f"Airflow's log up to the failure: {self.log}", file=sys.stderr)


def import_error_report(import_errors: Any) -> str:
    """Each file that does not import (syntax, a missing module, a cycle), whole: its file, line and exception."""
    return "\n\n".join(
        f"{path} does not import:\n{str(error).rstrip()}" for path, error in sorted(import_errors.items())
    )


def missing_dag_message(dag_id: str, dags: Any, import_errors: Any) -> str:
    """Why a DAG is not there: a file that does not import says so, rather than as a DAG that does not exist."""
    found = f"no DAG {dag_id!r} in dags/; DAGs: {', '.join(sorted(dags)) or 'none'}"
    return f"{found}\n\n{import_error_report(import_errors)}" if import_errors else found


def add_run_arguments(runner: argparse.ArgumentParser) -> None:
    runner.add_argument("dag_id")
    runner.add_argument("--date", default="2026-11-24", help="logical date (YYYY-MM-DD) and sample export date")
    runner.add_argument("--conf", type=json.loads, default=None, help="run configuration (JSON)")
    runner.add_argument(
        "--no-logical-date", action="store_true", help="run as the UI's Trigger button does, without a logical date"
    )
    runner.add_argument("--json", action="store_true", help="print the result as one JSON document")


def run_logged(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """One `run`, Airflow's output sent to its log file; the result names that file."""
    log = home / "logs" / f"dag-test-{args.dag_id}-{args.date}.log"
    with quiet_output(log):
        prepare_airflow(home)
        result = run(args.dag_id, args.date, args.conf, logical=not args.no_logical_date)
    result["log"] = str(log)
    return result


class _LineParser(argparse.ArgumentParser):
    """`run`'s arguments read from a line of `runs`: a usage error is that line's answer, not the end."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def run_each(home: Path, lines: Iterable[str]) -> int:
    """`runs`: each line read is one `run`'s arguments as a JSON list; each answer is one JSON line, with the
    exit status `run` would give. Airflow is imported and its execution API built once for them all."""
    parser = _LineParser(prog="runs")
    add_run_arguments(parser)
    for line in lines:
        if not line.strip():
            continue
        try:
            argv = json.loads(line)
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
                raise ValueError("a line is a JSON list of run's arguments, each a string")
            args = parser.parse_args(argv)
        except ValueError as error:
            answer: dict[str, Any] = {"code": 2, "result": {}, "error": str(error)}
        else:
            try:
                result = run_logged(args, home)
                answer = {"code": 0 if result["state"] == "success" else 1, "result": result}
            except SystemExit as stop:  # a DAG that is not there: said as `run` says it
                message = stop.code if isinstance(stop.code, str) else ""
                answer = {"code": stop.code if isinstance(stop.code, int) else 1, "result": {}, "error": message}
            except Exception as error:  # a failure of the run itself: told, and the next run still runs
                answer = {"code": 1, "result": {}, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer, default=str), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run and check the DAGs in dags/ locally.")
    commands = parser.add_subparsers(dest="command", required=True)
    checker = commands.add_parser("check", help="parse dags/ and print facts about every DAG as JSON")
    checker.add_argument("--dags", type=Path, default=DAGS, help="the DAG folder (default: dags/)")
    runner = commands.add_parser("run", help="one run of a DAG with dag.test(), on local stand-ins")
    add_run_arguments(runner)
    commands.add_parser(
        "runs", help="several runs in one process: each line of input is a run's arguments as a JSON list"
    )
    args = parser.parse_args(argv)

    home = Path(os.environ.get("AIRFLOW_HOME", ROOT / ".airflow-local" / "dag-test"))
    if args.command == "check":
        prepare_airflow(home)
        # Airflow logs to stdout as well: the result is the last line, as one JSON document.
        print(json.dumps(check(args.dags.resolve()), default=str))
        return 0
    if args.command == "runs":
        return run_each(home, sys.stdin)
    result = run_logged(args, home)
    print(json.dumps(result, default=str) if args.json else summary(result, Path(result["log"])))
    return 0 if result["state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
