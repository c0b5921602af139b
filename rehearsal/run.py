"""`make rehearse`: the whole stack on one machine, real Airflow started and stopped by the real waker.

    uv run python -m rehearsal.run [--remove-permission worker:s3:PutObject] [--workdir DIR]

From the dev stack's own declarations (the program run under Pulumi's mocks, as `make plan` runs it):
- AWS is the stand-in (standin/): moto on loopback, seeded from the recording, IAM enforced as AWS
  does, every refusal named; Lambda invocations run the real handlers as their roles.
- ECS is the actuator (rehearsal/ecs_actuator.py): desired counts become containers of the image ECS runs,
  built here by `make image` (devtools/build_image.py), each with its task definition's command, environment,
  secrets and role; stops are SIGTERM to the container's dumb-init, then SIGKILL.
- The database is a local PostgreSQL, migrated by the migration task's own command.
- EventBridge Scheduler fires the waker's tick and its one-time wakes (rehearsal/schedules.py).
- DAGs are the example DAGs (and one probe DAG), shipped by airflow-stack deploy-dags as an operator.

Time is real, the intervals are shortened: the waker ticks every 10 s (not 60), sleeps after 1 idle minute
(not 10), wakes 2 minutes ahead of a due DAG (not 5), gives a boot 3 minutes, and treats the database as
starting in 1 minute (moto starts it at once); the activity reporter publishes every 15 s (not 60); a queued
task waits 60 s for a worker (`task_queued_timeout`, checked every 15 s), the same figure for Airflow and the
waker. Airflow's other intervals are its defaults, which these fit.

Scenarios, each checked from the stand-in's and Airflow's observable state; the run exits 1 on the first
failure, naming it, and on any IAM refusal, naming the call:
1. shipping DAGs wakes the stack, and they appear in the api-server's REST API;
2. a DAG due in a few minutes while everything is at zero: woken before the due time, its tasks run on a
   Celery worker through the SQS broker, their logs land in S3, the stack goes back to zero and the
   one-time wake for the next run exists;
3. a message on the event queue wakes the sleeping stack and the asset-watcher DAG runs for it;
4. a worker stopped while its task runs (a scale-in, then an interruption) loses no task;
5. a worker that cannot be placed: its task is failed by `task_queued_timeout`, the stack goes back to zero
   with the task's stale broker messages parked, stays there, and a new message still wakes it;
6. no call of any component is refused by IAM (and `--remove-permission` shows one that is);
7. `airflow-stack smoke` as a role holding exactly the generated deploying role's policies: it wakes the stack,
   its one-off trigger task (RunTask, run here in the image) triggers the smoke DAG, the task's log is read back
   from S3, and the stack goes back to zero.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_stack import bootstrap, deployer, operations, smoke
from airflow_stack.outputs import StackError, StackOutputs
from airflow_stack.preflight_command import declared
from contracts.waker import Sleep, Status, Wake, WakerVariable, to_event
from devtools.build_image import BuildError, ensure_image
from infra.components.database import connection_document
from offline.recording import load_stack_file, run_program
from rehearsal.airflow_state import AirflowApi, AirflowDatabase
from rehearsal.ecs_actuator import Actuator
from rehearsal.schedules import Schedules
from rehearsal.timeline import Timeline
from standin.postgres import running_postgres
from standin.seed import AIRFLOW_SECRET, SeededStack, seed
from standin.stand_in import ACCOUNT, REGION, StandIn, running_stand_in

ROOT = Path(__file__).resolve().parents[1]

STACK = "dev"
TICK_SECONDS = 10
# Airflow's queued-task timeout, shortened like the waker's intervals, and given to both: the scheduler fails a
# task no worker took (after its two requeues) and the waker judges broker messages stale by the same time.
QUEUED_TIMEOUT_SECONDS = 60
REHEARSAL_AIRFLOW = {
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(QUEUED_TIMEOUT_SECONDS),
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
}
REHEARSAL_WAKER = {
    "task_queued_timeout_seconds": QUEUED_TIMEOUT_SECONDS,
    "idle_minutes": 1,
    "wake_lead_minutes": 2,
    "boot_grace_minutes": 3,
    "reporter_stale_minutes": 2,
    "database_start_minutes": 1,
    "database_stop_after_minutes": 30,
    "start_limit_minutes": 6,
}
LAKE, SOURCE, EVENTS = "airflow-dev-lake", "airflow-dev-orders-source", "orders-events"
ORDERS_CSV = "order_id,customer_id,amount,currency,ordered_at\n1,c1,10.00,USD,2026-11-25T10:00:00Z\n"


class Failed(RuntimeError):
    pass


def arn(service: str, resource: str, *, regional: bool = True) -> str:
    return f"arn:aws-us-gov:{service}:{REGION if regional else ''}:{ACCOUNT}:{resource}"


def account_resources(stand_in: StandIn) -> dict[str, Any]:
    """What the DAGs read and write in the account, outside the stack: the lake, the source system's export
    bucket, the event queue, and the policy the stack's `workerPolicyArns` names."""
    s3 = stand_in.client("s3")
    for bucket in (LAKE, SOURCE):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    stand_in.client("sqs").create_queue(QueueName=EVENTS)
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws-us-gov:s3:::{b}" for b in (LAKE, SOURCE)],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws-us-gov:s3:::{b}/*" for b in (LAKE, SOURCE)],
            },
        ],
    }
    policy = stand_in.client("iam").create_policy(PolicyName="orders-data", PolicyDocument=json.dumps(document))
    return {
        "policy": policy["Policy"]["Arn"],
        "queue": arn("sqs", EVENTS),
        "queue_url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{EVENTS}",
    }


