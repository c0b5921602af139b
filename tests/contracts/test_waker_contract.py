"""The waker's contract is the one declaration its two ends read: the events callers build are the events the
waker accepts, the settings' defaults are the contract's (in the stack reader, the Lambda's settings and the
README's table), and the environment the program sets is the one the handler reads."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.waker import (
    MAX_HOLD_MINUTES,
    REQUIRED_VARIABLES,
    WAKE_SOURCES,
    BadEvent,
    Deploy,
    Maintenance,
    Sleep,
    Status,
    Tick,
    Wake,
    WakerSettings,
    WakerTuning,
    WakerVariable,
    parse_event,
    to_event,
)
from infra.components.waker_documents import lambda_settings
from infra.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]

holds = st.integers(0, MAX_HOLD_MINUTES)
reasons = st.text(min_size=1, max_size=200).map(str.strip).filter(lambda r: 0 < len(r) <= 200)
requests = st.one_of(
    st.just(Tick()),
    st.just(Status()),
    st.builds(Wake, hold_minutes=holds, reason=reasons, source=st.sampled_from(WAKE_SOURCES)),
    st.builds(Sleep, reason=reasons, force=st.booleans(), hold_minutes=st.none() | holds),
    st.builds(Deploy, hold_minutes=holds, reason=reasons),
    st.builds(Maintenance, on=st.booleans(), reason=reasons),
)


@given(requests)
def test_every_request_a_caller_builds_is_read_back_as_itself(request):
    event = to_event(request)
    assert json.loads(json.dumps(event)) == event  # plain JSON, as Lambda and EventBridge carry it
    assert parse_event(event, default_hold_minutes=60) == request


@given(st.integers().filter(lambda n: not 0 <= n <= MAX_HOLD_MINUTES), st.sampled_from(["", "   ", "x" * 201]))
def test_a_request_the_waker_would_refuse_is_refused_before_it_is_sent(hold, reason):
    with pytest.raises(BadEvent):
        to_event(Wake(hold_minutes=hold, reason="a wake"))
    with pytest.raises(BadEvent):
        to_event(Sleep(reason=reason))
    with pytest.raises(BadEvent):  # read back as another request than the one built
        to_event(Wake(hold_minutes=10, reason=" padded "))


def test_the_stack_reader_takes_its_waker_defaults_from_the_contract():
    waker = load_settings("dev", {"aws:region": "us-gov-east-1"}).waker
    for field in fields(WakerTuning):
        assert getattr(waker, field.name) == field.default, field.name


def test_the_lambda_settings_are_the_contracts_with_the_stacks_values(recordings):
    settings = load_settings("dev", {"aws:region": "us-gov-east-1", "airflow:waker": json.dumps({"idleMinutes": 42})})
    built = lambda_settings(settings, {"scheduler": "airflow-dev-scheduler"})
    assert built.idle_minutes == 42 and built.services == {"scheduler": "airflow-dev-scheduler"}
    assert WakerSettings.from_json(built.to_json()) == built
    # What the program hands the waker it reads back whole (an unknown key would stop it).
    function = recordings["dev"].one("aws:lambda/function:Function", "waker-function")
    variables = function.inputs["environment"]["variables"]
    assert WakerSettings.from_json(variables[WakerVariable.WAKER_SETTINGS]).services


def test_the_program_sets_every_variable_the_handler_reads_and_no_other(recordings):
    for recording in recordings.values():
        function = recording.one("aws:lambda/function:Function", "waker-function")
        variables = set(function.inputs["environment"]["variables"])
        assert variables == {v.value for v in WakerVariable}
        assert {v.value for v in REQUIRED_VARIABLES} <= variables


def test_the_readmes_waker_table_gives_the_contracts_defaults():
    rows = re.findall(r"^\| `airflow:waker\.([^|]+)` \| ([^|]+) \|", (ROOT / "README.md").read_text(), re.MULTILINE)
    documented: dict[str, str] = {}
    for keys, defaults in rows:
        names = [k.strip(" `") for k in keys.split(",")]
        values = [v.strip(" `") for v in defaults.split(",")]
        if len(values) == len(names):
            documented.update(zip(names, values, strict=True))
    for field in fields(WakerTuning):
        key = re.sub(r"_(\w)", lambda m: m.group(1).upper(), field.name)
        assert key in documented, f"the README's settings table has no row for airflow:waker.{key}"
        assert documented[key] == str(field.default).lower(), key
