"""The waker's pure policy: each rule, then its invariants over generated states (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.components import COMPONENTS, CORE
from contracts.metrics import ACTIVE_TI_STATES
from contracts.waker import BadEvent, Sleep, Tick, Wake, WakerSettings, parse_event
from lambdas.waker.lead import database_lead_minutes, services_lead_minutes
from lambdas.waker.model import DATABASE_DOWN, Observation, ReporterMetrics, WakerState
from lambdas.waker.policy import decide

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SERVICES = {c: c for c in COMPONENTS}
SETTINGS = WakerSettings(services=SERVICES, idle_minutes=15, wake_lead_minutes=5, max_workers=4, worker_concurrency=8)
ASLEEP = dict.fromkeys(SERVICES, 0)
AWAKE = {**dict.fromkeys(SERVICES, 1), "worker": 0}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def reporter(age_minutes: float = 1, **values) -> ReporterMetrics:
    return ReporterMetrics(published_at=NOW - minutes(age_minutes), **values)


def observe(desired=ASLEEP, **signals) -> Observation:
    return Observation(desired=desired, running=desired, **signals)


# --- asleep -------------------------------------------------------------------------------------------


def test_asleep_and_nothing_to_do_stays_asleep():
    decision = decide(NOW, SETTINGS, observe(), WakerState(), Tick())
    assert decision.mode == "asleep" and decision.desired == ASLEEP and decision.wake_at is None


def test_asleep_wakes_all_core_services_together_for_a_dag_due_within_the_lead():
    state = WakerState(next_due_at=NOW + minutes(4))
    decision = decide(NOW, SETTINGS, observe(), state, Tick())
    assert decision.mode == "waking"
    assert {c: decision.desired[c] for c in CORE} == dict.fromkeys(CORE, 1)
    assert decision.desired["worker"] == 1  # one worker ready for the due DAG's first tasks; more follow demand
    assert "due" in decision.reason


def test_asleep_with_a_dag_due_later_schedules_the_one_time_wake_at_due_minus_lead():
    state = WakerState(next_due_at=NOW + minutes(60))
    decision = decide(NOW, SETTINGS, observe(), state, Tick())
    assert decision.mode == "asleep" and decision.wake_at == NOW + minutes(55)


def test_queued_broker_messages_wake_the_cluster_with_workers_for_them():
    decision = decide(NOW, SETTINGS, observe(broker_visible=20), WakerState(), Tick())
    assert decision.mode == "waking" and decision.desired["worker"] == 3  # ceil(20 / 8)


def test_messages_on_a_watched_event_queue_wake_the_cluster():
    decision = decide(NOW, SETTINGS, observe(event_queue_messages=1), WakerState(), Tick())
    assert decision.mode == "waking" and decision.desired["triggerer"] == 1


def test_a_wake_request_wakes_and_holds():
    decision = decide(NOW, SETTINGS, observe(), WakerState(), Wake(hold_minutes=120, reason="office hours"))
    assert decision.mode == "waking"
    assert decision.state.hold_until == NOW + minutes(120) and decision.state.hold_reason == "office hours"


def test_a_hold_keeps_waking_it_until_it_ends():
    state = WakerState(hold_until=NOW + minutes(30), hold_reason="window 08:00-18:00")
    assert decide(NOW, SETTINGS, observe(), state, Tick()).mode == "waking"
    assert decide(NOW + minutes(31), SETTINGS, observe(), state, Tick()).mode == "asleep"


def test_a_shorter_wake_request_does_not_shorten_a_longer_hold():
    state = WakerState(hold_until=NOW + minutes(600), hold_reason="window")
    decision = decide(NOW, SETTINGS, observe(), state, Wake(hold_minutes=10, reason="quick look"))
    assert decision.state.hold_until == NOW + minutes(600)


def test_the_stale_reporter_of_a_sleeping_cluster_is_ignored():
    old = reporter(age_minutes=600, dag_runs_running=3)
    assert decide(NOW, SETTINGS, observe(reporter=old), WakerState(), Tick()).mode == "asleep"


# --- database ------------------------------------------------------------------------------------------

DB_SETTINGS = WakerSettings(
    services=SERVICES, stop_database=True, database_start_minutes=15, database_stop_after_minutes=120
)


def test_a_stopped_database_is_started_before_the_services_and_the_lead_covers_it():
    state = WakerState(next_due_at=NOW + minutes(18))  # within lead 5 + database start 15
    decision = decide(NOW, DB_SETTINGS, observe(database_status="stopped"), state, Tick())
    assert decision.mode == "waking" and decision.database_action == "start"
    assert decision.desired == ASLEEP, "services wait for the database"
    # Once the database is up, the services follow at due minus the usual lead; the database stays up.
    early = decide(NOW + minutes(12), DB_SETTINGS, observe(database_status="available"), decision.state, Tick())
    assert early.mode == "asleep" and early.database_action is None and early.wake_at == NOW + minutes(13)
    ready = decide(NOW + minutes(13), DB_SETTINGS, observe(database_status="available"), decision.state, Tick())
    assert ready.mode == "waking" and ready.desired["scheduler"] == 1


def test_the_database_starts_once_its_start_time_before_the_services_lead_not_earlier():
    # Regression: the start was brought forward by the database start time twice (15 extra minutes up).
    state = WakerState(next_due_at=NOW + minutes(40))  # services' wake at +35, the database's start at +20
    early = decide(NOW + minutes(6), DB_SETTINGS, observe(database_status="stopped"), state, Tick())
    assert early.mode == "asleep" and early.database_action is None and early.wake_at == NOW + minutes(20)
    due = decide(NOW + minutes(20), DB_SETTINGS, observe(database_status="stopped"), state, Tick())
    assert due.database_action == "start" and due.desired == ASLEEP


def test_going_to_sleep_and_stopping_the_database_writes_the_wake_the_database_needs():
    # Regression: the wake was written with an available database's lead, then moved by the next tick.
    awake = observe(desired=AWAKE, reporter=reporter(seconds_until_next_due=300 * 60), database_status="available")
    state = WakerState(next_due_at=NOW + minutes(300), awake_since=NOW - minutes(60), idle_since=NOW - minutes(30))
    decision = decide(NOW, DB_SETTINGS, awake, state, Tick())
    assert decision.mode == "asleep" and decision.database_action == "stop"
    assert decision.state.next_due_at is not None
    assert decision.wake_at == decision.state.next_due_at - minutes(5 + 15)
    after = decide(NOW + minutes(1), DB_SETTINGS, observe(database_status="stopping"), decision.state, Tick())
    assert after.wake_at == decision.wake_at, "the next tick keeps the schedule"


def test_the_database_is_stopped_for_a_long_sleep_and_not_for_a_short_one():
    far = decide(
        NOW, DB_SETTINGS, observe(database_status="available"), WakerState(next_due_at=NOW + minutes(300)), Tick()
    )
    assert far.database_action == "stop"
    near = decide(
        NOW, DB_SETTINGS, observe(database_status="available"), WakerState(next_due_at=NOW + minutes(60)), Tick()
    )
    assert near.database_action is None


def test_a_database_restarted_by_aws_after_seven_days_is_stopped_again():
    decision = decide(NOW, DB_SETTINGS, observe(database_status="available"), WakerState(), Tick())
    assert decision.mode == "asleep" and decision.database_action == "stop"


def test_the_database_is_left_alone_unless_the_stack_asks():
    decision = decide(NOW, SETTINGS, observe(database_status="available"), WakerState(), Tick())
    assert decision.database_action is None


# --- awake ---------------------------------------------------------------------------------------------


def awake_state(minutes_ago: float = 30) -> WakerState:
    return WakerState(awake_since=NOW - minutes(minutes_ago))


def test_workers_follow_queued_and_running_celery_tasks_within_bounds():
    busy = reporter(task_instances={"queued": 10, "running": 7}, dag_runs_running=1)
    decision = decide(NOW, SETTINGS, observe(AWAKE, reporter=busy), awake_state(), Tick())
    assert decision.desired["worker"] == 3  # ceil(17 / 8)
    flood = reporter(task_instances={"queued": 500}, dag_runs_running=1)
    assert decide(NOW, SETTINGS, observe(AWAKE, reporter=flood), awake_state(), Tick()).desired["worker"] == 4


def test_no_worker_is_stopped_while_a_task_runs():
    current = {**AWAKE, "worker": 3}
    running = reporter(task_instances={"running": 1}, dag_runs_running=1)
    decision = decide(NOW, SETTINGS, observe(current, reporter=running), awake_state(), Tick())
    assert decision.desired["worker"] == 3
    done = reporter()
    assert decide(NOW, SETTINGS, observe(current, reporter=done), awake_state(), Tick()).desired["worker"] == 0


def test_protected_workers_scale_in_to_what_runs_while_tasks_still_run():
    """With scale-in protection the busy worker protects itself, so the idle ones may go at once."""
    protected = WakerSettings(**{**SETTINGS.__dict__, "scale_in_protection": True})
    current = {**AWAKE, "worker": 3}
    running = reporter(task_instances={"running": 1}, dag_runs_running=1)
    decision = decide(NOW, protected, observe(current, reporter=running), awake_state(), Tick())
    assert decision.desired["worker"] == 1, "one worker for the running task; ECS stops only idle ones"
    silent = decide(NOW, protected, observe(current, reporter=None), awake_state(), Tick())
    assert silent.desired["worker"] == 3, "unknown activity never scales in, protected or not"


def test_an_orphaned_in_flight_message_neither_wakes_nor_holds_the_stack():
    """Regression: a message left in flight by a killed worker stays invisible for the visibility timeout
    (6 h); counting it as work woke the stack and held it awake with a worker that could never receive it."""
    asleep = decide(NOW, SETTINGS, observe(broker_in_flight=1), WakerState(), Tick())
    assert asleep.mode == "asleep", asleep.reason
    idle = awake_state().but(idle_since=NOW - minutes(20))
    awake = decide(
        NOW, SETTINGS, observe({**AWAKE, "worker": 1}, reporter=reporter(), broker_in_flight=1), idle, Tick()
    )
    assert awake.mode == "asleep" and awake.desired["worker"] == 0, awake.reason


def test_idle_for_the_configured_minutes_goes_to_sleep_and_writes_the_next_wake():
    idle = reporter(seconds_until_next_due=3 * 3600)
    first = decide(NOW, SETTINGS, observe(AWAKE, reporter=idle), awake_state(), Tick())
    assert first.mode == "awake" and first.state.idle_since == NOW
    later = NOW + minutes(15)
    idle_later = ReporterMetrics(published_at=later - minutes(1), seconds_until_next_due=3 * 3600 - 15 * 60)
    second = decide(later, SETTINGS, observe(AWAKE, reporter=idle_later), first.state, Tick())
    assert second.mode == "asleep" and second.desired == ASLEEP
    assert second.wake_at == NOW + minutes(180 - 5 - 1)  # due minus lead (due is fixed: published + seconds)
    assert second.state.next_due_at is not None


def test_active_work_resets_the_idle_clock():
    state = awake_state().but(idle_since=NOW - minutes(14))
    busy = reporter(dag_runs_queued=1)
    decision = decide(NOW, SETTINGS, observe(AWAKE, reporter=busy), state, Tick())
    assert decision.mode == "awake" and decision.state.idle_since is None


@pytest.mark.parametrize(
    "signal",
    [
        {"broker_visible": 1},
        {"ui_requests": 3},
        {"event_queue_messages": 2},
    ],
)
def test_other_signals_keep_it_awake(signal):
    state = awake_state().but(idle_since=NOW - minutes(60))
    decision = decide(NOW, SETTINGS, observe(AWAKE, reporter=reporter(), **signal), state, Tick())
    assert decision.mode == "awake" and decision.desired["scheduler"] == 1


def test_a_dag_due_soon_keeps_it_awake_rather_than_sleep_and_wake_again():
    state = awake_state().but(idle_since=NOW - minutes(60))
    soon = reporter(seconds_until_next_due=10 * 60)
    assert decide(NOW, SETTINGS, observe(AWAKE, reporter=soon), state, Tick()).mode == "awake"


def test_a_silent_reporter_while_awake_is_busy_and_raises_the_alarm():
    state = awake_state().but(idle_since=NOW - minutes(60))
    current = {**AWAKE, "worker": 2}
    for silent in (None, reporter(age_minutes=20)):
        decision = decide(NOW, SETTINGS, observe(current, reporter=silent), state, Tick())
        assert decision.mode == "awake" and decision.reporter_stale
        assert decision.desired["worker"] == 2, "unknown activity never scales in"


def test_no_alarm_while_the_cluster_is_still_starting():
    decision = decide(NOW, SETTINGS, observe(AWAKE), awake_state(minutes_ago=3), Tick())
    assert decision.mode == "awake" and not decision.reporter_stale


# --- manual sleep ------------------------------------------------------------------------------------------


def test_sleep_is_refused_while_work_is_active():
    busy = reporter(task_instances={"running": 2}, dag_runs_running=1)
    current = {**AWAKE, "worker": 1}
    decision = decide(NOW, SETTINGS, observe(current, reporter=busy), awake_state(), Sleep(reason="cost"))
    assert decision.refused and decision.desired == current and "force" in decision.reason


def test_forced_sleep_sleeps_and_queued_work_does_not_wake_it_during_the_hold():
    busy = reporter(task_instances={"queued": 4}, dag_runs_running=1)
    forced = decide(
        NOW,
        SETTINGS,
        observe({**AWAKE, "worker": 1}, reporter=busy, broker_visible=4),
        awake_state(),
        Sleep(reason="incident", force=True, hold_minutes=30),
    )
    assert forced.mode == "asleep" and forced.desired == ASLEEP
    assert forced.state.sleep_hold_until == NOW + minutes(30)
    still = decide(NOW + minutes(5), SETTINGS, observe(broker_visible=4), forced.state, Tick())
    assert still.mode == "asleep", "queued work stays queued during the hold"
    after = decide(NOW + minutes(31), SETTINGS, observe(broker_visible=4), forced.state, Tick())
    assert after.mode == "waking", "and is picked up after it"
    woken = decide(NOW + minutes(5), SETTINGS, observe(broker_visible=4), forced.state, Wake(0, "on call"))
    assert woken.mode == "waking", "an explicit wake request ends the sleep hold"


def test_sleep_when_idle_needs_no_force():
    decision = decide(NOW, SETTINGS, observe(AWAKE, reporter=reporter()), awake_state(), Sleep(reason="done"))
    assert decision.mode == "asleep" and not decision.refused


def test_a_plain_sleep_holds_nothing_so_a_tick_after_the_due_wake_time_wakes_the_stack():
    # The one-time wake for a due DAG and the minute tick race: whichever comes first after due - lead must
    # wake the stack. A plain sleep used to hold it asleep for default_hold_minutes, so a tick just before the
    # one-time wake fired found nothing to do, deleted that wake, and the DAG was missed.
    due = NOW + minutes(20)
    idle = reporter(seconds_until_next_due=20 * 60 + 60)  # published a minute ago
    slept = decide(NOW, SETTINGS, observe(AWAKE, reporter=idle), awake_state(), Sleep(reason="done"))
    assert slept.mode == "asleep" and slept.state.sleep_hold_until is None
    wake_at = due - minutes(SETTINGS.wake_lead_minutes)
    assert slept.wake_at == wake_at
    tick = decide(wake_at + timedelta(seconds=5), SETTINGS, observe(), slept.state, Tick())
    assert tick.mode == "waking" and f"a DAG is due at {due:%Y-%m-%dT%H:%MZ}" in tick.reason


def test_put_to_sleep_inside_a_due_dags_lead_keeps_the_database_up_and_says_so():
    # Idle, so a plain sleep is taken, but the DAG's wake time has passed: the next tick wakes the stack again.
    # Stopping the database then would make that wake wait for its start (minutes to hours, says AWS).
    config = replace(SETTINGS, stop_database=True)
    idle = reporter(seconds_until_next_due=3 * 60 + 60)  # due in 3 minutes, within the 5-minute lead
    slept = decide(NOW, config, observe(AWAKE, reporter=idle, database_status="available"), awake_state(), Sleep("x"))
    assert slept.mode == "asleep" and slept.database_action is None and slept.wake_at is None
    assert slept.reason.endswith(f"a DAG is due at {NOW + minutes(3):%Y-%m-%dT%H:%MZ}"), slept.reason
    tick = decide(NOW + minutes(1), config, observe(database_status="available"), slept.state, Tick())
    assert tick.mode == "waking" and tick.reason.startswith("waking: a DAG is due")


def test_a_plain_sleep_may_name_a_hold():
    held = decide(NOW, SETTINGS, observe(AWAKE, reporter=reporter()), awake_state(), Sleep("done", hold_minutes=20))
    assert held.state.sleep_hold_until == NOW + minutes(20)


def test_a_forced_sleeps_hold_defers_a_due_dag_to_the_holds_end_and_keeps_its_wake_written():
    due = NOW + minutes(10)
    busy = reporter(dag_runs_running=1, seconds_until_next_due=10 * 60 + 60)
    forced = decide(NOW, SETTINGS, observe(AWAKE, reporter=busy), awake_state(), Sleep("incident", force=True))
    hold_end = NOW + minutes(SETTINGS.default_hold_minutes)
    assert forced.state.sleep_hold_until == hold_end and forced.state.next_due_at == due
    assert forced.wake_at == hold_end, "not the DAG's own wake time, which falls inside the hold"
    tick = decide(due, SETTINGS, observe(), forced.state, Tick())
    assert tick.mode == "asleep" and tick.wake_at == hold_end, "the wake for the hold's end is kept"
    early = decide(due, SETTINGS, observe(), forced.state, Wake(0, "next DAG due", source="schedule"))
    assert early.mode == "asleep" and early.wake_at == hold_end
    assert early.reason.startswith(f"scheduled wake deferred: put to sleep until {hold_end:%Y-%m-%dT%H:%MZ}")
    assert early.state.sleep_hold_until == hold_end, "the waker's own wake does not end the hold"
    fired = decide(hold_end, SETTINGS, observe(), forced.state, Wake(0, "next DAG due", source="schedule"))
    assert fired.mode == "waking"
    person = decide(due, SETTINGS, observe(), forced.state, Wake(30, "on call"))
    assert person.mode == "waking" and person.state.sleep_hold_until is None


def test_a_later_sleep_never_shortens_a_forced_sleeps_hold():
    forced = decide(NOW, SETTINGS, observe(AWAKE, reporter=reporter()), awake_state(), Sleep("x", True, 120))
    hold_end = NOW + minutes(120)
    plain = decide(NOW + minutes(10), SETTINGS, observe(), forced.state, Sleep("done"))
    assert plain.state.sleep_hold_until == hold_end
    shorter = decide(NOW + minutes(20), SETTINGS, observe(), plain.state, Sleep("x", True, 30))
    assert shorter.state.sleep_hold_until == hold_end
    longer = decide(NOW + minutes(30), SETTINGS, observe(), shorter.state, Sleep("x", True, 240))
    assert longer.state.sleep_hold_until == NOW + minutes(270)


def test_a_sleep_hold_ends_on_a_whole_second_as_the_wake_written_for_it_does():
    # at() takes whole seconds: a wake for a hold ending at .5 s would fire inside it, and be deferred again.
    now = NOW + timedelta(seconds=7, microseconds=500_000)
    forced = decide(now, SETTINGS, observe(AWAKE, reporter=reporter()), awake_state(), Sleep("x", True, 1))
    assert forced.state.sleep_hold_until == NOW + timedelta(minutes=1, seconds=8)


# --- events --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "JSON object"),
        ({"action": "reboot"}, "action must be one of tick, wake, sleep, status, deploy, maintenance"),
        ({"action": "wake", "holdMinutes": -1}, "holdMinutes"),
        ({"action": "wake", "holdMinutes": "2h"}, "holdMinutes"),
        ({"action": "wake", "hold": 5}, "unknown: hold"),
        ({"action": "sleep", "force": "yes"}, "force must be true or false"),
        ({"action": "sleep", "reason": ""}, "reason"),
        ({"action": "status", "verbose": True}, "status takes nothing else"),
    ],
)
def test_malformed_events_are_rejected_with_what_is_allowed(event, message):
    with pytest.raises(BadEvent, match=message):
        parse_event(event, default_hold_minutes=60)


def test_events_parse():
    assert parse_event({"action": "wake"}, default_hold_minutes=60) == Wake(60, "manual wake")
    assert parse_event({"action": "sleep", "force": True, "reason": "x"}, default_hold_minutes=60) == Sleep("x", True)


# --- invariants over generated states -----------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=40)
reporters = st.one_of(
    st.none(),
    st.builds(
        ReporterMetrics,
        published_at=st.integers(min_value=0, max_value=30).map(lambda m: NOW - minutes(m)),
        dag_runs_queued=counts,
        dag_runs_running=counts,
        task_instances=st.dictionaries(st.sampled_from(ACTIVE_TI_STATES), counts, max_size=4),
        dags_due=st.integers(min_value=0, max_value=3),
        seconds_until_next_due=st.one_of(st.none(), st.floats(min_value=-600, max_value=86400)),
        asset_queue=st.integers(min_value=0, max_value=3),
    ),
)
desired_counts = st.one_of(
    st.just(ASLEEP),
    st.builds(lambda w: {**AWAKE, "worker": w}, st.integers(min_value=0, max_value=4)),
)
observations = st.builds(
    lambda desired, rep, visible, in_flight, events, ui, db: Observation(
        desired=desired,
        running=desired,
        reporter=rep,
        broker_visible=visible,
        broker_in_flight=in_flight,
        event_queue_messages=events,
        ui_requests=ui,
        database_status=db,
    ),
    desired_counts,
    reporters,
    counts,
    counts,
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from([None, "available", "stopped", "starting", "stopping"]),
)
moments = st.integers(min_value=-1440, max_value=1440).map(lambda m: NOW + minutes(m))
states = st.builds(
    WakerState,
    awake_since=st.one_of(st.none(), moments),
    idle_since=st.one_of(st.none(), moments),
    hold_until=st.one_of(st.none(), moments),
    sleep_hold_until=st.one_of(st.none(), moments),
    next_due_at=st.one_of(st.none(), moments),
)
requests = st.one_of(
    st.just(Tick()),
    st.builds(Wake, st.integers(0, 600), st.just("test")),
    st.builds(Sleep, st.just("test"), st.booleans(), st.one_of(st.none(), st.integers(0, 600))),
)
waker_settings = st.builds(
    WakerSettings,
    services=st.just(SERVICES),
    idle_minutes=st.integers(1, 60),
    wake_lead_minutes=st.integers(1, 30),
    max_workers=st.integers(1, 10),
    worker_concurrency=st.integers(1, 32),
    stop_database=st.booleans(),
)


def _known_active(settings: WakerSettings, observed: Observation) -> tuple[bool, int | None]:
    """(busy, tasks running: None when unknown)."""
    rep = observed.reporter
    fresh = rep is not None and NOW - rep.published_at <= minutes(settings.reporter_stale_minutes)
    active = observed.broker_visible + observed.event_queue_messages > 0 or (
        fresh and rep is not None and rep.active > 0
    )
    running = rep.tasks("running") if fresh and rep is not None else None
    return active or not fresh, running


@settings(max_examples=400, deadline=None)
@given(
    waker_settings,
    observations,
    states,
    st.one_of(st.just(Tick()), st.builds(Wake, st.integers(0, 60), st.just("t"))),
    st.booleans(),
)
def test_never_a_scale_in_with_active_or_unknown_work(config, observed, state, request, protected):
    config = WakerSettings(**{**config.__dict__, "scale_in_protection": protected})
    decision = decide(NOW, config, observed, state, request)
    busy, running = _known_active(config, observed)
    # A database stopped or stopping runs nothing: services found up on one go to zero until it serves again.
    was_awake = observed.desired["scheduler"] > 0 and observed.database_status not in DATABASE_DOWN
    workers, current = decision.desired["worker"], observed.desired["worker"]
    if was_awake and busy:
        assert all(decision.desired[c] == 1 for c in CORE)
    if was_awake and running is None:
        assert workers >= current, "unknown activity: no scale-in"
    if was_awake and running and not protected:
        assert workers >= current, "unprotected workers are never scaled in under a running task"
    if was_awake and running and protected:
        # Enough workers for what runs (within max_workers: ECS keeps protected tasks past the count anyway).
        needed = -(-running // config.worker_concurrency)
        assert workers >= min(current, needed, config.max_workers), "enough workers for what runs"


@settings(max_examples=400, deadline=None)
@given(waker_settings, observations, states, requests)
def test_forced_sleep_is_the_only_way_to_stop_busy_services(config, observed, state, request):
    decision = decide(NOW, config, observed, state, request)
    busy, _ = _known_active(config, observed)
    if observed.desired["scheduler"] > 0 and busy and decision.desired["scheduler"] == 0:
        assert (isinstance(request, Sleep) and request.force) or observed.database_status in DATABASE_DOWN
        if observed.database_status in DATABASE_DOWN:
            assert decision.reason.startswith(
                f"repaired: services were up with the database {observed.database_status}"
            )


@settings(max_examples=400, deadline=None)
@given(
    waker_settings,
    st.integers(min_value=-30, max_value=2880),
    observations,
    states,
    st.sampled_from([Tick(), Wake(0, "next DAG due", source="schedule")]),
)
def test_a_due_dag_always_gets_a_wake_at_or_before_due_minus_lead(config, due_in, observed, state, request):
    """Asleep, a due DAG wakes the stack at due - lead, or has its one-time wake written for then, whatever
    arrives (the minute tick or the one-time wake itself); a forced sleep's hold only defers it to its end."""
    asleep = Observation(desired=ASLEEP, running=ASLEEP, reporter=None, database_status=observed.database_status)
    due = NOW + minutes(due_in)
    state = state.but(next_due_at=due, hold_until=None)
    decision = decide(NOW, config, asleep, state, request)
    lead = minutes(config.wake_lead_minutes)
    if config.stop_database and observed.database_status in ("stopped", "stopping"):
        lead += minutes(config.database_start_minutes)
    wake = due - lead
    held = state.sleep_hold_until is not None and state.sleep_hold_until > NOW
    if held:
        assert state.sleep_hold_until is not None
        wake = max(wake, state.sleep_hold_until)
    if wake <= NOW:
        assert decision.mode == "waking"
    elif isinstance(request, Tick) or held:  # the one-time wake itself, out of a hold, is obeyed (tested above)
        assert decision.mode == "asleep"
        assert decision.wake_at is not None and decision.wake_at <= wake


