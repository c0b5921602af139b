"""The waker's notices: what a problem says, and SNS's limits on a subject."""

from __future__ import annotations

from datetime import UTC, datetime

from lambdas.waker.model import Decision, Observation, WakerState
from lambdas.waker.notices import SUBJECT_LIMIT, notices, problems

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_a_service_not_starting_names_its_ecs_events():
    decision = Decision("awake", {"worker": 1}, WakerState(), "awake", not_starting=("worker",))
    observed = Observation(
        desired={"worker": 1},
        running={"worker": 0},
        service_events={"worker": ("(service worker) was unable to place a task: no Spot capacity",)},
    )
    found = problems(decision, observed)
    assert list(found) == ["not-starting:worker"]
    assert "unable to place a task: no Spot capacity" in found["not-starting:worker"]


def test_subjects_keep_to_snss_limits():
    """SNS Publish: a Subject is under 100 characters of printable ASCII, without line breaks
    (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html)."""
    stack = "airflow-" + "a-very-long-stack-name-é" * 6
    sent = notices(stack, ["reporter-stale"], {"not-starting:dag-processor": "detail"})
    assert len(sent) == 2  # one started, one ended
    for notice in sent:
        assert len(notice.subject) <= SUBJECT_LIMIT
        assert all(32 <= ord(c) < 127 for c in notice.subject)
