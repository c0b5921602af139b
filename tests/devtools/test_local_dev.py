"""`make dev` gives a DAG author a working local Airflow (UI up, every component healthy, dags/ parsed), and
stopping it by any signal leaves nothing running."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from devtools.dev import group_commands, port_taken
from devtools.local_airflow import free_port

ROOT = Path(__file__).resolve().parents[2]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def local_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "MAKE"))}
    env["AIRFLOW_HOME"] = str(home)
    env["COLUMNS"] = "60"  # a narrow terminal: ps must still report whole command lines (a CI run found it)
    return env


def gone_within(seconds: float, check) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def test_local_airflow_starts_with_the_dags_and_sigterm_to_make_stops_all_of_it(tmp_path, local_airflow_home):
    port = free_port()
    local_airflow_home(tmp_path / "home")  # as a second `make dev` finds it: migrated once
    make = subprocess.Popen(
        ["make", "--no-print-directory", "dev", f"PORT={port}"],
        cwd=ROOT,
        env=local_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 330
        assert make.stdout is not None
        for line in make.stdout:
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
        # Its own output is a few lines with the address last; Airflow's (a thousand lines in five minutes, which
        # scrolled the address away) goes to a file, and nothing more reaches the screen while Airflow works.
        assert len(output) <= 15 and output[-1].startswith("Airflow UI: "), "".join(output)
        assert not select.select([make.stdout], [], [], 2)[0], make.stdout.readline()
        assert "scheduler" in (tmp_path / "home" / "standalone.log").read_text(errors="replace").lower()
        # This machine only, by default (every local user is an admin), and no more processes than it needs.
        addresses = [c.laddr for c in psutil.net_connections(kind="inet") if c.status == "LISTEN"]
        listening = {a[0] for a in addresses if len(a) == 2 and a[1] == port}

        assert listening == {"127.0.0.1"}, listening

        # `kill <pid of make>`: only make gets the signal, not its process group (unlike Ctrl-C).
        record = json.loads((tmp_path / "home" / "dev.json").read_text())
        airflow_group = record["airflowProcessGroup"]
        assert any("airflow" in c for c in group_commands(airflow_group))
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=90)
        assert gone_within(30, lambda: not group_commands(airflow_group)), group_commands(airflow_group)
        assert gone_within(10, lambda: not group_commands(make.pid)), group_commands(make.pid)
        assert not port_taken(port)
        assert not (tmp_path / "home" / "dev.json").exists()
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)


def dev(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.dev", *args],
        cwd=ROOT,
        env=local_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_a_second_make_dev_says_one_is_running(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dev.json").write_text(json.dumps({"pid": os.getpid(), "airflowProcessGroup": 1, "port": 8123}))
    second = dev(home, "--port", str(free_port()))
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 2
    assert f"`make dev` is already running (pid {os.getpid()}, UI http://localhost:8123)" in out


def test_a_taken_port_is_named_with_the_way_out(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        second = dev(tmp_path / "home", "--port", str(port))
        out, _ = second.communicate(timeout=60)
    assert second.returncode == 2
    assert f"port {port} is in use by another program" in out and "make dev PORT=" in out


def test_an_airflow_left_by_a_killed_make_dev_is_found_and_stopped(tmp_path):
    # What `kill -9` of an earlier `make dev` leaves: its record, and Airflow's group still running.
    stale = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", "airflow", "standalone"], start_new_session=True
    )
    home = tmp_path / "home"
    home.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (home / "dev.json").write_text(json.dumps({"pid": dead.pid, "airflowProcessGroup": stale.pid, "port": 8124}))
    second = dev(home, "--port", str(free_port()))
    try:
        assert second.stdout is not None
        lines = []
        for line in second.stdout:
            lines.append(line)
            if "Preparing the local Airflow database" in line:
                break
        assert f"Stopping a stale Airflow left by an earlier `make dev` (process group {stale.pid})" in "".join(lines)
        assert stale.wait(timeout=40) == -signal.SIGTERM
        # A SIGTERM while it is still starting stops it cleanly too.
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
        assert gone_within(10, lambda: not group_commands(second.pid))
    finally:
        for process in (stale, second):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
