"""What a stack costs: priced from the resources the real program declares (run under Pulumi's mocks).

`price_stack(recording, settings, prices)` returns itemised costs in two parts:
- idle: per month with everything asleep (what exists whether or not Airflow runs);
- awake: per hour while the core services run (and per worker-hour on top).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.components import CORE
from contracts.metrics import REPORTER_METRICS as REPORTER_METRIC_NAMES
from contracts.metrics import WAKER_METRICS as WAKER_METRIC_NAMES

PRICES_FILE = Path(__file__).resolve().parent / "prices.json"
# Custom metrics, billed by the hours in which they receive data: the waker's own (published while anything
# runs, waker/metering.py) and the activity reporter's (published while the scheduler runs).
WAKER_METRICS = len(WAKER_METRIC_NAMES)
REPORTER_METRICS = len(REPORTER_METRIC_NAMES)
TICKS_PER_MONTH = 60 * 730
WATCH_TICKS_PER_MONTH = 730  # the hourly watch
# kombu's SQS transport long-polls for 10 s (wait_time_seconds) and waits 1 s (polling_interval) when empty.
CELERY_POLLS_PER_MINUTE = 60 / 11
TICK_SECONDS = 0.3  # a tick's billed duration in AWS (about ten API calls)


@dataclass(frozen=True)
class Prices:
    table: Mapping[str, Mapping[str, Any]]
    hours_per_month: int
    region: str = "us-gov-east-1"  # the Region the prices are for

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> Prices:
        document = json.loads(path.read_text())
        return cls(document["prices"], document["hours_per_month"], document["region"])

    def __getitem__(self, key: str) -> float:
        if key not in self.table:
            raise KeyError(f"no price for {key} in {PRICES_FILE.name}")
        return float(self.table[key]["price"])

    def estimate(self, key: str) -> bool:
        return bool(self.table[key].get("estimate"))


@dataclass(frozen=True)
class Item:
    name: str
    amount: float  # USD per month (idle) or per hour (awake)
    detail: str
    needed: str = ""  # idle items: is it needed while asleep, and why


@dataclass(frozen=True)
class Monitoring:
    """CloudWatch's usage prices, applied to the calls the simulated waker and reporter make."""

    per_metric_read: float
    per_write: float
    per_metric_hour: float
    metrics_per_read: int
    per_sqs_request: float = 0.0  # the broker's requests while awake: workers' polls, each task's messages
    per_scheduler_invocation: float = 0.0  # one-time wakes and wake windows
    per_tick: float = 0.0  # a minute tick: Scheduler invocation, Lambda run, queue reads (the watch is idle)

    def hour_awake(self) -> float:
        """An hour with everything up: a tick, a metric read and two writes (waker, reporter) a minute, every
        metric live, and one worker polling the broker."""
        reads = 60 * self.metrics_per_read * self.per_metric_read
        polls = 60 * CELERY_POLLS_PER_MINUTE * self.per_sqs_request
        metrics = reads + 120 * self.per_write + (WAKER_METRICS + REPORTER_METRICS) * self.per_metric_hour
        return metrics + polls + 60 * self.per_tick


@dataclass
class StackCost:
    stack: str
    idle: list[Item] = field(default_factory=list)
    awake: list[Item] = field(default_factory=list)
    worker_hour: float = 0.0  # each running worker beyond the first, on top of `awake`
    first_worker_hour: float = 0.0  # the first: on FARGATE (the strategy's base of one) when the rest use Spot
    database_hour: float = 0.0  # the database instance, billed only while running when the waker stops it
    database_stopped_while_asleep: bool = False
    monitoring: Monitoring | None = None

    @property
    def idle_month(self) -> float:
        return sum(i.amount for i in self.idle)

    @property
    def awake_hour(self) -> float:
        return sum(i.amount for i in self.awake)

    @property
    def monitoring_hour(self) -> float:
        return self.monitoring.hour_awake() if self.monitoring else 0.0

    def workers_hour(self, workers: int) -> float:
        return self.first_worker_hour + (workers - 1) * self.worker_hour if workers > 0 else 0.0

    def always_on_month(self, prices: Prices) -> float:
        hourly = self.awake_hour + self.workers_hour(1) + self.monitoring_hour
        return self.idle_month + hourly * prices.hours_per_month


