"""The waker's stored state is read strictly: nothing stored can make every run fail.

Regressions: a state parameter that was not JSON, a JSON list, or a bad date made every run (status included)
fail. Now a bad field is dropped for its default and named, and the next save repairs the parameter.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from lambdas.waker.model import WakerState
from standin.waker_world import START, minutes, moto_world

times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
states = st.builds(
    WakerState,
    awake_since=st.none() | times,
    hold_until=st.none() | times,
    hold_reason=st.text(max_size=40),
    visit_wakes=st.integers(0, 100),
    short_since=st.dictionaries(st.sampled_from(["worker", "scheduler"]), st.text(max_size=30), max_size=2),
    raised=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    minute_ticks=st.booleans(),
    wake_minutes=st.lists(st.floats(0, 60), max_size=10).map(tuple),
)


@given(states)
def test_what_the_waker_saves_it_reads_back_unchanged(state):
    read, repairs = WakerState.read(state.to_json())
    assert read == state and repairs == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from([f for f in WakerState.__dataclass_fields__]), json_values) | json_values)
def test_any_stored_json_is_read_or_repaired_never_raised(document):
    state, repairs = WakerState.read(json.dumps(document))
    assert isinstance(state, WakerState)
    assert isinstance(repairs, list)


def test_a_corrupt_state_parameter_is_repaired_by_the_next_run():
    with moto_world() as world:
        for stored in ("not json", "[1, 2]", '{"hold_until": "tomorrow", "visit_wakes": "many"}'):
            world.clients.ssm.put_parameter(
                Name=world.config.state_parameter, Value=stored, Type="String", Overwrite=True
            )
            assert world.invoke({"action": "status"}, START)["ok"]
            answer = world.invoke({"action": "wake", "holdMinutes": 30, "reason": "a person"}, START + minutes(1))
            assert answer["ok"] and world.desired()["scheduler"] == 1
            saved = world.clients.ssm.get_parameter(Name=world.config.state_parameter)["Parameter"]["Value"]
            assert WakerState.read(saved)[1] == [], "the run saved a readable state"
            world.invoke({"action": "sleep", "reason": "done", "force": True}, START + minutes(2))
