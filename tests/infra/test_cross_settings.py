"""Settings each valid alone that cannot work together, and values AWS itself would refuse: each is named with
what to change before anything is created (regressions of the last probe: all were accepted)."""

from __future__ import annotations

import pytest

from infra.settings import load_settings
from infra.settings.schema import SettingsError
from tests.infra.test_settings import settings_with

PROD_SECRET = "arn:aws-us-gov:secretsmanager:us-gov-east-1:123456789012:secret:airflow-prod/airflow-AbCdEf"
EXISTING_VPC = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "taskSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "databaseSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}
UI = {
    "loadBalancer": True,
    "certificateArn": "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
    "allowedCidrs": ["10.0.0.0/8"],
}
SNAPSHOT_ARN = "arn:aws-us-gov:rds:{region}:123456789012:{kind}:airflow-prod-final"

CASES = {
    "a VPC's range with an existing VPC": (
        {"network": {**EXISTING_VPC, "vpcCidr": "10.40.0.0/16"}},
        "airflow:network.vpcCidr",
        "only applies to a VPC the program creates",
    ),
    "event queues with the triggerer off": (
        {
            "services": {"triggererEnabled": False},
            "waker": {"eventQueueArns": ["arn:aws-us-gov:sqs:us-gov-east-1:123456789012:orders-events"]},
        },
        "airflow:waker.eventQueueArns",
        "needs services.triggererEnabled: true",
    ),
    "a restore without the source's Fernet key": (
        {"database": {"restoreFromSnapshot": "rds:airflow-prod-2026-11-01-00-00"}},
        "airflow:secrets.fernetKeyFrom",
        "to restore another stack's snapshot (airflow-prod's)",
    ),
    "a wake lead outside its own bounds": (
        {"waker": {"wakeLeadMinutes": 30, "wakeLeadMaxMinutes": 20}},
        "airflow:waker.wakeLeadMinutes",
        "(2..20)",
    ),
    "no visit wakes with wake on visit": (
        {"ui": {**UI, "wakeOnVisit": True}, "waker": {"maxVisitWakesPerDay": 0}},
        "airflow:waker.maxVisitWakesPerDay",
        "set ui.wakeOnVisit: false",
    ),
    "storage growth under 10%": (
        {"database": {"allocatedStorageGb": 20, "maxAllocatedStorageGb": 21}},
        "airflow:database.maxAllocatedStorageGb",
        "22 or more",
    ),
    "a snapshot of another Region": (
        {
            "database": {"restoreFromSnapshot": SNAPSHOT_ARN.format(region="us-gov-west-1", kind="snapshot")},
            "secrets": {"fernetKeyFrom": PROD_SECRET},
        },
        "airflow:database.restoreFromSnapshot",
        "copy it there first",
    ),
    "an Aurora cluster snapshot": (
        {
            "database": {"restoreFromSnapshot": SNAPSHOT_ARN.format(region="us-gov-east-1", kind="cluster-snapshot")},
            "secrets": {"fernetKeyFrom": PROD_SECRET},
        },
        "airflow:database.restoreFromSnapshot",
        "Aurora cluster snapshot",
    ),
    "the machine's own time zone": (
        {"waker": {"windows": [{"name": "office", "cron": "cron(0 8 ? * MON-FRI *)", "timezone": "localtime"}]}},
        "airflow:waker.windows[0].timezone",
        "IANA time zone",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_conflict_is_named_with_what_to_change(case):
    sections, key, words = CASES[case]
    with pytest.raises(SettingsError) as refused:
        load_settings("staging", settings_with(**sections))
    named = [allowed for where, allowed in refused.value.problems if where == key]
    assert named and words in named[0], refused.value.problems


def test_the_same_settings_without_the_conflict_are_accepted():
    own = {"restoreFromSnapshot": "rds:airflow-staging-2026-11-01-00-00", "deletionProtection": False}
    load_settings("staging", settings_with(database=own))  # its own snapshot: its own secret's Fernet key
    load_settings("staging", settings_with(network=EXISTING_VPC))
    load_settings("staging", settings_with(database={"allocatedStorageGb": 20, "maxAllocatedStorageGb": 22}))
    load_settings("staging", settings_with(ui={**UI, "wakeOnVisit": False}, waker={"maxVisitWakesPerDay": 0}))
    load_settings(
        "staging",
        settings_with(
            database={"restoreFromSnapshot": SNAPSHOT_ARN.format(region="us-gov-east-1", kind="snapshot")},
            secrets={"fernetKeyFrom": PROD_SECRET},
        ),
    )
