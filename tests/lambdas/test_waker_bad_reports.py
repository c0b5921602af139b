"""A report the waker cannot act on is read as no report (unknown, so busy while awake), never a crash loop
and never a negative or absurd count.

Regressions: a `SecondsUntilNextDue` of 1e20 made every run fail (OverflowError), and a `TaskInstances_running`
of -100 set the worker service to -12. CloudWatch stores any value from about -1e108 to 1e108
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html), so anything in that
range can reach the waker.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.metrics import REPORTER_METRICS
from lambdas.waker.adapters import cloudwatch
from lambdas.waker.adapters.cloudwatch import MAX_COUNT, UnreadableReport
from standin.waker_world import START, minutes, moto_world

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class ReportedFigures:
    """GetMetricData's answer for one report at NOW, with the given figures (the shape botocore returns)."""

    def __init__(self, figures: dict[str, float]) -> None:
        self.figures = figures

    def get_metric_data(self, **_: object) -> dict:
        return {
            "MetricDataResults": [
                {"Id": cloudwatch._query_id(name), "Timestamps": [NOW], "Values": [self.figures[name]]}
                for name in REPORTER_METRICS
                if name in self.figures
            ]
        }


values = st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=-1e108, max_value=1e108)


@given(st.dictionaries(st.sampled_from(sorted(REPORTER_METRICS)), values, min_size=1))
def test_every_figure_is_a_sane_count_or_the_report_is_unreadable(figures):
    figures.setdefault("DagRunsQueued", 0.0)
    try:
        report = cloudwatch.latest_reporter_metrics(ReportedFigures(figures), "Airflow/x", NOW)
    except UnreadableReport as error:
        assert any(name in str(error) for name in figures)
        return
    assert report is not None
    counts = [report.dag_runs_queued, report.dag_runs_running, report.dags_due, report.asset_queue]
    counts += [report.next_due_first_tasks, *report.task_instances.values()]
    assert all(0 <= c <= MAX_COUNT for c in counts)
    if report.seconds_until_next_due is not None:
        assert abs(report.seconds_until_next_due) <= cloudwatch.MAX_SECONDS_UNTIL_DUE


@pytest.mark.parametrize(
    "figures",
    [
        {"next_due_in": 1e20, "dag_runs_queued": 5},  # was: OverflowError on every run
        {"ti:running": -100},  # was: worker desired count -12
        {"dag_runs_running": 5e15},
    ],
)
def test_the_handler_reads_a_bad_report_as_unknown_and_keeps_the_stack_as_it_is(figures):
    with moto_world() as world:
        world.invoke({"action": "wake", "holdMinutes": 60, "reason": "working"}, START)
        world.report(START + minutes(1), **figures)
        for minute in (2, 3):
            answer = world.invoke({"action": "tick"}, START + minutes(minute))
            assert answer["ok"], answer
            assert all(0 <= count <= 4 for count in answer["desired"].values()), answer
        assert world.desired()["scheduler"] == 1, "unknown while awake is busy: it stays up"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.floats(min_value=-1e108, max_value=1e108), name=st.sampled_from(["dag_runs_running", "ti:running"]))
def test_no_reported_figure_makes_a_run_fail_or_a_count_negative(value, name):
    with moto_world() as world:
        world.invoke({"action": "wake", "holdMinutes": 60, "reason": "working"}, START)
        world.report(START + minutes(1), **{name: value})
        answer = world.invoke({"action": "tick"}, START + minutes(2))
        assert answer["ok"] and all(count >= 0 for count in answer["desired"].values()), answer
