"""`make dev` gives a DAG author a working local Airflow: UI up, every component healthy, dags/ parsed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_local_airflow_starts_with_the_dags(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "home")
    process = subprocess.Popen(
        [sys.executable, "tools/dev.py", "--port", str(port), "--startup-timeout", "240"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Airflow UI:" in line or time.monotonic() > deadline:
                break
        assert any(f"Airflow UI: http://localhost:{port}" in line for line in output), "".join(output[-50:])
        health = get(f"http://localhost:{port}/api/v2/monitor/health")
        assert {health[c]["status"] for c in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {"healthy"}
        dag_ids: set[str] = set()
        for _ in range(30):  # the first parse of dags/ takes a few seconds
            dag_ids = {d["dag_id"] for d in get(f"http://localhost:{port}/api/v2/dags")["dags"]}
            if {"orders_ingest", "orders_events", "orders_transform"} <= dag_ids:
                break
            time.sleep(2)
        assert {"orders_ingest", "orders_events", "orders_transform"} <= dag_ids
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