@settings(max_examples=300, deadline=None)
@given(waker_settings, observations, states, requests)
def test_same_inputs_same_decision_and_counts_within_bounds(config, observed, state, request):
    first = decide(NOW, config, observed, state, request)
    assert first == decide(NOW, config, observed, state, request)
    assert set(first.desired) == set(SERVICES)
    assert all(first.desired[c] in (0, 1) for c in CORE)
    workers = first.desired["worker"]
    # Never more than max_workers, except that workers already running tasks are never stopped to get there
    # (after max_workers was lowered).
    assert 0 <= workers <= max(config.max_workers, observed.desired["worker"])
    if workers > config.max_workers:
        assert workers == observed.desired["worker"]
    if first.desired["worker"] > 0:
        assert first.desired["scheduler"] == 1, "workers never run without the api-server and scheduler"


@settings(max_examples=300, deadline=None)
@given(waker_settings, observations, states)
def test_going_to_sleep_schedules_the_next_wake(config, observed, state):
    decision = decide(NOW, config, observed, state, Tick())
    if observed.desired["scheduler"] > 0 and decision.mode == "asleep":
        due = decision.state.next_due_at
        if due is not None and due - minutes(config.wake_lead_minutes) > NOW + minutes(config.database_start_minutes):
            assert decision.wake_at is not None