def stack_config(account: dict[str, Any], ingest_at: datetime) -> dict[str, Any]:
    """The dev stack's own settings, plus what the DAGs need from this account."""
    config = load_stack_file(STACK)
    services = json.loads(config["airflow:services"])
    services["environment"] = {
        "LAKE_BUCKET": LAKE,
        "ORDERS_SOURCE_BUCKET": SOURCE,
        "ORDERS_EVENTS_QUEUE_URL": account["queue_url"],
        "ORDERS_INGEST_SCHEDULE": f"{ingest_at.minute} {ingest_at.hour} * * *",
    }
    services["workerPolicyArns"] = [account["policy"]]
    waker = json.loads(config["airflow:waker"])
    waker["eventQueueArns"] = [account["queue"]]
    config.update({"airflow:services": json.dumps(services), "airflow:waker": json.dumps(waker)})
    return config


class Rehearsal:
    def __init__(
        self,
        seeded: SeededStack,
        actuator: Actuator,
        schedules: Schedules,
        timeline: Timeline,
        database_url: str,
        due: datetime,
        database: dict[str, Any],
    ) -> None:
        self.seeded = seeded
        self.due = due
        self.stand_in = seeded.stand_in
        self.actuator = actuator
        self.schedules = schedules
        self.timeline = timeline
        self.db = AirflowDatabase(database_url)
        self.database = database  # where the probe DAG tries to log in as the master user
        self.ecs = self.stand_in.client("ecs")
        self.refusals_seen = 0
        operator = self.operator_credentials()
        self.operator = lambda service: self.stand_in.client(service, operator)
        self.api = AirflowApi(
            f"http://127.0.0.1:{actuator.api_port}",
            "admin",
            json.loads(seeded.secret_values[AIRFLOW_SECRET])["admin_password"],
        )

    def operator_credentials(self) -> dict[str, str]:
        iam = self.stand_in.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws-us-gov:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName="rehearsal-operator", AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(RoleName="rehearsal-operator", PolicyArn=self.seeded.export("operatorPolicyArn"))
        return self.stand_in.credentials("rehearsal-operator")

    # --- observing -------------------------------------------------------------------------------------------

    def check_iam(self) -> None:
        refusals = self.stand_in.refusals()
        if len(refusals) > self.refusals_seen:
            first = refusals[self.refusals_seen]
            self.refusals_seen = len(refusals)
            raise Failed(f"IAM refused a call of role {first['principal']}: {first['operation']} ({first.get('why')})")

    def desired(self) -> dict[str, int]:
        services = self.ecs.describe_services(cluster=self.actuator.cluster, services=list(self.actuator.services))
        return {s["serviceName"]: s["desiredCount"] for s in services["services"]}

    def running(self) -> dict[str, int]:
        return {c: len(self.actuator.running(c)) for c in self.actuator.services}

    def asleep(self) -> bool:
        return not any(self.desired().values()) and not any(self.running().values())

    def wait(self, what: str, condition: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.check_iam()
            with contextlib.suppress(Exception):
                value = condition()
                if value:
                    self.timeline("check", f"ok: {what}")
                    return value
            if time.monotonic() > deadline:
                raise Failed(f"timed out after {timeout:.0f} s waiting for: {what}")
            time.sleep(every)

    def run_state(self, dag_id: str, run_id: str | None = None) -> dict[str, Any] | None:
        runs = self.db.runs(dag_id)
        if run_id:
            runs = [r for r in runs if r["run_id"] == run_id]
        return runs[-1] if runs else None

    def wait_for_run(self, dag_id: str, timeout: float, run_id: str | None = None) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            run = self.run_state(dag_id, run_id)
            if run and run["state"] == "failed":
                tis = self.db.task_instances(dag_id, run["run_id"])
                raise_failed = Failed(f"{dag_id} run {run['run_id']} failed: {tis}")
                self.timeline("airflow", str(raise_failed))
                raise raise_failed
            return run if run and run["state"] == "success" else None

        deadline = time.monotonic() + timeout
        reported: dict[str, str] = {}
        while True:
            self.check_iam()
            run = self.run_state(dag_id, run_id)
            if run:
                for ti in self.db.task_instances(dag_id, run["run_id"]):
                    key = f"{ti['task_id']}#{ti['try_number']}"
                    if reported.get(key) != ti["state"]:
                        reported[key] = ti["state"]
                        self.timeline(
                            "airflow", f"{dag_id} {run['run_id']}: {ti['task_id']} try {ti['try_number']} {ti['state']}"
                        )
            result = finished()
            if result:
                self.timeline("check", f"ok: {dag_id} run {result['run_id']} succeeded")
                return result
            if time.monotonic() > deadline:
                raise Failed(f"timed out after {timeout:.0f} s waiting for a successful {dag_id} run: last {run}")
            time.sleep(3)

    def one_time_wake(self) -> datetime | None:
        wakes = self.schedules.one_time_wakes()
        return wakes[0][1] if wakes else None

    # --- scenarios -------------------------------------------------------------------------------------------

    def migrate(self) -> None:
        self.timeline("scenario", "migrate: the migration task's own command against the local PostgreSQL")
        if self.actuator.run_once("migrate", "migrate") != 0:
            raise Failed("the migration task failed: see its log under tasks/migrate-*")

    def ship_dags(self) -> None:
        from airflow_stack import deploy_dags

        self.timeline("scenario", "1. ship the DAGs with airflow-stack deploy-dags (as an operator): the stack wakes")
        folder = Path(tempfile.mkdtemp(prefix="bundle-"))
        shutil.copytree(ROOT / "dags", folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        for probe in ("rehearsal_worker_stop.py", "rehearsal_task_secrets.py"):
            shutil.copy(ROOT / "rehearsal" / "dags" / probe, folder)
        result = deploy_dags.deploy(
            self.seeded.outputs(),
            folder=folder,
            clients=lambda name, region: self.operator(name),
            tests_pass=lambda _affected: True,  # `make check` runs the DAG tests; the rehearsal ships what passed
        )
        self.timeline(
            "aws",
            f"uploaded {len(result['uploaded'])} files to s3://{result['bucket']}/dags/; "
            f"waker: {(result['wake'] or {}).get('reason')}",
        )
        self.wait("the api-server answers", self.api.healthy, timeout=300)
        wanted = {
            "orders_events",
            "orders_ingest",
            "orders_transform",
            "rehearsal_worker_stop",
            "rehearsal_task_secrets",
        }
        self.wait("the shipped DAGs are in the REST API", lambda: wanted <= set(self.api.dag_ids()), timeout=300)
        # The source system's daily exports, so every orders_ingest run (the one unpausing starts for the
        # latest past schedule, and the due one) finds its files.
        s3 = self.stand_in.client("s3")
        for days in (-1, 0, 1):
            day = (self.due + timedelta(days=days)).date().isoformat()
            s3.put_object(Bucket=SOURCE, Key=f"exports/orders/{day}/orders.csv", Body=ORDERS_CSV.encode())
        for dag_id in sorted(wanted):
            self.api.unpause(dag_id)
        self.timeline("airflow", f"unpaused {', '.join(sorted(wanted))} (REST API)")
        # Unpausing runs orders_ingest for its latest past schedule, then orders_transform on its asset.
        self.wait_for_run("orders_ingest", timeout=300)
        self.wait_for_run("orders_transform", timeout=300)
        self.task_secrets()
        # The waker knows when a DAG is next due from the activity reporter: sleep once it has reported it.
        # (CloudWatch keeps one figure a minute, so the waker's idea of it may be up to a minute early: safe.)
        self.wait("the waker knows when orders_ingest is next due", self.knows_next_due, timeout=180)
        self.operator_sleep("DAGs shipped and unpaused")

    def task_secrets(self) -> None:
        """Task code on a worker finds no master credentials or keys, and cannot log in as the master user."""
        run_id = self.api.trigger("rehearsal_task_secrets", self.database)
        self.wait_for_run("rehearsal_task_secrets", timeout=300, run_id=run_id)
        s3, bucket = self.stand_in.client("s3"), self.seeded.export("dagBucket")
        prefix = f"logs/dag_id=rehearsal_task_secrets/run_id={run_id}/task_id=look/"
        keys = self.wait(
            "the probe's log is in S3",
            lambda: [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])],
            timeout=120,
        )
        log = "".join(s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode() for k in keys)
        found = re.search(r"task-secrets probe: [^\"\\]*", log)
        if not found or "reads no Airflow table" not in found.group(0):
            raise Failed(f"the probe's log does not report every check: {found.group(0) if found else log[-500:]}")
        self.timeline(
            "check",
            f"ok: task code on a worker holds no master credentials, Fernet key or admin password ({found.group(0)})",
        )

    def knows_next_due(self) -> bool:
        known = self.status().get("nextDueAt")
        return bool(known) and timedelta(0) <= self.due - datetime.fromisoformat(known) <= timedelta(minutes=2)

    def status(self) -> dict[str, Any]:
        return self.invoke_waker(to_event(Status()))

    def invoke_waker(self, event: dict[str, Any]) -> dict[str, Any]:
        answer = self.operator("lambda").invoke(
            FunctionName=self.seeded.export("wakerFunction"), Payload=json.dumps(event).encode()
        )
        return json.loads(answer["Payload"].read())

    def operator_sleep(self, reason: str) -> None:
        def slept() -> bool:
            # The waker sees the reporter's figures up to a minute late (CloudWatch keeps one a minute): ask
            # again, as an operator would, until it agrees that nothing is active.
            answer = self.invoke_waker(to_event(Sleep(reason=reason)))
            self.timeline("waker", f"sleep ({reason}): {answer.get('state')}: {answer.get('reason')}")
            return bool(answer.get("ok"))

        self.wait("the waker agrees to sleep", slept, timeout=180, every=15)
        self.wait("everything at zero", self.asleep, timeout=240)

    def scheduled_run(self, due: datetime) -> None:
        self.timeline("scenario", f"2. orders_ingest is due at {due:%H:%M:%S} while everything is at zero")
        self.wait("asleep before the due time", self.asleep, timeout=60)
        before = {r["run_id"] for r in self.db.runs("orders_ingest")}
        self.wait("the one-time wake for the due DAG", lambda: self.one_time_wake() is not None, timeout=120)
        self.wait(
            "the stack wakes",
            lambda: self.desired().get("scheduler", 0) > 0,
            timeout=max(30, (due - datetime.now(UTC)).total_seconds() + 60),
        )
        woke = datetime.now(UTC)
        if woke > due:
            raise Failed(f"woke at {woke:%H:%M:%S}, after the due time {due:%H:%M:%S}")
        self.timeline("check", f"ok: woke {int((due - woke).total_seconds())} s before the due time")
        new_run = self.wait(
            "the due run is created",
            lambda: next((r for r in self.db.runs("orders_ingest") if r["run_id"] not in before), None),
            timeout=300,
        )
        run = self.wait_for_run("orders_ingest", timeout=600, run_id=new_run["run_id"])
        tis = self.db.task_instances("orders_ingest", run["run_id"])
        s3 = self.stand_in.client("s3")
        bucket = self.seeded.export("dagBucket")
        for ti in tis:
            prefix = f"logs/dag_id=orders_ingest/run_id={run['run_id']}/task_id={ti['task_id']}/"
            self.wait(
                f"the log of {ti['task_id']} is in S3",
                lambda p=prefix: s3.list_objects_v2(Bucket=bucket, Prefix=p).get("KeyCount"),
                timeout=120,
            )
        landed = s3.list_objects_v2(Bucket=LAKE, Prefix="raw/orders/").get("KeyCount", 0)
        if not landed:
            raise Failed("orders_ingest succeeded but landed nothing in the lake")
        self.wait("everything back at zero", self.asleep, timeout=300)
        wake = self.wait("the one-time wake for the next run", self.one_time_wake, timeout=60)
        if not timedelta(hours=20) < wake - due < timedelta(hours=25):
            raise Failed(f"the next one-time wake {wake} is not about a day after {due}")
        self.timeline("check", f"ok: next wake {wake:%Y-%m-%d %H:%M} UTC (tomorrow's run, minus the lead)")

    def event_message(self, key: str) -> None:
        self.stand_in.client("s3").put_object(Bucket=SOURCE, Key=key, Body=ORDERS_CSV.encode())
        body = json.dumps({"bucket": SOURCE, "key": key})
        self.stand_in.client("sqs").send_message(
            QueueUrl=f"{self.stand_in.endpoint}/{ACCOUNT}/{EVENTS}", MessageBody=body
        )
        self.timeline("aws", f"message sent to the orders-events queue ({key})")

    def event_run(self) -> None:
        self.timeline("scenario", "3. a message on the event queue wakes the sleeping stack")
        self.event_message("events/orders-1.csv")
        self.wait("the stack wakes for the message", lambda: self.desired().get("scheduler", 0) > 0, timeout=120)
        self.wait_for_run("orders_events", timeout=600)
        landed = self.stand_in.client("s3").list_objects_v2(Bucket=LAKE, Prefix="raw/order_events/").get("KeyCount", 0)
        if not landed:
            raise Failed("orders_events succeeded but landed nothing")

    def worker_stop(self) -> None:
        self.timeline("scenario", "4. a worker stopped while its task runs: a scale-in, then an interruption")
        run_id = self.api.trigger("rehearsal_worker_stop")

        def running_ti() -> dict[str, Any] | None:
            tis = self.db.task_instances("rehearsal_worker_stop", run_id)
            return tis[0] if tis and tis[0]["state"] == "running" else None

        self.wait("the probe task runs on a worker", running_ti, timeout=300, every=1)
        protected = self.wait(
            "the worker protects itself from scale-in",
            lambda: any(t.protected for t in self.actuator.running("worker")),
            timeout=30,
            every=1,
        )
        del protected
        worker = self.actuator.running("worker")[0]
        # ECS acts on a desired count at once; the waker's next tick (every 10 s here) would restore it, so the
        # schedules wait while ECS handles the scale-in.
        with self.schedules.paused():
            self.ecs.update_service(cluster=self.actuator.cluster, service="worker", desiredCount=0)
            self.timeline("aws", "worker desired count set to 0 by hand (a scale-in)")
            self.actuator.step_now()
            time.sleep(5)
            self.actuator.step_now()
        if worker.arn not in self.actuator.kept:
            raise Failed("ECS (the actuator) never saw the scale-in of the busy worker")
        if worker.phase != "RUNNING":
            raise Failed("the scale-in stopped a worker that was running a task")
        self.timeline("check", "ok: the busy worker was kept through the scale-in")
        self.actuator.interrupt("worker")
        self.wait_for_run("rehearsal_worker_stop", timeout=400, run_id=run_id)
        ti = self.db.task_instances("rehearsal_worker_stop", run_id)[0]
        self.timeline("check", f"ok: the task finished (try {ti['try_number']}), no task lost")
        self.wait("the interrupted worker has stopped", lambda: worker.phase == "STOPPED", timeout=150)
        code = worker.processes["worker"].returncode
        if code != 0:
            raise Failed(f"the interrupted worker did not shut down warm: it exited {code}")
        self.timeline("check", "ok: the interrupted worker shut down warm (exit 0, after its task)")

    def back_to_zero(self) -> None:
        self.wait("everything back at zero", self.asleep, timeout=300)

    def broker_depth(self, queue_name: str) -> int:
        sqs = self.stand_in.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def unplaceable_worker(self) -> None:
        self.timeline("scenario", "5. a worker that cannot be placed: its task fails by task_queued_timeout")
        broker = self.seeded.export("brokerQueueName")
        parking = f"{broker.removesuffix('-celery')}-celery-dead-letter"
        parked_before = self.broker_depth(parking)
        self.actuator.unplaceable.add("worker")
        self.timeline("ecs", "no capacity for worker tasks from now on (every placement refused)")
        answer = self.invoke_waker(to_event(Wake(hold_minutes=1, reason="rehearsal: a task with no worker")))
        self.timeline("waker", f"wake: {answer.get('state')}: {answer.get('reason')}")
        self.wait("the api-server answers", self.api.healthy, timeout=300)
        run_id = self.api.trigger("rehearsal_task_secrets", self.database)
        self.timeline("airflow", f"triggered rehearsal_task_secrets ({run_id}): its task needs a worker")

        def failed() -> dict[str, Any] | None:
            tis = self.db.task_instances("rehearsal_task_secrets", run_id)
            return tis[0] if tis and tis[0]["state"] == "failed" else None

        # Queued, requeued twice (Airflow's stuck-in-queued retries), then failed: three timeouts and checks.
        ti = self.wait("the task is failed by task_queued_timeout", failed, timeout=9 * QUEUED_TIMEOUT_SECONDS)
        # Failing it stamps a start and an end; a task that ran would name the worker it ran on.
        if ti["hostname"] or self.actuator.running("worker"):
            raise Failed(f"the task ran although no worker could be placed: {ti}")
        self.timeline("check", f"ok: the task was failed by task_queued_timeout, never run ({ti['state']})")
        self.wait("everything back at zero with the stale messages parked", self.asleep, timeout=300)
        visible, parked = self.broker_depth(broker), self.broker_depth(parking) - parked_before
        if visible or not parked:
            raise Failed(f"the broker still shows {visible} message(s) and {parked} were parked")
        self.timeline("check", f"ok: back to zero; {parked} stale broker message(s) parked on {parking}")
        time.sleep(6 * TICK_SECONDS)
        if not self.asleep():
            raise Failed(f"the stale messages woke the stack again: {self.status().get('reason')}")
        self.timeline("check", f"ok: still asleep {6 * TICK_SECONDS} s later: parked messages wake nothing")
        self.actuator.unplaceable.clear()
        self.timeline("ecs", "capacity for worker tasks again")
        before = len(self.db.runs("orders_events"))
        self.event_message("events/orders-2.csv")
        self.wait("the stack wakes for a new message", lambda: self.desired().get("scheduler", 0) > 0, timeout=120)
        self.timeline("check", "ok: a new message still wakes the stack")
        self.wait("its run is created", lambda: len(self.db.runs("orders_events")) > before, timeout=300)
        self.wait_for_run("orders_events", timeout=600)
        self.back_to_zero()

    def deployer_credentials(self) -> dict[str, str]:
        """A role holding exactly the policies `airflow-stack deployer-policy --stack dev` writes."""
        iam = self.stand_in.client("iam")
        settings, types = declared(STACK, ROOT)
        target = deployer.target_of(settings, ACCOUNT)
        arns = [
            iam.create_policy(PolicyName=deployer.policy_name(STACK, index), PolicyDocument=json.dumps(document))[
                "Policy"
            ]["Arn"]
            for index, document in enumerate(
                deployer.documents(target, types, bootstrap.state_bucket_name(ACCOUNT, REGION)), start=1
            )
        ]
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
        }
        iam.create_role(RoleName="rehearsal-deployer", AssumeRolePolicyDocument=json.dumps(trust))
        for policy_arn in arns:
            iam.attach_role_policy(RoleName="rehearsal-deployer", PolicyArn=policy_arn)
        return self.stand_in.credentials("rehearsal-deployer")

    def smoke_test(self) -> None:
        self.timeline("scenario", "7. airflow-stack smoke, as the deploying role: wake, trigger, the log in S3, sleep")
        credentials = self.deployer_credentials()
        outputs = StackOutputs.of(STACK, self.seeded.outputs())

        def client(service: str) -> Any:
            return self.stand_in.client(service, credentials)

        stack = operations.Stack(outputs, client, operations.lambda_invoker(client("lambda"), outputs["wakerFunction"]))
        try:
            run_id = smoke.smoke(stack, out=lambda line: self.timeline("smoke", line))
        except StackError as error:
            raise Failed(f"airflow-stack smoke failed: {error}") from None
        self.check_iam()
        run = self.run_state(smoke.DAG_ID, run_id)
        if not run or run["state"] != "success":
            raise Failed(f"airflow-stack smoke passed but Airflow has its run as {run}")
        self.timeline("check", f"ok: airflow-stack smoke passed ({run_id} succeeded; the stack is asleep)")

    def final_counts(self) -> None:
        desired, running = self.desired(), self.running()
        self.timeline("check", f"final counts: desired {desired}, running {running}")
        started = dict(self.actuator.started)
        self.timeline("check", f"tasks started per service over the rehearsal: {started}")


