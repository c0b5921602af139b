"""When the waker reads metrics and ticks every minute: not while asleep and still, unless something it
cannot be told about (a watched event queue, a database start or stop under way) needs watching."""

from __future__ import annotations

import pytest

from lambdas.waker.metering import minute_ticks
from lambdas.waker.model import Decision, Mode, WakerState

ASLEEP = {"scheduler": 0, "worker": 0}
AWAKE = {"scheduler": 1, "worker": 0}


def decision(mode: Mode = "asleep", desired=ASLEEP, database_action=None) -> Decision:
    return Decision(mode, desired, WakerState(), "test", database_action=database_action)


@pytest.mark.parametrize(
    ("made", "desired", "running", "database", "queues", "expected"),
    [
        (decision(), ASLEEP, ASLEEP, "stopped", False, False),  # asleep and still: the hourly watch suffices
        (decision(), ASLEEP, ASLEEP, None, False, False),  # a database the waker does not manage
        (decision(), ASLEEP, ASLEEP, "available", False, False),  # kept up for a wake soon: the one-time wake
        (decision(), ASLEEP, ASLEEP, "stopped", True, True),  # event queues are filled from outside
        (decision(), ASLEEP, {"scheduler": 1, "worker": 0}, "stopped", False, True),  # a task still stopping
        (decision(), AWAKE, AWAKE, "stopped", False, True),  # the tick that puts it to sleep follows it down
        (decision(database_action="stop"), ASLEEP, ASLEEP, "available", False, True),
        (decision(), ASLEEP, ASLEEP, "stopping", False, True),
        (decision(), ASLEEP, ASLEEP, "starting", False, True),
        (decision("waking"), ASLEEP, ASLEEP, "starting", False, True),
        (decision("awake", AWAKE), AWAKE, AWAKE, None, False, True),
    ],
)
def test_minute_ticks(made, desired, running, database, queues, expected):
    assert minute_ticks(made, desired, running, database, watches_queues=queues) is expected
