"""Airflow on this machine for DAG authors: `airflow standalone` with dags/ live, AWS stood in by moto.

    uv run python tools/dev.py [--port 8080]        (or `make dev`)

Starts a moto server with the buckets and queue the example DAGs use (and sample exports for the last week),
then `airflow standalone` (api-server, scheduler, dag-processor, triggerer; SQLite in .airflow-local/) with
dags/ as its DAG folder, and prints the UI address. Edit a file in dags/ and it is re-parsed within about
30 seconds. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dag_harness import REGION, ROOT, airflow_environment, free_port, prepare_airflow, seed, stand_in_environment


def wait_for(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local server
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(2)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Airflow locally with dags/ and AWS stand-ins.")
    parser.add_argument("--port", type=int, default=8080, help="port of the Airflow UI (default 8080)")
    parser.add_argument("--startup-timeout", type=float, default=180)
    args = parser.parse_args(argv)

    import boto3
    from moto.server import ThreadedMotoServer

    home = Path(os.environ.get("AIRFLOW_HOME", ROOT / ".airflow-local"))
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
        "AIRFLOW__API__BASE_URL": f"http://localhost:{args.port}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    }
    airflow = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, start_new_session=True)
    try:
        url = f"http://localhost:{args.port}"
        if not wait_for(f"{url}/api/v2/monitor/health", args.startup_timeout):
            print(f"Airflow did not answer on {url} within {args.startup_timeout:.0f} s", file=sys.stderr)
            return 1
        print(
            f"\nAirflow UI: {url}  (no login locally: every user is an admin)\n"
            f"DAG folder: {ROOT / 'dags'} (changes are picked up within ~30 s; new DAGs start paused)\n"
            f"AWS stand-in (moto): {endpoint}  buckets local-lake, local-source; queue orders-events\n"
            "Stop with Ctrl-C.\n",
            flush=True,
        )
        return airflow.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if airflow.poll() is None:
            os.killpg(airflow.pid, signal.SIGTERM)
            try:
                airflow.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(airflow.pid, signal.SIGKILL)
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