# --- wake on visit -------------------------------------------------------------------------------------------


def test_visit_wakes_are_limited_per_day():
    limited = WakerSettings(services=SERVICES, max_visit_wakes_per_day=2)
    state = WakerState()
    for _ in range(2):
        decision = decide(NOW, limited, observe(), state, Wake(30, "UI visit", "visit"))
        assert decision.mode == "waking"
        state = decision.state.but(hold_until=None, awake_since=None)
    ignored = decide(NOW, limited, observe(), state, Wake(30, "UI visit", "visit"))
    assert ignored.mode == "asleep" and "visit wake ignored" in ignored.reason
    tomorrow = decide(NOW + timedelta(days=1), limited, observe(), state, Wake(30, "UI visit", "visit"))
    assert tomorrow.mode == "waking", "the count starts again each day"
    by_hand = decide(NOW, limited, observe(), state, Wake(30, "on call"))
    assert by_hand.mode == "waking", "requests by people (not the page) are not limited"


def test_visitors_go_to_airflow_only_when_it_is_up_and_healthy():
    asleep = decide(NOW, SETTINGS, observe(api_server_healthy=False), WakerState(), Tick())
    assert asleep.ui_route == "waking-page"
    waking = decide(NOW, SETTINGS, observe(api_server_healthy=False), WakerState(), Wake(30, "UI visit", "visit"))
    assert waking.ui_route == "waking-page", "not before the api-server passes its health check"
    healthy = decide(NOW, SETTINGS, observe(AWAKE, reporter=reporter(), api_server_healthy=True), awake_state(), Tick())
    assert healthy.ui_route == "airflow"
    slept = decide(
        NOW,
        SETTINGS,
        observe(AWAKE, reporter=reporter(), api_server_healthy=True),
        awake_state().but(idle_since=NOW - minutes(60)),
        Tick(),
    )
    assert slept.mode == "asleep" and slept.ui_route == "waking-page", "switched back as it goes to sleep"
    assert decide(NOW, SETTINGS, observe(), WakerState(), Tick()).ui_route is None, "no load balancer, no switch"