def _strip(stand_in: StandIn, seeded: SeededStack, component: str, action: str) -> None:
    """Remove one action from a component's declared task-role policy (as seeded): the rehearsal must fail."""
    iam = stand_in.client("iam")
    role = seeded.task_role(component)
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    for statement in document["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    document["Statement"] = [s for s in document["Statement"] if s["Action"]]
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


@contextlib.contextmanager
def rehearsal_stack(workdir: Path, timeline: Timeline, remove: str | None) -> Iterator[Rehearsal]:
    with running_postgres() as pg, running_stand_in(workdir / "aws") as stand_in:
        timeline("aws", f"stand-in AWS on {stand_in.endpoint} (IAM enforced); PostgreSQL on 127.0.0.1:{pg.port}")
        account = account_resources(stand_in)
        # Far enough for the first phase (about 2 minutes here) to end asleep before the wake at due - lead.
        due = (datetime.now(UTC) + timedelta(minutes=8)).replace(second=0, microsecond=0)
        recording = run_program(STACK, stack_config(account, due))
        document = json.loads(connection_document(pg.user, pg.password, pg.host, pg.port, pg.dbname))
        seeded = seed(stand_in, recording, database_connection=json.dumps(document))
        timeline(
            "aws",
            f"seeded from the {STACK} stack's recording: {len(recording.resources)} resources, "
            f"{len(recording.of_type('aws:iam/role:Role'))} roles",
        )
        waker = seeded.recording.one("aws:lambda/function:Function", "waker-function").outputs["name"]
        functions = stand_in.client("lambda")
        env = functions.get_function_configuration(FunctionName=waker)["Environment"]["Variables"]
        setting = WakerVariable.WAKER_SETTINGS.value
        env[setting] = json.dumps({**json.loads(env[setting]), **REHEARSAL_WAKER})
        functions.update_function_configuration(FunctionName=waker, Environment={"Variables": env})
        if remove:
            component, action = remove.split(":", 1)
            _strip(stand_in, seeded, component, action)
            timeline("aws", f"removed {action} from the {component} task role's declared policy")
        try:
            image = ensure_image()
        except BuildError as error:  # no mode without the image: the rehearsal runs what ECS runs, or nothing
            raise Failed(f"the image ECS runs could not be built here, so nothing was rehearsed: {error}") from None
        timeline("ecs", f"every task runs in the image {image} (built from image/Dockerfile by make image)")
        actuator = Actuator(seeded, workdir, timeline, image, airflow=REHEARSAL_AIRFLOW)
        schedules = Schedules(seeded, timeline, TICK_SECONDS)
        address = {"host": pg.host, "port": pg.port, "dbname": pg.dbname, "master_user": pg.user}
        rehearsal = Rehearsal(seeded, actuator, schedules, timeline, document["conn"], due, address)
        try:
            yield rehearsal
        finally:
            schedules.shutdown()
            actuator.shutdown()
            rehearsal.db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rehearse the whole stack on this machine (see rehearsal/run.py).")
    parser.add_argument("--workdir", type=Path, help="where processes' homes and logs go (default: a temporary folder)")
    parser.add_argument(
        "--remove-permission", metavar="COMPONENT:ACTION", help="e.g. scheduler:cloudwatch:PutMetricData"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rehearsal-"))
    workdir.mkdir(parents=True, exist_ok=True)
    timeline = Timeline()
    timeline("scenario", f"rehearsal of stack {STACK}; logs in {workdir}")
    try:
        with rehearsal_stack(workdir, timeline, args.remove_permission) as rehearsal:
            rehearsal.migrate()
            rehearsal.actuator.start()
            rehearsal.schedules.start()
            rehearsal.ship_dags()
            rehearsal.scheduled_run(rehearsal.due)
            rehearsal.event_run()
            rehearsal.worker_stop()
            rehearsal.back_to_zero()
            rehearsal.unplaceable_worker()
            rehearsal.smoke_test()
            rehearsal.check_iam()
            rehearsal.final_counts()
    except Failed as failure:
        timeline("FAILED", str(failure))
        return 1
    timeline("scenario", "all scenarios passed; no IAM refusal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
