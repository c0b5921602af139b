"""The waker's wiring in the program: function, schedules, reporter, permissions, alarms, dashboard."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline.recording import Recording, run_stack
from tests.infra.conftest import policy_documents

FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"


def waker_function(recording: Recording):
    return recording.one(FUNCTION, "waker-function")


def test_waker_function_runs_one_at_a_time_with_only_boto3(recording: Recording):
    function = waker_function(recording)
    # Regression: reserved concurrency fails on new accounts ("decreases account's
    # UnreservedConcurrentExecution below its minimum"); the waker's lease keeps it single-flight instead.
    for lambda_function in recording.of_type(FUNCTION):
        assert not lambda_function.inputs.get("reservedConcurrentExecutions"), lambda_function.name
    assert function.inputs["handler"] == "waker.handler.handler"
    assert function.inputs["runtime"].startswith("python3.")
    env = function.inputs["environment"]["variables"]
    settings = json.loads(env["WAKER_SETTINGS"])
    assert set(settings["services"]) == set(recording.exports["serviceNames"])
    assert env["CLUSTER"] == recording.exports["clusterName"]
    assert env["BROKER_QUEUE_URL"] == recording.exports["brokerQueueUrl"]
    assert env["METRIC_NAMESPACE"] == f"Airflow/airflow-{recording.stack}"
    assert env["LEASE_PARAMETER"] == f"/airflow-{recording.stack}/waker/lease"


def test_every_minute_a_tick_and_each_window_a_held_wake(recordings):
    prod = recordings["prod"]
    schedules = {s.inputs["name"]: s.inputs for s in prod.of_type(SCHEDULE)}
    tick = schedules["airflow-prod-tick"]
    assert tick["scheduleExpression"] == "rate(1 minute)"
    assert json.loads(tick["target"]["input"]) == {"action": "tick"}
    window = schedules["airflow-prod-window-office-hours"]
    assert window["scheduleExpression"] == "cron(0 8 ? * MON-FRI *)"
    assert window["scheduleExpressionTimezone"] == "America/New_York"
    assert json.loads(window["target"]["input"]) == {
        "action": "wake",
        "holdMinutes": 600,
        "reason": "window office-hours",
    }
    assert all(s["target"]["arn"].endswith(":function:airflow-prod-waker") for s in schedules.values())
    assert set(schedules) == {"airflow-prod-tick", "airflow-prod-watch", "airflow-prod-window-office-hours"}
    # The waker switches the minute tick off while asleep and still; the hourly watch always runs.
    watch = schedules["airflow-prod-watch"]
    assert watch["scheduleExpression"] == "rate(1 hour)" and json.loads(watch["target"]["input"]) == {"action": "tick"}
    tick_resource = next(r for r in prod.of_type(SCHEDULE) if r.inputs["name"] == "airflow-prod-tick")
    assert tick_resource.ignore_changes == ["state"], "pulumi up leaves the waker's switch alone"
    env = waker_function(prod).inputs["environment"]["variables"]
    assert env["TICK_SCHEDULE"] == "airflow-prod-tick"
    document = json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])
    switch = next(
        s for s in document["Statement"] if "scheduler:UpdateSchedule" in s["Action"] and "tick" in s["Resource"][0]
    )
    assert switch["Resource"] == [
        "arn:aws-us-gov:scheduler:us-gov-east-1:123456789012:schedule/airflow-prod/airflow-prod-tick"
    ]


def test_a_dag_bundle_change_wakes_the_cluster(recordings):
    dev = recordings["dev"]
    assert dev.one("aws:s3/bucketNotification:BucketNotification").inputs["eventbridge"] is True
    pattern = json.loads(dev.one("aws:cloudwatch/eventRule:EventRule").inputs["eventPattern"])
    assert pattern["detail"]["bucket"]["name"] == [dev.exports["dagBucket"]]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "dags/"}]
    target = json.loads(dev.one("aws:cloudwatch/eventTarget:EventTarget").inputs["input"])
    assert target["action"] == "wake" and target["holdMinutes"] > 0


def test_the_activity_reporter_runs_beside_the_scheduler(recording: Recording):
    task = recording.one("aws:ecs/taskDefinition:TaskDefinition", "airflow-scheduler-task")
    containers = {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}
    reporter = containers["activity-reporter"]
    assert reporter["essential"] is False, "a failing reporter must not stop the scheduler"
    assert reporter["command"] == ["python", "/opt/airflow/activity_reporter.py"]
    env = {e["name"]: e["value"] for e in reporter["environment"]}
    assert env["AIRFLOW_ACTIVITY_NAMESPACE"] == f"Airflow/airflow-{recording.stack}"
    assert {s["name"] for s in reporter["secrets"]} == {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    }
    others = [
        c["name"]
        for t in recording.of_type("aws:ecs/taskDefinition:TaskDefinition")
        for c in json.loads(t.inputs["containerDefinitions"])
        if c["name"] == "activity-reporter"
    ]
    assert others == ["activity-reporter"]


def test_metrics_may_be_published_only_to_the_stacks_namespace(recording: Recording):
    publishers = []
    for role_policy, document in policy_documents(recording):
        for statement in document["Statement"]:
            if "cloudwatch:PutMetricData" in statement["Action"]:
                assert statement["Condition"] == {
                    "StringEquals": {"cloudwatch:namespace": f"Airflow/airflow-{recording.stack}"}
                }
                publishers.append(role_policy.name)
    assert sorted(publishers) == ["airflow-scheduler-task", "waker-function"]


def test_waker_role_is_scoped_to_this_stack(recordings):
    for key in ("dev", "prod"):
        recording = recordings[key]
        stack = f"airflow-{recording.stack}"
        document = json.loads(recording.one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])
        by_action = {a: s for s in document["Statement"] for a in s["Action"]}
        services = by_action["ecs:UpdateService"]["Resource"]
        assert services == sorted(
            f"arn:aws-us-gov:ecs:us-gov-east-1:123456789012:service/{stack}/{name}"
            for name in recording.exports["serviceNames"].values()
        )
        assert by_action["scheduler:CreateSchedule"]["Resource"] == [
            f"arn:aws-us-gov:scheduler:us-gov-east-1:123456789012:schedule/{stack}/{stack}-next-due-wake"
        ]
        writes = sorted(r for st in document["Statement"] if "ssm:PutParameter" in st["Action"] for r in st["Resource"])
        assert writes == [
            f"arn:aws-us-gov:ssm:us-gov-east-1:123456789012:parameter/{stack}/waker/dag-change",
            f"arn:aws-us-gov:ssm:us-gov-east-1:123456789012:parameter/{stack}/waker/lease",
            f"arn:aws-us-gov:ssm:us-gov-east-1:123456789012:parameter/{stack}/waker/lease-takeover",
            f"arn:aws-us-gov:ssm:us-gov-east-1:123456789012:parameter/{stack}/waker/lease-takeover-takeover",
            f"arn:aws-us-gov:ssm:us-gov-east-1:123456789012:parameter/{stack}/waker/state",
        ]
        assert by_action["sqs:GetQueueAttributes"]["Resource"][0].endswith(f":{stack}-celery")
        assert "ecs:UpdateService" in by_action and "ecs:*" not in by_action
    # Only a stack that lets the waker stop its database may touch it.
    dev_actions = {
        a
        for s in json.loads(recordings["dev"].one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])[
            "Statement"
        ]
        for a in s["Action"]
    }
    prod_actions = {
        a
        for s in json.loads(recordings["prod"].one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])[
            "Statement"
        ]
        for a in s["Action"]
    }
    assert "rds:StopDBInstance" in dev_actions and "rds:StopDBInstance" not in prod_actions


def test_the_scheduler_may_only_invoke_the_waker(recording: Recording):
    document = json.loads(recording.one("aws:iam/rolePolicy:RolePolicy", "waker-scheduler").inputs["policy"])
    assert document["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [f"arn:aws-us-gov:lambda:us-gov-east-1:123456789012:function:airflow-{recording.stack}-waker"],
        }
    ]


def test_alarms_on_waker_errors_silence_and_a_stale_reporter(recording: Recording):
    prefix = f"airflow-{recording.stack}-"
    alarms = {
        a.inputs["name"].removeprefix(prefix): a.inputs
        for a in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    # What the waker cannot say about itself; it sends its other problems to the topic (waker/notices.py).
    assert set(alarms) == {"waker-errors", "waker-silent"}
    topic = recording.exports["alarmTopicArn"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    assert alarms["waker-silent"]["treatMissingData"] == "breaching"
    function = waker_function(recording)
    assert function.inputs["environment"]["variables"]["ALARM_TOPIC_ARN"] == topic
    document = json.loads(recording.one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic]} in document["Statement"]


def test_dashboard_only_when_asked_for(recordings):
    """A dashboard costs $3 a month beyond an account's first three: `waker.dashboard` asks for one."""
    assert not recordings["dev"].of_type("aws:cloudwatch/dashboard:Dashboard")
    assert recordings["dev"].exports["dashboardName"] == ""
    assert recordings["existing-vpc-oidc"].exports["dashboardName"] == "airflow-dev"


