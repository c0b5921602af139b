"""The worker's scale-in protection against a stand-in ECS agent endpoint: protected by its first task,
released after its last, and never failing a task when the agent cannot be reached."""

from __future__ import annotations

import importlib
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


@pytest.fixture(scope="module")
def worker_protection():
    """The module, imported by the worker that runs these tests only: it imports Airflow's Celery configuration
    (seconds), which every other worker would otherwise pay for at collection."""
    return importlib.import_module("image.worker_protection")


@pytest.fixture
def agent(monkeypatch, tmp_path):
    calls: list[dict] = []

    class Agent(BaseHTTPRequestHandler):
        def do_PUT(self):
            assert self.path == "/task-protection/v1/state"
            calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"protection": {"ProtectionEnabled": calls[-1]["ProtectionEnabled"]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Agent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ECS_AGENT_URI", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("AIRFLOW_WORKER_PROTECTION_STATE", str(tmp_path / "running"))
    monkeypatch.setenv("AIRFLOW_WORKER_PROTECTION_MINUTES", "360")
    yield calls
    server.shutdown()


def test_protected_by_the_first_task_and_released_after_the_last(worker_protection, agent):
    worker_protection._worker_starting()
    worker_protection._task_started()
    worker_protection._task_started()  # a second pool process takes a task
    worker_protection._task_finished()
    assert agent == [{"ProtectionEnabled": True, "ExpiresInMinutes": 360}], "still one task running"
    worker_protection._task_finished()
    assert agent[-1] == {"ProtectionEnabled": False}


def test_a_new_worker_forgets_a_count_left_by_one_that_died(worker_protection, agent, tmp_path):
    (tmp_path / "running").write_text("3")
    worker_protection._worker_starting()
    worker_protection._task_started()
    worker_protection._task_finished()
    assert [c["ProtectionEnabled"] for c in agent] == [True, False]


def test_an_unreachable_agent_never_fails_a_task(worker_protection, monkeypatch, tmp_path):
    monkeypatch.setenv("ECS_AGENT_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("AIRFLOW_WORKER_PROTECTION_STATE", str(tmp_path / "running"))
    worker_protection._task_started()
    worker_protection._task_finished()


def test_without_an_agent_nothing_is_called(worker_protection, monkeypatch, tmp_path):
    monkeypatch.delenv("ECS_AGENT_URI", raising=False)
    assert worker_protection.set_protection(True) is False
