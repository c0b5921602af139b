"""What a simulated month costs: the bill of what existed and ran, the oracle's, and each minute's share."""

from __future__ import annotations

from contracts.components import CORE
from contracts.waker import WakerSettings
from costs.model import REPORTER_METRICS, WAKER_METRICS, Monitoring, Prices, StackCost
from costs.simulate import MINUTES, BootTimes, Result, Workload, oracle


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def monthly(cost: StackCost, result: Result, prices: Prices) -> float:
    """A simulated month's bill: what exists, plus what ran (scaled from 30 days to the month)."""
    scale = prices.hours_per_month * 60 / MINUTES
    rates = {item.name: item.amount for item in cost.awake}
    ran = sum(minutes / 60 * rates.get(component, 0.0) for component, minutes in result.service_minutes.items())
    further = result.worker_minutes - result.first_worker_minutes
    ran += (result.first_worker_minutes * cost.first_worker_hour + further * cost.worker_hour) / 60
    if cost.database_stopped_while_asleep:
        ran += result.database_minutes / 60 * cost.database_hour
    return cost.idle_month + (ran + usage(cost, result)) * scale


def usage(cost: StackCost, result: Result) -> float:
    """API charges of the simulated days beyond the idle month: the metric reads and writes the waker and
    reporter made, the custom metrics by the hours in which they received data, the broker's requests while
    workers ran, the Scheduler's one-time wakes and windows, and the waker's minute ticks."""
    m = cost.monitoring
    if m is None:
        return 0.0
    hours = len(result.waker_metric_hours) * WAKER_METRICS + len(result.reporter_metric_hours) * REPORTER_METRICS
    metrics = result.metrics_read * m.per_metric_read + result.metric_writes * m.per_write + hours * m.per_metric_hour
    requests = result.sqs_requests * m.per_sqs_request + result.scheduler_invocations * m.per_scheduler_invocation
    return metrics + requests + result.minute_ticks * m.per_tick


def oracle_cost(cost: StackCost, workload: Workload, settings: WakerSettings, boot: BootTimes, prices: Prices) -> float:
    best = oracle(workload, boot, settings)
    scale = prices.hours_per_month * 60 / MINUTES
    core = sum(item.amount for item in cost.awake if item.name in CORE)
    database = best.database_hours * cost.database_hour if cost.database_stopped_while_asleep else 0.0
    # Workers at the cheaper rate throughout: the oracle is a floor.
    cheapest = min(cost.worker_hour, cost.first_worker_hour)
    ran = best.core_hours * (core + cost.monitoring_hour) + best.worker_hours * cheapest + database
    return cost.idle_month + ran * scale


def minute_costs(result: Result, cost: StackCost, prices: Prices) -> list[float]:
    """What each simulated minute costs: the idle floor's share, what runs, and its CloudWatch calls (a
    custom metric's hour is counted on the hour's first minute)."""
    rates = {item.name: item.amount for item in cost.awake}
    floor = cost.idle_month / (prices.hours_per_month * 60)
    database = cost.database_hour if cost.database_stopped_while_asleep else 0.0
    m = cost.monitoring or Monitoring(0.0, 0.0, 0.0, 0)
    costs = [
        floor
        + (sum(rates.get(s, 0.0) for s in minute.services) + cost.workers_hour(minute.workers)) / 60
        + database * minute.database_up / 60
        + minute.metrics_read * m.per_metric_read
        + minute.metric_writes * m.per_write
        + minute.sqs_requests * m.per_sqs_request
        + minute.scheduler_invocations * m.per_scheduler_invocation
        + minute.minute_tick * m.per_tick
        for minute in result.billed
    ]
    for hour in result.waker_metric_hours:
        costs[hour * 60] += WAKER_METRICS * m.per_metric_hour
    for hour in result.reporter_metric_hours:
        costs[hour * 60] += REPORTER_METRICS * m.per_metric_hour
    return costs