def test_dashboard_shows_awake_work_queue_and_decisions(recordings):
    recording = recordings["existing-vpc-oidc"]
    body = json.loads(recording.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    text = json.dumps(body)
    for needle in (
        "WakerAwake",
        "DagRunsRunning",
        "ApproximateNumberOfMessagesVisible",
        "Waker decisions",
        recording.exports["brokerQueueName"],
    ):
        assert needle in text
    # Asleep the waker publishes nothing: the awake graph fills the gaps with 0 (CloudWatch metric math FILL,
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
    awake = next(w for w in body["widgets"] if w["properties"].get("title", "").startswith("Awake"))
    expressions = [m[0]["expression"] for m in awake["properties"]["metrics"] if isinstance(m[0], dict)]
    assert expressions == ["FILL(awake, 0)", "FILL(workers, 0)"]


def test_ui_requests_are_a_signal_when_there_is_a_load_balancer(recordings):
    with_alb = waker_function(recordings["prod"]).inputs["environment"]["variables"]
    assert with_alb["LOAD_BALANCER"].startswith("app/") and with_alb["TARGET_GROUP"].startswith("targetgroup/")
    without = waker_function(recordings["dev"]).inputs["environment"]["variables"]
    assert without["LOAD_BALANCER"] == "" and without["TARGET_GROUP"] == ""


def test_watched_event_queues_are_read_by_url_and_allowed_by_arn():
    queue = "arn:aws-us-gov:sqs:us-gov-east-1:123456789012:orders-landed"
    recording = run_stack("dev", {"airflow:waker": json.dumps({"eventQueueArns": [queue]})})
    env = waker_function(recording).inputs["environment"]["variables"]
    assert json.loads(env["EVENT_QUEUE_URLS"]) == ["https://sqs.us-gov-east-1.amazonaws.com/123456789012/orders-landed"]
    document = json.loads(recording.one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])
    readable = next(s for s in document["Statement"] if s["Action"] == ["sqs:GetQueueAttributes"])["Resource"]
    assert queue in readable


