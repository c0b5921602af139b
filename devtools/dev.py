"""Airflow on this machine for DAG authors: `airflow standalone` with dags/ live, AWS stood in by moto.

    uv run python -m devtools.dev [--port 8080]        (or `make dev [PORT=8080]`)

Starts a moto server with the buckets and queue the example DAGs use (and sample exports for the last week),
then `airflow standalone` (api-server, scheduler, dag-processor, triggerer; SQLite in .airflow-local/dev/)
with dags/ as its DAG folder, and prints the UI address. Edit a file in dags/ and it is re-parsed within
about 30 seconds.

Ctrl-C, `kill`, a closed terminal, or the death of the process that started it (make, uv) stop everything:
Airflow runs in its own process group, which is stopped as a whole. A second `make dev` finds one that
is still running and says so, and stops an Airflow an earlier one left behind (if it was killed with -9).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from devtools.local_airflow import (
    REGION,
    ROOT,
    airflow_environment,
    free_port,
    prepare_airflow,
    seed,
    stand_in_environment,
)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)


class Stopped(Exception):
    """A signal asked `make dev` to stop."""


def wait_for(url: str, seconds: float, alive: threading.Event) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local server
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(2)
    return False


def process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_commands(pgid: int) -> list[str]:
    """The command lines of the live processes in process group `pgid` (ps works on Linux and macOS; -ww: whole
    command lines, which ps otherwise cuts to the terminal's width); exited ones awaiting reaping (zombies) do
    not count."""
    listing = subprocess.run(["ps", "-A", "-ww", "-o", "pgid=,stat=,command="], capture_output=True, text=True).stdout
    commands = []
    for line in listing.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == str(pgid) and not parts[1].startswith("Z"):
            commands.append(parts[2])
    return commands


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop_group(pgid: int, grace: float = 30) -> None:
    """SIGTERM to the whole group, then SIGKILL to what is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_commands(pgid):
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def check_earlier_run(record: Path, port: int) -> str | None:
    """An error if another `make dev` runs or holds the port; stops an Airflow an earlier one left behind."""
    if record.exists():
        try:
            earlier = json.loads(record.read_text())
        except ValueError:
            earlier = {}
        pid, pgid = earlier.get("pid"), earlier.get("airflowProcessGroup")
        if isinstance(pid, int) and process_running(pid) and pid != os.getpid():
            return (
                f"`make dev` is already running (pid {pid}, UI http://localhost:{earlier.get('port')}): "
                f"use it, or stop it with Ctrl-C in its terminal or `kill {pid}`"
            )
        if isinstance(pgid, int) and any("airflow" in c for c in group_commands(pgid)):
            print(f"Stopping a stale Airflow left by an earlier `make dev` (process group {pgid})", flush=True)
            stop_group(pgid)
        record.unlink(missing_ok=True)
    if port_taken(port):
        return f"port {port} is in use by another program: choose another with `make dev PORT=8081` (--port)"
    return None


def raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def watch_parent(alive: threading.Event) -> None:
    """If whatever started us (make, uv) dies without passing a signal on, stop as if it had."""
    parent = os.getppid()
    while alive.is_set():
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Airflow locally with dags/ and AWS stand-ins.")
    parser.add_argument("--port", type=int, default=8080, help="port of the Airflow UI (default 8080)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the UI listens on (default 127.0.0.1: this machine only; every local user is an admin, so "
        "0.0.0.0 lets anyone on the network trigger DAGs)",
    )
    parser.add_argument("--startup-timeout", type=float, default=300, help="seconds to wait for the UI")
    args = parser.parse_args(argv)

    # dag-test keeps its own home: runs one of them makes never collide with the other's.
    home = Path(os.environ.get("AIRFLOW_HOME", ROOT / ".airflow-local" / "dev"))
    home.mkdir(parents=True, exist_ok=True)
    record = home / "dev.json"
    problem = check_earlier_run(record, args.port)
    if problem:
        print(problem, file=sys.stderr)
        return 2

    for signum in STOP_SIGNALS:
        signal.signal(signum, raise_stopped)
    alive = threading.Event()
    alive.set()
    threading.Thread(target=watch_parent, args=(alive,), daemon=True).start()

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's log of every request it serves
    airflow: subprocess.Popen[bytes] | None = None
    airflow_log: BinaryIO | None = None
    moto = None
    try:
        print("Preparing the local Airflow database...", flush=True)
        prepare_airflow(home)
        moto_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        moto.start()
        endpoint = f"http://127.0.0.1:{moto_port}"
        names = {"LAKE_BUCKET": "local-lake", "ORDERS_SOURCE_BUCKET": "local-source"}
        os.environ.update(stand_in_environment(endpoint, names))
        clients = {name: boto3.client(name, endpoint_url=endpoint, region_name=REGION) for name in ("s3", "sqs")}
        today = datetime.now(UTC).date()
        seed(clients, names, *(str(today - timedelta(days=n)) for n in range(7)))  # a week of sample exports
        os.environ["ORDERS_EVENTS_QUEUE_URL"] = clients["sqs"].get_queue_url(QueueName="orders-events")["QueueUrl"]

        env = {
            **os.environ,
            **airflow_environment(home),
            "AIRFLOW__API__PORT": str(args.port),
            "AIRFLOW__API__HOST": args.host,
            # The LocalExecutor starts `parallelism` worker processes (32 by default): one per core is plenty here.
            "AIRFLOW__CORE__PARALLELISM": str(max(2, os.cpu_count() or 2)),
            "AIRFLOW__API__BASE_URL": f"http://localhost:{args.port}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        }
        # Its own session, so the whole tree (api-server workers, scheduler, executors) stops as one group.
        # Airflow's own output (every request, every parse: a thousand lines in five minutes) goes to a file, so
        # the address stays the last thing on the screen.
        airflow_log = (home / "standalone.log").open("ab")
        airflow = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            start_new_session=True,
            stdout=airflow_log,
            stderr=subprocess.STDOUT,
        )
        record.write_text(json.dumps({"pid": os.getpid(), "airflowProcessGroup": airflow.pid, "port": args.port}))
        print("Starting Airflow (api-server, scheduler, dag-processor, triggerer)...", flush=True)
        url = f"http://localhost:{args.port}"
        if not wait_for(f"{url}/api/v2/monitor/health", args.startup_timeout, alive):
            print(
                f"Airflow did not answer on {url} within {args.startup_timeout:.0f} s: see {home / 'standalone.log'}",
                file=sys.stderr,
            )
            return 1
        print(
            f"\nDAG folder: {ROOT / 'dags'} (changes are picked up within ~30 s; new DAGs start paused)\n"
            f"AWS stand-in (moto): {endpoint}  buckets local-lake, local-source; queue orders-events\n"
            f"Airflow's own output: {home / 'standalone.log'}\n"
            f"Stop with Ctrl-C (or `kill {os.getpid()}`).\n"
            f"Airflow UI: {url}  (no login locally: every user is an admin)",
            flush=True,
        )
        return airflow.wait()
    except (Stopped, KeyboardInterrupt):
        return 0
    finally:
        alive.clear()
        for signum in STOP_SIGNALS:  # a second Ctrl-C must not interrupt the clean-up
            signal.signal(signum, signal.SIG_IGN)
        if airflow is not None:
            stop_group(airflow.pid)
            airflow.wait()
        if airflow_log is not None:
            airflow_log.close()
        if moto is not None:
            moto.stop()
        record.unlink(missing_ok=True)
        print("Stopped Airflow and the AWS stand-in.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
