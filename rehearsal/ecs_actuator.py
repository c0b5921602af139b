"""ECS on one machine: each service's desired count, as the waker sets it in the stand-in, becomes containers.

A task is started as Fargate starts it: its `wait-for-migrations` container first (it must succeed), then
its containers, each a container of the built image (rehearsal/containers.py: the image's entrypoint, user
and files) running the task definition's command, with the task definition's environment, its secrets read
with the execution role, and the task role's credentials (rehearsal/ecs_tasks.py). A task stops as ECS stops
it: SIGTERM to each container's init (dumb-init), then SIGKILL after the container's stopTimeout. A service
may be made unplaceable (`unplaceable`): its desired count then starts nothing, as Fargate without capacity
for it. A scale-in
stops unprotected tasks only: a worker that holds a task protects itself through the ECS agent's
task-protection endpoint, which this actuator serves per task and forwards to the stand-in's
UpdateTaskProtection with the task role's credentials, as the agent does. Running counts are written back for
the stand-in's DescribeServices.

What differs from Fargate, so that the tasks can share one machine: every task listens on 127.0.0.1 on a
port of its own (the api-server's address replaces its Cloud Map name), the api-server runs one worker
process instead of four, AWS is the stand-in's endpoint (AWS_ENDPOINT_URL) and the image is built for this
machine's architecture.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from contracts.metrics import INTERVAL_VARIABLE
from infra.airflow_env import WAIT_FOR_MIGRATIONS
from rehearsal.containers import ContainerProcess, ImageRuntime
from rehearsal.ecs_tasks import Container, container, container_environment
from rehearsal.timeline import Timeline
from standin.seed import SeededStack

REPORTER_SECONDS = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Task:
    arn: str
    component: str
    home: Path
    runtime: ImageRuntime
    containers: dict[str, Container]
    environments: dict[str, dict[str, str]]
    phase: str = "PENDING"  # PENDING (init container), RUNNING, STOPPING, STOPPED
    processes: dict[str, ContainerProcess] = field(default_factory=dict)
    protected: bool = False
    stopping_since: float = 0.0
    agent: ThreadingHTTPServer | None = None

    @property
    def short(self) -> str:
        return self.arn.rsplit("/", 1)[-1][:8]

    def launch(self, name: str) -> None:
        with (self.home / f"{name}.log").open("ab") as log:
            label = f"{self.component}-{self.short}-{name}"
            self.processes[name] = self.runtime.start(
                label, self.containers[name].command, self.environments[name], log
            )

    def essential(self) -> ContainerProcess | None:
        return self.processes.get(self.component)

    def signal_all(self, number: int) -> None:
        for name, process in self.processes.items():
            if name != WAIT_FOR_MIGRATIONS and process.poll() is None:
                process.send_signal(number)

    def kill_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()

    def remove_containers(self) -> None:
        for process in self.processes.values():
            self.runtime.remove(process)


class Actuator:
    def __init__(
        self, seeded: SeededStack, workdir: Path, timeline: Timeline, image: str, airflow: dict[str, str] | None = None
    ) -> None:
        self.seeded = seeded
        self.airflow = dict(airflow or {})  # Airflow settings every task gets on top of its definition's
        self.runtime = ImageRuntime(image)
        self.workdir = workdir
        self.timeline = timeline
        self.api_port = free_port()
        self.ecs = seeded.stand_in.client("ecs")
        self.cluster = seeded.recording.one("aws:ecs/cluster:Cluster").outputs["name"]
        self.services = {
            s.outputs["name"]: s.outputs["name"] for s in seeded.recording.of_type("aws:ecs/service:Service")
        }
        self.tasks: dict[str, list[Task]] = {name: [] for name in self.services}
        self.started: dict[str, int] = dict.fromkeys(self.services, 0)
        self._stop = threading.Event()
        self._stepping = threading.Lock()  # one step at a time: the loop's, or a scenario's (step_now)
        self._thread: threading.Thread | None = None
        self.kept: set[str] = set()
        # Services whose tasks ECS cannot place (no capacity): RunTask's "Capacity is unavailable", as a
        # service event, and no task; emptied, they are placed again.
        self.unplaceable: set[str] = set()
        self._refused: set[str] = set()
        self.one_offs: set[str] = set()  # RunTask's tasks seen

    # --- one task -------------------------------------------------------------------------------------------

    def overrides(self, component: str) -> dict[str, str]:
        """What differs on one machine: addresses and ports (see the module's docstring)."""
        base = f"http://127.0.0.1:{self.api_port}"
        extra = {
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__API__BASE_URL": base,
            INTERVAL_VARIABLE: str(REPORTER_SECONDS),
            **self.airflow,
        }
        if component == "api-server":
            extra.update(
                AIRFLOW__API__PORT=str(self.api_port), AIRFLOW__API__HOST="127.0.0.1", AIRFLOW__API__WORKERS="1"
            )
        if component == "worker":
            extra["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        if component == "triggerer":
            extra["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
        return extra

    def new_task(self, component: str) -> Task:
        arn = f"arn:aws-us-gov:ecs:us-gov-east-1:123456789012:task/{self.cluster}/{uuid.uuid4().hex}"
        home = self.workdir / "tasks" / f"{component}-{arn.rsplit('/', 1)[-1][:8]}"
        home.mkdir(parents=True)
        definitions = [c["name"] for c in self.seeded.containers(component)]
        containers = {name: container(self.seeded, component, name) for name in definitions}
        extra = self.overrides(component)
        task = Task(arn, component, home, self.runtime, containers, {})
        if component == "worker":
            task.agent = self._agent(task)
            extra["ECS_AGENT_URI"] = f"http://127.0.0.1:{task.agent.server_port}"
        for name, definition in containers.items():
            task.environments[name] = container_environment(self.seeded, definition, **extra)
        return task

    def _agent(self, task: Task) -> ThreadingHTTPServer:
        """The ECS agent's task-protection endpoint of one task, calling ECS with the task role."""
        ecs = self.seeded.stand_in.client_as(self.seeded.task_role(task.component), "ecs")
        cluster, timeline = self.cluster, self.timeline

        class Agent(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                enabled = bool(body.get("ProtectionEnabled"))
                try:
                    ecs.update_task_protection(
                        cluster=cluster,
                        tasks=[task.arn],
                        protectionEnabled=enabled,
                        **({"expiresInMinutes": int(body["ExpiresInMinutes"])} if "ExpiresInMinutes" in body else {}),
                    )
                    task.protected = enabled
                    answer: dict[str, Any] = {"protection": {"ProtectionEnabled": enabled, "TaskArn": task.arn}}
                    timeline("ecs", f"worker {task.short} scale-in protection {'on' if enabled else 'off'}")
                except Exception as error:
                    answer = {"failure": {"Reason": str(error), "Arn": task.arn}}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Agent)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def start_task(self, component: str) -> Task:
        task = self.new_task(component)
        self.tasks[component].append(task)
        self.started[component] += 1
        if WAIT_FOR_MIGRATIONS in task.containers:
            task.launch(WAIT_FOR_MIGRATIONS)
            self.timeline("ecs", f"{component} task {task.short} starting (wait-for-migrations)")
        else:  # no init container (the worker): its containers start at once
            self._run_containers(task)
        return task

    def _run_containers(self, task: Task) -> None:
        for name in task.containers:
            if name != WAIT_FOR_MIGRATIONS:
                task.launch(name)
        task.phase = "RUNNING"
        self.timeline(
            "ecs", f"{task.component} task {task.short} running: {' '.join(task.containers[task.component].command)}"
        )

    def stop_task(self, task: Task, why: str) -> None:
        if task.phase in ("STOPPING", "STOPPED"):
            return
        task.phase, task.stopping_since = "STOPPING", time.monotonic()
        task.signal_all(signal.SIGTERM)
        self.timeline("ecs", f"{task.component} task {task.short} stopping ({why}): SIGTERM")

    def _advance(self, task: Task) -> None:
        if task.phase == "PENDING":
            init = task.processes[WAIT_FOR_MIGRATIONS]
            if init.poll() is None:
                return
            if init.returncode != 0:
                task.phase = "STOPPED"
                self.timeline(
                    "ecs", f"{task.component} task {task.short} stopped: wait-for-migrations exited {init.returncode}"
                )
                task.remove_containers()
                return
            self._run_containers(task)
        elif task.phase == "RUNNING":
            main = task.essential()
            if main is not None and main.poll() is not None:
                task.signal_all(signal.SIGTERM)
                task.phase, task.stopping_since = "STOPPING", time.monotonic()
                self.timeline("ecs", f"{task.component} task {task.short} essential container exited {main.returncode}")
        elif task.phase == "STOPPING":
            alive = [p for n, p in task.processes.items() if n != WAIT_FOR_MIGRATIONS and p.poll() is None]
            timeout = task.containers[task.component].stop_timeout
            if not alive:
                task.phase = "STOPPED"
                codes = {n: p.returncode for n, p in task.processes.items() if n != WAIT_FOR_MIGRATIONS}
                self.timeline("ecs", f"{task.component} task {task.short} stopped {codes}")
            elif time.monotonic() - task.stopping_since > timeout:
                task.kill_all()
                task.phase = "STOPPED"
                self.timeline("ecs", f"{task.component} task {task.short} killed after its {timeout} s stop timeout")
        if task.phase == "STOPPED":
            task.remove_containers()
            if task.agent is not None:
                task.agent.shutdown()
                task.agent = None

    def running(self, component: str) -> list[Task]:
        return [t for t in self.tasks[component] if t.phase == "RUNNING"]

    def step(self) -> None:
        described = self.ecs.describe_services(cluster=self.cluster, services=list(self.services))["services"]
        desired = {s["serviceName"]: s["desiredCount"] for s in described}
        for component, tasks in self.tasks.items():
            for task in tasks:
                self._advance(task)
            active = [t for t in tasks if t.phase in ("PENDING", "RUNNING")]
            want = desired.get(component, 0)
            if component in self.unplaceable and want > len(active):
                if component not in self._refused:
                    self._refused.add(component)
                    self.timeline("ecs", f"(service {component}) was unable to place a task: Capacity is unavailable")
            else:
                self._refused.discard(component)
                for _ in range(want - len(active)):
                    self.start_task(component)
            surplus = len(active) - want
            if surplus > 0:
                # ECS stops unprotected tasks first, and never a protected one on scale-in.
                for task in [t for t in reversed(active) if not t.protected][:surplus]:
                    self.stop_task(task, f"desired count {want}")
                kept = [t for t in active if t.protected and t.phase == "RUNNING"]
                for task in kept:
                    if task.arn not in self.kept:
                        self.kept.add(task.arn)
                        self.timeline("ecs", f"{component} task {task.short} kept: scale-in protected")
            self.tasks[component] = [t for t in tasks if t.phase != "STOPPED"]
        counts = {c: len(self.running(c)) for c in self.tasks}
        self.seeded.stand_in.ecs_running_file.write_text(json.dumps(counts))

    def step_now(self) -> None:
        """One step, now: what ECS does at once with a desired count a scenario has just set."""
        with self._stepping:
            self.step()
            self._one_off_tasks()

    def interrupt(self, component: str) -> Task | None:
        """Stop one running task as ECS does for a Spot interruption or a deployment (SIGTERM, then SIGKILL)."""
        running = self.running(component)
        if not running:
            return None
        self.stop_task(running[0], "interrupted")
        return running[0]

    # --- one-off tasks ----------------------------------------------------------------------------------------

    def run_once(self, component: str, name: str, timeout: float = 900) -> int:
        """A one-off task (as RunTask): its container's command, waited for; the exit code."""
        task = self.new_task(component)
        task.launch(name)
        self.timeline("ecs", f"{component} task {task.short} running: {' '.join(task.containers[name].command)[:80]}")
        try:
            code = task.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            task.kill_all()
            code = -9
        task.remove_containers()
        self.timeline("ecs", f"{component} task {task.short} exited {code}")
        return code

    def _one_off_tasks(self) -> None:
        """Tasks started with RunTask (`airflow-stack smoke`): each runs its essential container with the command
        its overrides give, and is reported stopped with that container's exit code, as ECS reports it."""
        arns = [a for a in self.ecs.list_tasks(cluster=self.cluster)["taskArns"] if a not in self.one_offs]
        if not arns:
            return
        described = self.ecs.describe_services(cluster=self.cluster, services=list(self.services))["services"]
        component_of = {s["taskDefinition"]: s["serviceName"] for s in described}
        for found in self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]:
            arn = found["taskArn"]
            self.one_offs.add(arn)
            component = component_of.get(found["taskDefinitionArn"])
            if component is None or found.get("lastStatus") == "STOPPED":
                continue
            overrides = {o["name"]: o for o in (found.get("overrides") or {}).get("containerOverrides", [])}
            command = overrides.get(component, {}).get("command")
            threading.Thread(target=self._run_one_off, args=(arn, component, command), daemon=True).start()

    def _run_one_off(self, arn: str, component: str, command: list[str] | None) -> None:
        task = self.new_task(component)
        if command:
            task.containers[component] = dataclasses.replace(task.containers[component], command=list(command))
        task.launch(component)
        short = arn.rsplit("/", 1)[-1][:8]
        self.timeline("ecs", f"one-off {component} task {short} (RunTask): {' '.join(command or [])[:100]}")
        try:
            code = task.processes[component].wait(timeout=900)
        except subprocess.TimeoutExpired:
            task.kill_all()
            code = -9
        task.remove_containers()
        self.seeded.stand_in.stop_one_off(arn, component, code, "Essential container in task exited")
        self.timeline("ecs", f"one-off {component} task {short} exited {code}")

    # --- the loop -----------------------------------------------------------------------------------------------

    def start(self, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.step_now()
                except Exception as error:  # keep actuating; the timeline says what went wrong
                    self.timeline("ecs", f"actuator error: {error}")
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for tasks in self.tasks.values():
            for task in tasks:
                task.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for tasks in self.tasks.values():
            for task in tasks:
                for process in task.processes.values():
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=max(0.1, deadline - time.monotonic()))
                task.kill_all()
                if task.agent is not None:
                    task.agent.shutdown()
        self.runtime.shutdown()