@settings(max_examples=300, deadline=None)
@given(waker_settings, observations, states, requests, st.one_of(st.none(), st.booleans()))
def test_visitors_never_reach_a_stopped_or_unhealthy_api_server(config, observed, state, request, healthy):
    observed = Observation(**{**observed.__dict__, "api_server_healthy": healthy})
    decision = decide(NOW, config, observed, state, request)
    if decision.ui_route == "airflow":
        assert healthy is True and decision.desired["api-server"] == 1
    assert (decision.ui_route is None) == (healthy is None)


# --- services that do not start ----------------------------------------------------------------------------


def test_a_service_short_of_its_desired_count_past_the_limit_is_reported():
    """Unknown in GovCloud: ARM64 on Fargate Spot. A service whose tasks never start must not go unnoticed."""
    short = Observation(desired={**AWAKE, "worker": 2}, running={**AWAKE, "worker": 0}, reporter=reporter())
    first = decide(NOW, SETTINGS, short, awake_state(), Tick())
    assert first.not_starting == () and first.state.short_since == {"worker": NOW.isoformat()}
    later = decide(NOW + minutes(SETTINGS.start_limit_minutes), SETTINGS, short, first.state, Tick())
    assert later.not_starting == ("worker",) and "not starting: worker" in later.reason
    started = Observation(desired={**AWAKE, "worker": 2}, running={**AWAKE, "worker": 2}, reporter=reporter())
    fine = decide(NOW + minutes(20), SETTINGS, started, later.state, Tick())
    assert fine.not_starting == () and fine.state.short_since == {}