def task_hour(prices: Prices, cpu_units: int, memory_mb: int, architecture: str, spot: bool = False) -> float:
    kind = "arm" if architecture == "ARM64" else "x86"
    rate = cpu_units / 1024 * prices[f"fargate_{kind}_vcpu_hour"] + memory_mb / 1024 * prices[f"fargate_{kind}_gb_hour"]
    return rate * (1 - prices["fargate_spot_discount"]) if spot else rate


def price_stack(recording: Any, settings: Any, prices: Prices) -> StackCost:
    cost = StackCost(recording.stack)
    hours = prices.hours_per_month

    instance = recording.one("aws:rds/instance:Instance").inputs
    instance_class = instance["instanceClass"]
    db_hour = prices[f"rds_{instance_class}_hour"] * (2 if instance.get("multiAz") else 1)
    cost.database_hour = db_hour
    cost.database_stopped_while_asleep = settings.waker.stop_database
    if settings.waker.stop_database:
        cost.awake.append(Item("database instance", db_hour, f"{instance_class}, stopped while asleep"))
    else:
        cost.idle.append(
            Item(
                "database instance",
                db_hour * hours,
                f"{instance_class} x {hours} h",
                "a choice: waker.stopDatabase keeps it up for quick wakes (prod); dev stops it",
            )
        )
    storage = float(instance["allocatedStorage"])
    cost.idle.append(
        Item("database storage", storage * prices["rds_gp3_gb_month"], f"{storage:.0f} GB gp3", "yes: the data")
    )

    if recording.of_type("aws:lb/loadBalancer:LoadBalancer"):
        cost.idle.append(
            Item(
                "load balancer",
                prices["alb_hour"] * hours,
                "ALB hours (LCUs extra, small)",
                "yes, if the UI must answer while asleep (the waking page); without one, operators wake by command",
            )
        )
    for vpc in recording.of_type("awsx:ec2:Vpc"):
        if vpc.inputs.get("natGateways", {}).get("strategy") == "Single":
            cost.idle.append(
                Item(
                    "NAT gateway",
                    prices["nat_gateway_hour"] * hours,
                    "one NAT, hours only",
                    "no: only tasks use it; it is the price of private subnets",
                )
            )

    secrets = len(recording.of_type("aws:secretsmanager/secret:Secret"))
    cost.idle.append(
        Item(
            "secrets",
            secrets * prices["secrets_manager_secret_month"],
            f"{secrets} secrets",
            "yes: Airflow's keys and the database password must outlive a sleep (one JSON secret holds them all)",
        )
    )
    keys = [k.inputs for k in recording.of_type("aws:kms/key:Key")]
    rotating = sum(1 for k in keys if k.get("enableKeyRotation"))
    cost.idle.append(
        Item(
            "KMS keys",
            len(keys) * prices["kms_key_month"] + rotating * prices["kms_key_rotation_month"],
            f"{len(keys)} key(s), {rotating} rotating yearly" + (": the alarm topic's" if keys else ""),
            "a choice (waker.alarmTopicKey): SNS encryption of the alarm topic with a customer key "
            "(CloudWatch cannot publish under AWS's aws/sns key)",
        )
    )
    zones = len(recording.of_type("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"))
    cost.idle.append(
        Item(
            "private DNS zone",
            zones * prices["route53_hosted_zone_month"],
            "Cloud Map namespace",
            "yes: workers reach the api-server by name; the zone is billed whether or not anyone asks",
        )
    )
    alarms = len(recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
    cost.idle.append(
        Item(
            "alarms",
            alarms * prices["cloudwatch_alarm_month"],
            f"{alarms} alarms",
            "yes: a waker that stops running or fails is found while asleep",
        )
    )
    dashboards = len(recording.of_type("aws:cloudwatch/dashboard:Dashboard"))
    cost.idle.append(
        Item(
            "dashboard",
            dashboards * prices["cloudwatch_dashboard_month"],
            f"{dashboards} dashboard(s) (an account's first three are free)",
            "a choice (waker.dashboard): a view of wakes and work; `airflow-stack status` answers without one",
        )
    )
    waker = recording.one("aws:lambda/function:Function", "waker-function").inputs
    queue_reads = 1 + len(settings.waker.event_queue_arns)  # the broker's depth, and each watched queue's
    per_tick = (
        prices["lambda_request_million"]
        + prices["scheduler_invocations_million"]
        + queue_reads * prices["sqs_requests_million"]
    ) / 1e6 + TICK_SECONDS * waker["memorySize"] / 1024 * prices["lambda_arm_gb_second"]
    # Asleep and still, only the hourly watch runs, unless watched event queues keep the minute tick on.
    asleep_ticks = TICKS_PER_MONTH if settings.waker.event_queue_arns else WATCH_TICKS_PER_MONTH
    cost.idle.append(
        Item(
            "waker",
            asleep_ticks * per_tick,
            f"{asleep_ticks} ticks a month asleep, each a Scheduler invocation, a Lambda run and "
            f"{queue_reads} queue read(s); the minute tick runs only while awake (waker/metering.py)",
            "yes: it notices a stopped database restarted by AWS, work left behind, and a stopped waker",
        )
    )
    cost.idle.append(
        Item(
            "metrics",
            0.0,
            "no metric read or written while asleep and still (waker/metering.py); priced per call when awake",
            "no",
        )
    )
    load_balanced = bool(recording.of_type("aws:lb/loadBalancer:LoadBalancer"))
    cost.monitoring = Monitoring(
        per_metric_read=prices["cloudwatch_get_metric_data_thousand_metrics"] / 1000,
        per_write=prices["cloudwatch_put_metric_data_thousand_requests"] / 1000,
        per_metric_hour=prices["cloudwatch_metric_month"] / hours,
        metrics_per_read=REPORTER_METRICS + (1 if load_balanced else 0),
        per_sqs_request=prices["sqs_requests_million"] / 1e6,
        per_scheduler_invocation=prices["scheduler_invocations_million"] / 1e6,
        per_tick=per_tick,
    )

    public_ip = settings.network.assign_public_ip
    for task in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        component = task.inputs["family"].removeprefix(f"airflow-{recording.stack}-")
        if component not in (*CORE, "worker"):
            continue
        architecture = task.inputs["runtimePlatform"]["cpuArchitecture"]
        spot = component == "worker" and settings.services.worker_spot
        size = (int(task.inputs["cpu"]), int(task.inputs["memory"]), architecture)
        ip = prices["public_ipv4_hour"] if public_ip else 0.0
        rate = task_hour(prices, *size, spot) + ip
        detail = f"{task.inputs['cpu']} CPU / {task.inputs['memory']} MiB {architecture}" + (" Spot" if spot else "")
        if component == "worker":
            cost.worker_hour = rate
            cost.first_worker_hour = task_hour(prices, *size) + ip  # on FARGATE either way
        else:
            cost.awake.append(Item(component, rate, detail + (" + public IPv4" if public_ip else "")))
    return cost


def render(cost: StackCost, prices: Prices) -> str:
    lines = [f"Stack '{cost.stack}': idle (asleep) per month, and whether each charge is needed while asleep", ""]
    for item in cost.idle:
        lines.append(f"  {item.name:<22} ${item.amount:>8.2f}   {item.detail}")
        if item.needed:
            lines.append(f"  {'':<22} {'':>9}   needed asleep? {item.needed}")
    lines += [f"  {'total':<22} ${cost.idle_month:>8.2f}", "", "Awake, per hour (core services)", ""]
    for item in cost.awake:
        lines.append(f"  {item.name:<22} ${item.amount:>8.4f}   {item.detail}")
    lines += [
        f"  {'total':<22} ${cost.awake_hour:>8.4f}",
        f"  {'first worker':<22} ${cost.first_worker_hour:>8.4f}   on FARGATE",
        f"  {'each further worker':<22} ${cost.worker_hour:>8.4f}",
        f"  {'metrics':<22} ${cost.monitoring_hour:>8.4f}   CloudWatch reads, writes, metric-hours (per call)",
        "",
        f"Always on (core services and one worker, {prices.hours_per_month} h): "
        f"${cost.always_on_month(prices):.2f} a month",
    ]
    return "\n".join(lines)
