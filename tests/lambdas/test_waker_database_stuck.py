"""A database that cannot become available is reported once, with what to do, and never makes a run fail.

Regressions: an RDS instance that no longer exists made every run fail (status included); a database stuck in
a status it does not leave by itself (`storage-full`, `incompatible-restore`) left the waker answering
"waking, database first" for hours and told no one. Statuses:
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status
"""

from __future__ import annotations

import pytest

from contracts.database import DATABASE_STUCK
from lambdas.waker import notices
from lambdas.waker.model import Decision, Observation, WakerState
from standin.waker_world import START, minutes, moto_world


def test_a_deleted_database_is_reported_once_and_every_run_answers():
    with moto_world(database=True, stop_database=True) as world:
        world.clients.rds.delete_db_instance(DBInstanceIdentifier="airflow-dev", SkipFinalSnapshot=True)
        events = [
            {"action": "status"},
            {"action": "tick"},
            {"action": "wake", "holdMinutes": 10, "reason": "a person"},
            {"action": "tick"},
            {"action": "tick"},
        ]
        for minute, event in enumerate(events):
            assert world.invoke(event, START + minutes(minute))["ok"], event
        assert world.notices() == ["airflow-dev: database:not-found"]


def observed_with(status: str) -> Observation:
    return Observation(desired={}, running={}, database_status=status)


def waking() -> Decision:
    return Decision(mode="waking", desired={}, state=WakerState(), reason="waking, database first")


@pytest.mark.parametrize("status", sorted(DATABASE_STUCK))
def test_each_stuck_status_is_a_problem_naming_what_to_do(status):
    found = notices.problems(waking(), observed_with(status))
    (name,) = found
    assert name == f"database:{status}" and DATABASE_STUCK[status] in found[name]


@pytest.mark.parametrize("status", ["available", "stopped", "stopping", "starting", "backing-up", "modifying"])
def test_statuses_on_the_way_are_no_problem(status):
    assert notices.problems(waking(), observed_with(status)) == {}