# --- deploys -------------------------------------------------------------------------------------------------


def test_a_deploy_starts_the_stopped_database_and_keeps_it_up_without_waking_the_services():
    """Regression: `pulumi up` failed on dev while the waker had the database stopped (RDS refuses changes to
    a stopped instance), and the waker stopped it again on the next tick."""
    stops = WakerSettings(**{**SETTINGS.__dict__, "stop_database": True})
    deploy = parse_event({"action": "deploy", "holdMinutes": 45}, default_hold_minutes=60)
    started = decide(NOW, stops, observe(database_status="stopped"), WakerState(), deploy)
    assert started.database_action == "start" and started.desired == ASLEEP and started.mode == "asleep"
    held = decide(NOW + minutes(10), stops, observe(database_status="available"), started.state, Tick())
    assert held.database_action is None and "held up" in held.reason, "a long sleep would stop it, not during the hold"
    after = decide(NOW + minutes(46), stops, observe(database_status="available"), started.state, Tick())
    assert after.database_action == "stop" and after.reason.endswith("stopping the database")


# --- maintenance (a staging database being replaced) ----------------------------------------------------------


def test_maintenance_puts_it_to_sleep_and_refuses_every_wake_until_it_ends():
    busy = reporter(task_instances={"running": 1}, seconds_until_next_due=60)
    on = parse_event({"action": "maintenance", "on": True, "reason": "re-staging"}, default_hold_minutes=60)
    held = decide(NOW, SETTINGS, observe(AWAKE, reporter=busy), awake_state(), on)
    assert held.mode == "asleep" and held.desired == ASLEEP and held.wake_at is None and "re-staging" in held.reason
    state = held.state
    for later, request, signals in (
        (1, Tick(), {"broker_visible": 5, "event_queue_messages": 2}),
        (2, Wake(60, "UI visit", source="visit"), {}),
        (3, Wake(30, "next DAG due"), {}),
        (4, Tick(), {"ui_requests": 3}),
    ):
        decision = decide(NOW + minutes(later), SETTINGS, observe(**signals), state.but(next_due_at=NOW), request)
        assert decision.desired == ASLEEP, (request, decision.reason)
        assert decision.refused == isinstance(request, Wake)
    off = parse_event({"action": "maintenance", "on": False, "reason": "guard ran"}, default_hold_minutes=60)
    ended = decide(NOW + minutes(5), SETTINGS, observe(broker_visible=5), state, off)
    assert ended.mode == "waking" and not ended.state.maintenance


