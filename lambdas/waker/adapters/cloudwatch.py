"""CloudWatch: the activity reporter's latest figures, UI requests on the load balancer, the waker's metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from contracts.metrics import HEARTBEAT, REPORTER_METRICS, WAKER_METRICS

from ..model import ReporterMetrics

# What a reported figure can be. A count is a whole number of DAG runs, task instances or entries, far below
# a million on any stack; the time to the next due run is within about a year either way. Anything else
# (negative, not finite, absurd) is not a report the waker can act on: it is read as no report, which the
# policy treats as unknown, so busy while awake (invariant 1).
MAX_COUNT = 1_000_000
MAX_SECONDS_UNTIL_DUE = 400 * 24 * 3600


class UnreadableReport(ValueError):
    """A reported figure that cannot be a count or a time: the message names it."""


def _count(name: str, value: float | None) -> int:
    if value is None:
        return 0
    if not math.isfinite(value) or not 0 <= value <= MAX_COUNT:
        raise UnreadableReport(f"{name} is {value!r}, not a count (0 to {MAX_COUNT})")
    return round(value)


def _seconds(name: str, value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or abs(value) > MAX_SECONDS_UNTIL_DUE):
        raise UnreadableReport(f"{name} is {value!r}, not seconds within {MAX_SECONDS_UNTIL_DUE}")
    return value


def _query_id(name: str) -> str:
    return "m_" + name.lower()


def latest_reporter_metrics(
    cloudwatch: Any,
    namespace: str,
    now: datetime,
    lookback_minutes: int = 30,
) -> ReporterMetrics | None:
    """The newest complete report, or None if the reporter published nothing in the lookback. A report with a
    figure that cannot be one raises UnreadableReport."""
    queries = [
        {
            "Id": _query_id(name),
            "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": name}, "Period": 60, "Stat": "Maximum"},
            "ReturnData": True,
        }
        for name in REPORTER_METRICS
    ]
    # Whole minutes, as CloudWatch aligns 60-second periods: a report's timestamp is its minute.
    start = (now - timedelta(minutes=lookback_minutes)).replace(second=0, microsecond=0)
    response = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=start,
        EndTime=now + timedelta(minutes=1),
        ScanBy="TimestampDescending",
    )
    series = {r["Id"]: list(zip(r["Timestamps"], r["Values"], strict=True)) for r in response["MetricDataResults"]}
    heartbeat = series.get(_query_id(HEARTBEAT)) or []
    if not heartbeat:
        return None
    published_at = max(timestamp for timestamp, _ in heartbeat)

    def value_at(name: str) -> float | None:
        for timestamp, value in series.get(_query_id(name), []):
            if timestamp == published_at:
                return value
        return None

    values: dict[str, Any] = {}
    task_instances: dict[str, int] = {}
    for name, key in REPORTER_METRICS.items():
        value = value_at(name)
        if key.startswith("ti:"):
            task_instances[key[3:]] = _count(name, value)
        elif key == "seconds_until_next_due":
            values[key] = _seconds(name, value)  # absent: no DAG has a next run
        else:
            values[key] = _count(name, value)
    return ReporterMetrics(published_at=published_at, task_instances=task_instances, **values)


def ui_requests(cloudwatch: Any, load_balancer: str, target_group: str, now: datetime, minutes: int) -> int:
    """Requests the load balancer sent to the api-server's target group in the last `minutes`."""
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "requests",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "RequestCount",
                        "Dimensions": [
                            {"Name": "LoadBalancer", "Value": load_balancer},
                            {"Name": "TargetGroup", "Value": target_group},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=minutes),
        EndTime=now,
    )
    return int(sum(response["MetricDataResults"][0]["Values"]))


def publish(cloudwatch: Any, namespace: str, now: datetime, values: Mapping[str, float]) -> None:
    assert set(values) == set(WAKER_METRICS), sorted(values)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": name, "Timestamp": now, "Value": float(value), "Unit": "Count"}
            for name, value in values.items()
        ],
    )
