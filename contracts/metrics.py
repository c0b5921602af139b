"""What the activity reporter (image/activity_reporter.py, beside the scheduler) publishes to CloudWatch and the
waker reads, and the waker's own metrics (its dashboard's source; the cost model counts them)."""

from __future__ import annotations

# The reporter's environment, set by the program.
NAMESPACE_VARIABLE = "AIRFLOW_ACTIVITY_NAMESPACE"
INTERVAL_VARIABLE = "AIRFLOW_ACTIVITY_INTERVAL_SECONDS"

# Task-instance states that mean work is under way (as the scheduler counts them). The restore guard fails
# the same states in a restored copy.
ACTIVE_TI_STATES = ("scheduled", "queued", "running", "deferred", "up_for_retry", "up_for_reschedule", "restarting")


def task_instances_metric(state: str) -> str:
    return f"TaskInstances_{state}"


# The reporter's metrics (Count, but for SecondsUntilNextDue), each published with every report but the
# next-due pair, which is absent while no DAG is due.
DAG_RUNS_QUEUED = "DagRunsQueued"
DAG_RUNS_RUNNING = "DagRunsRunning"
DAGS_DUE = "DagsDue"
SECONDS_UNTIL_NEXT_DUE = "SecondsUntilNextDue"
NEXT_DUE_FIRST_TASKS = "NextDueFirstTasks"
ASSET_QUEUE_ENTRIES = "AssetQueueEntries"
SECONDS_METRICS = (SECONDS_UNTIL_NEXT_DUE,)
HEARTBEAT = DAG_RUNS_QUEUED  # published on every report: the report's timestamp

# Reporter metric name -> the waker's key for it (`ti:<state>` for task instances).
REPORTER_METRICS = {
    DAG_RUNS_QUEUED: "dag_runs_queued",
    DAG_RUNS_RUNNING: "dag_runs_running",
    DAGS_DUE: "dags_due",
    SECONDS_UNTIL_NEXT_DUE: "seconds_until_next_due",
    NEXT_DUE_FIRST_TASKS: "next_due_first_tasks",
    ASSET_QUEUE_ENTRIES: "asset_queue",
    **{task_instances_metric(state): f"ti:{state}" for state in ACTIVE_TI_STATES},
}

# The waker's own metrics.
WAKER_AWAKE = "WakerAwake"
WAKER_DESIRED_WORKERS = "WakerDesiredWorkers"
WAKER_SCALE_CHANGES = "WakerScaleChanges"
WAKER_METRICS = (WAKER_AWAKE, WAKER_DESIRED_WORKERS, WAKER_SCALE_CHANGES)