def test_the_lead_is_learned_from_measured_wakes_within_its_bounds():
    # The first wakes use the configured lead; three measured wakes of up to 7 minutes give p90 + 1 = 8.
    assert services_lead_minutes(SETTINGS, WakerState(wake_minutes=(7.0, 6.0))) == 5
    assert services_lead_minutes(SETTINGS, WakerState(wake_minutes=(4.0, 7.0, 6.0))) == 8
    assert services_lead_minutes(SETTINGS, WakerState(wake_minutes=(1.0, 1.0, 1.0))) == 2  # the lower bound
    assert services_lead_minutes(SETTINGS, WakerState(wake_minutes=(40.0,) * 3)) == 20  # the upper bound
    # Asleep, a DAG due in 7 minutes wakes the stack only once the lead is learned as 8.
    due = WakerState(next_due_at=NOW + minutes(7))
    assert decide(NOW, SETTINGS, observe(), due, Tick()).mode == "asleep"
    learned = due.but(wake_minutes=(4.0, 7.0, 6.0))
    assert decide(NOW, SETTINGS, observe(), learned, Tick()).mode == "waking"


def test_a_wake_is_measured_once_the_reporter_published_and_the_worker_runs():
    woke = WakerState(awake_since=NOW - minutes(6), next_due_at=NOW + minutes(1))
    awake = {**AWAKE, "worker": 1}
    no_worker_yet = observe(awake, reporter=reporter(age_minutes=0.5))
    no_worker_yet = Observation(**{**no_worker_yet.__dict__, "running": {**awake, "worker": 0}})
    assert decide(NOW, SETTINGS, no_worker_yet, woke, Tick()).state.wake_minutes == ()
    ready = Observation(**{**no_worker_yet.__dict__, "running": awake})
    state = decide(NOW, SETTINGS, ready, woke, Tick()).state
    assert state.wake_minutes == (6.0,) and state.wake_measured
    assert decide(NOW + minutes(1), SETTINGS, ready, state, Tick()).state.wake_minutes == (6.0,), "once a wake"