@pytest.mark.parametrize(
    "bad",
    [
        {"windows": [{"name": "x", "cron": "0 8 * * MON-FRI"}]},
        {"windows": [{"name": "x", "cron": "cron(0 8 ? * MON-FRI *)", "timezone": "Mars/Olympus"}]},
        {"maxWorkers": 0},
        {"wakeLeadMinMinutes": 10, "wakeLeadMaxMinutes": 5},
        {"eventQueueArns": ["arn:aws:sqs:us-east-1:123456789012:q"]},
    ],
)
def test_bad_waker_settings_are_refused(bad):
    from infra.settings import load_settings
    from infra.settings.schema import SettingsError

    with pytest.raises(SettingsError, match=r"airflow:waker\."):
        load_settings("dev", {"aws:region": "us-gov-east-1", "airflow:waker": json.dumps(bad)})


def test_the_alarm_topic_key_is_a_choice(recordings):
    """Without `alarmTopicKey: customer` the topic has no key (and no $2 a month); aws/sns is never used."""
    for stack in ("dev", "prod"):
        assert not recordings[stack].of_type("aws:kms/key:Key")
        assert "kmsMasterKeyId" not in recordings[stack].one("aws:sns/topic:Topic").inputs


def test_alarms_can_reach_their_encrypted_topic(recordings):
    recording = recordings["existing-vpc-oidc"]
    topic = recording.one("aws:sns/topic:Topic").inputs
    key = recording.one("aws:kms/key:Key")
    assert topic["kmsMasterKeyId"] == key.outputs["arn"], "not aws/sns, which CloudWatch cannot use"
    statements = json.loads(key.inputs["policy"])["Statement"]
    cloudwatch = next(s for s in statements if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com")
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert key.inputs["enableKeyRotation"] is True


def _alarming(invocations: list[float], period: int, evaluations: int, datapoints: int, end: float) -> bool:
    """CloudWatch's M-of-N over clock-aligned periods, missing data breaching, at time `end` (seconds):
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation"""
    last = int(end // period) - 1  # the last complete period
    window = range(last - evaluations + 1, last + 1)
    empty = [p for p in window if not any(int(t // period) == p for t in invocations)]
    return len(empty) >= datapoints


@given(
    start=st.floats(min_value=0, max_value=3600),
    lateness=st.lists(st.floats(min_value=0, max_value=90), min_size=6, max_size=6),
)
def test_the_silence_alarm_does_not_flap_on_an_hourly_watch_a_little_late(recordings, start, lateness):
    alarm = next(
        a.inputs for a in recordings["dev"].of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if "silent" in a.name
    )
    period, evaluations = int(alarm["period"]), int(alarm["evaluationPeriods"])
    datapoints = int(alarm.get("datapointsToAlarm") or evaluations)
    # The hourly watch: one run an hour, each up to 90 s late.
    runs = [start + hour * 3600 + late for hour, late in enumerate(lateness)]
    for now in range(int(runs[0]) + 2 * 3600, int(runs[-1]), 600):
        assert not _alarming(runs, period, evaluations, datapoints, now), (runs, now)
    # A waker silent for three hours does alarm.
    assert _alarming(runs[:2], period, evaluations, datapoints, runs[1] + 3 * 3600 + 3600)
