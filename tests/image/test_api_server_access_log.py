"""The waker's reading of UI use without a load balancer, against the real api-server's access log.

Airflow's api-server logs each finished request (airflow/api_fastapi/common/http_access_log.py, "request
finished", logger http.access); the awslogs driver sends each stdout line to the component's log group as one
event (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html). Here the real
`airflow api-server` runs with a container's environment, is asked what a person's browser and tools ask and
what a worker asks, and the lines it prints go through CloudWatch Logs (moto) to the real waker."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.waker.ui_activity import person_requests, request_path
from standin.waker_world import moto_world

PERSON = ("/api/v2/version", "/api/v2/dags?limit=5", "/ui/dags", "/auth/login/")
MACHINE = ("/execution/task-instances/01a2/heartbeat", "/api/v2/monitor/health")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:  # 401, 404 and the like are answered, and logged, all the same
        return error.code


@pytest.fixture(scope="module")
def api_server_lines(container_env, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("api-server") / "api-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--host", "127.0.0.1"],
            env=container_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 180
            while ask_quietly(base) != 200:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.time() < deadline, "the api-server did not answer its health check in 3 minutes"
                time.sleep(1)
            for path in PERSON + MACHINE:
                ask(base, path)
            time.sleep(2)  # the last lines flushed
        finally:
            process.terminate()
            process.wait(timeout=60)
    return log.read_text().splitlines()


def ask_quietly(base: str) -> int | None:
    try:
        return ask(base, "/api/v2/monitor/health")
    except OSError:
        return None


def test_each_request_a_person_makes_counts_and_none_the_stack_makes(api_server_lines):
    paths = [p for p in map(request_path, api_server_lines) if p is not None]
    # Every request asked was logged, health excepted (Airflow leaves it out of the access log).
    assert {p.split("?")[0] for p in PERSON} | {MACHINE[0]} <= set(paths), api_server_lines[-40:]
    assert person_requests(api_server_lines) == len(PERSON)


def test_the_waker_stays_awake_while_a_person_uses_the_ui_and_sleeps_after(api_server_lines):
    with moto_world(api_server_log=True, idle_minutes=15) as world:
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
        world.report(start, next_due_in=None)
        world.invoke({"action": "wake", "holdMinutes": 0, "reason": "a person"}, start)
        for minute in range(0, 40, 5):  # someone clicking around every 5 minutes for 40 minutes
            at = start + timedelta(minutes=minute)
            world.report(at, next_due_in=None)
            world.api_server_logs(at, api_server_lines)
            answer = world.invoke({"action": "tick"}, at + timedelta(minutes=1))
            assert answer["state"] == "awake" and "UI request(s)" in answer["reason"], answer["reason"]
        machine_only = [line for line in api_server_lines if (request_path(line) or "").startswith("/execution/")]
        assert machine_only
        states = []
        for minute in range(40, 70, 5):  # then only the stack's own traffic: it goes to sleep once idle
            at = start + timedelta(minutes=minute)
            world.report(at, next_due_in=None)
            world.api_server_logs(at, machine_only)
            states.append(world.invoke({"action": "tick"}, at + timedelta(minutes=1))["state"])
        assert states[-1] == "asleep", states


@given(st.text(max_size=300))
def test_no_line_that_is_not_a_finished_request_counts(line):
    if "request finished" not in line:
        assert person_requests([line]) == 0


@given(st.text(alphabet=st.characters(blacklist_categories=("Zs", "Cc")), max_size=60))
def test_no_request_of_the_execution_api_counts(rest):
    line = f"2026-12-06T08:28:57Z [info     ] request finished [http.access] method=PUT path=/execution/{rest} query="
    assert person_requests([line]) == 0
    json_line = '{"event": "request finished", "logger": "http.access", "path": "/execution/' + rest + '"}'
    assert person_requests([json_line]) == 0