def test_database_starts_are_measured_and_learned():
    stopping = replace(SETTINGS, stop_database=True, database_start_minutes=15)
    asked = decide(NOW, stopping, observe(database_status="stopped"), WakerState(next_due_at=NOW), Tick())
    assert asked.database_action == "start" and asked.state.database_start_asked_at == NOW
    up = decide(NOW + minutes(12), stopping, observe(database_status="available"), asked.state, Tick())
    assert up.state.database_start_minutes == (12.0,) and up.state.database_start_asked_at is None
    assert database_lead_minutes(stopping, WakerState(database_start_minutes=(12.0, 20.0, 9.0))) == 21


def test_an_unattended_wake_sleeps_after_the_short_grace_and_a_person_brings_back_the_idle_time():
    scheduled = WakerState(next_due_at=NOW + minutes(4))
    woke = decide(NOW, SETTINGS, observe(), scheduled, Tick())
    assert woke.state.scheduled_only

    # The run is done, the next is two hours away: idle for the grace (1 min), then asleep.
    def later(at: float) -> ReporterMetrics:
        return ReporterMetrics(published_at=NOW + minutes(at - 0.5), seconds_until_next_due=7200)

    idle = decide(NOW + minutes(10), SETTINGS, observe(AWAKE, reporter=later(10)), woke.state, Tick())
    assert idle.mode == "awake" and "idle since" in idle.reason
    slept = decide(NOW + minutes(11), SETTINGS, observe(AWAKE, reporter=later(11)), idle.state, Tick())
    assert slept.mode == "asleep"
    # Someone opens the UI meanwhile: the usual idle time (15 min) again.
    used = decide(NOW + minutes(10), SETTINGS, observe(AWAKE, reporter=later(10), ui_requests=3), woke.state, Tick())
    assert not used.state.scheduled_only
    quiet = decide(NOW + minutes(11), SETTINGS, observe(AWAKE, reporter=later(11)), used.state, Tick())
    assert quiet.mode == "awake"
    # A person's wake is never unattended; the waker's own one-time wake for a due DAG is.
    assert not decide(NOW, SETTINGS, observe(), scheduled, Wake(0, "look")).state.scheduled_only
    assert decide(NOW, SETTINGS, observe(), scheduled, Wake(0, "due", source="schedule")).state.scheduled_only


@settings(max_examples=300, deadline=None)
@given(
    waker_settings,
    states,
    st.sampled_from(["stopped", "stopping", "starting"]),
    st.integers(0, 600),
    st.integers(0, 240),
)
def test_a_persons_wake_is_kept_until_the_database_serves_and_held_from_then(config, state, db, hold, waited):
    config = replace(config, stop_database=True)
    asleep = Observation(desired=ASLEEP, running=ASLEEP, reporter=None, database_status=db)
    asked = decide(NOW, config, asleep, state, Wake(hold_minutes=hold, reason="a person"))
    assert asked.desired == ASLEEP and asked.state.wake_pending
    later = NOW + minutes(waited)
    still = decide(later, config, asleep, asked.state, Tick())
    assert still.desired == ASLEEP and still.state.wake_pending, still.reason
    up = NOW + minutes(waited + 1)
    served = decide(up, config, replace(asleep, database_status="available"), still.state, Tick())
    assert served.mode == "waking" and served.desired["scheduler"] == 1, served.reason
    assert not served.state.wake_pending
    assert served.state.hold_until is not None and served.state.hold_until >= up + minutes(hold)
