"""The waker converges from whatever it finds: services up on a stopped database, a wake asked for while the
database is on its way down, a hold whose scale-up failed. Each was a way to leave a stack awake for nothing
or asleep against someone's request (regressions: each fails on the code before the fix)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from botocore.exceptions import ClientError

from contracts.components import COMPONENTS, CORE
from standin.waker_world import STACK, START, minutes, moto_world
from tests.support.rds_status import StatusShown

TICK = {"action": "tick"}
ASLEEP = dict.fromkeys(COMPONENTS, 0)
AWAKE = {**dict.fromkeys(CORE, 1), "worker": 0}


class Throttled:
    """ECS whose next UpdateService is throttled, as API rate limits do."""

    def __init__(self, ecs: Any) -> None:
        self._ecs = ecs
        self.throttle = 1

    def update_service(self, **kwargs: Any) -> Any:
        if self.throttle:
            self.throttle -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateService")
        return self._ecs.update_service(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ecs, name)


def database_status(world) -> str:
    return world.clients.rds.describe_db_instances(DBInstanceIdentifier=STACK)["DBInstances"][0]["DBInstanceStatus"]


def test_services_found_up_on_a_stopped_database_go_to_zero_and_stay_there():
    with moto_world(database=True, stop_database=True) as world:
        world.report(START, dag_runs_running=0)
        world.invoke({"action": "wake", "holdMinutes": 0, "reason": "a look"}, START)
        assert world.desired() == AWAKE
        # The scale-down of the tick that stopped the database failed: services up, database stopped.
        world.clients.rds.stop_db_instance(DBInstanceIdentifier=STACK)
        answers = [world.invoke(TICK, START + minutes(minute)) for minute in (1, 2, 30, 120)]
        assert answers[0]["reason"].startswith("repaired: services were up with the database stopped")
        assert world.desired() == ASLEEP and database_status(world) == "stopped", "nothing calls for it"
        assert all(a["state"] == "asleep" for a in answers), [a["reason"] for a in answers]


def test_services_up_on_a_stopped_database_with_a_hold_start_it_and_come_back():
    with moto_world(database=True, stop_database=True) as world:
        world.report(START, dag_runs_running=0)
        world.invoke({"action": "wake", "holdMinutes": 120, "reason": "upgrade rehearsal"}, START)
        world.clients.rds.stop_db_instance(DBInstanceIdentifier=STACK)  # by hand, under the hold
        first = world.invoke(TICK, START + minutes(1))
        assert "database first" in first["reason"] and world.desired() == ASLEEP
        assert database_status(world) == "available"  # started (moto at once)
        back = world.invoke(TICK, START + minutes(2))
        assert back["state"] == "waking" and world.desired()["scheduler"] == 1, back["reason"]


def test_a_wake_asked_for_while_the_database_stops_is_kept_and_held_from_when_the_stack_is_up():
    with moto_world(database=True, stop_database=True) as world:
        rds = StatusShown(world.clients.rds)
        world.clients = dataclasses.replace(world.clients, rds=rds)
        world.clients.rds.stop_db_instance(DBInstanceIdentifier=STACK)
        rds.shown = "stopping"  # the sleep before stopped it; RDS takes minutes
        asked = world.invoke({"action": "wake", "holdMinutes": 10, "reason": "look at a run"}, START)
        assert asked["ok"] and "database first" in asked["reason"] and world.desired() == ASLEEP
        for minute in (5, 12, 20):  # past the hold asked for: the wake is still wanted
            waiting = world.invoke(TICK, START + minutes(minute))
            assert "waiting for the database: look at a run" in waiting["reason"], waiting["reason"]
            assert world.desired() == ASLEEP
        rds.shown = None  # stopped at last: started (moto at once), then the services
        world.invoke(TICK, START + minutes(21))
        up = world.invoke(TICK, START + minutes(22))
        assert up["state"] == "waking" and world.desired()["scheduler"] == 1, up["reason"]
        status = world.invoke({"action": "status"}, START + minutes(23))
        assert status["holdUntil"] == (START + minutes(32)).isoformat(), "ten minutes from when it came up"


def test_a_hold_survives_a_throttled_scale_up():
    with moto_world() as world:
        ecs = Throttled(world.clients.ecs)
        world.clients = dataclasses.replace(world.clients, ecs=ecs)
        with pytest.raises(ClientError):
            world.invoke({"action": "wake", "holdMinutes": 120, "reason": "a two-hour session"}, START)
        assert world.desired() == ASLEEP
        repaired = world.invoke(TICK, START + minutes(1))
        assert world.desired()["scheduler"] == 1, repaired["reason"]
        later = world.invoke(TICK, START + minutes(90))  # reporter silent and idle otherwise: the hold keeps it
        assert later["state"] == "awake" and "a two-hour session" in later["reason"]
        assert (
            world.invoke({"action": "status"}, START + minutes(91))["holdUntil"] == (START + minutes(120)).isoformat()
        )
