"""Runs of the real program under Pulumi's mocks, shared by the infra tests (each run takes seconds)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from offline import RecordedResource, Recording, run_stack

SNAPSHOT = "airflow-prod-2026-11-20"
PROD_FERNET = "arn:aws-us-gov:secretsmanager:us-gov-east-1:123456789012:secret:airflow-prod-fernet-key-1a2b3c4d-AbCdEf"

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    # A staging stack rehearsing an upgrade on a copy of prod.
    "restore": (
        "dev",
        {
            "airflow:database": json.dumps({"restoreFromSnapshot": SNAPSHOT}),
            "airflow:secrets": json.dumps({"fernetKeySecretArn": PROD_FERNET}),
        },
    ),
    # An enterprise account: existing VPC, NAT-less private subnets, public UI with OIDC, x86 workers.
    "existing-vpc-oidc": (
        "dev",
        {
            "airflow:network": json.dumps(
                {
                    "vpcId": "vpc-0a1b2c3d4e5f60718",
                    "taskSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
                    "databaseSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
                    "loadBalancerSubnetIds": ["subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2"],
                }
            ),
            "airflow:ui": json.dumps(
                {
                    "loadBalancer": True,
                    "scheme": "internet-facing",
                    "certificateArn": "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/"
                    "11111111-2222-3333-4444-555555555555",
                    "allowedCidrs": ["198.51.100.0/24"],
                    "hostName": "airflow.example.gov",
                    "oidc": {
                        "issuer": "https://login.example.gov",
                        "authorizationEndpoint": "https://login.example.gov/authorize",
                        "tokenEndpoint": "https://login.example.gov/token",
                        "userInfoEndpoint": "https://login.example.gov/userinfo",
                        "clientId": "airflow",
                    },
                }
            ),
            "airflow:uiOidcClientSecret": "oidc-client-secret-value-for-tests",
            "airflow:image": json.dumps({"architecture": "x86_64"}),
            "airflow:services": json.dumps({"triggererEnabled": False}),
        },
    ),
}


@pytest.fixture(scope="session")
def recordings() -> dict[str, Recording]:
    return {key: run_stack(stack, overrides) for key, (stack, overrides) in VARIANTS.items()}


@pytest.fixture(params=list(VARIANTS))
def recording(request, recordings) -> Recording:
    return recordings[request.param]


def walk_strings(value: Any) -> Iterator[str]:
    """Every string inside a recorded value, including JSON documents held as strings."""
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            try:
                document = json.loads(value)
            except json.JSONDecodeError:
                document = None
            yield from walk_strings(document)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


def policy_documents(recording: Recording) -> list[tuple[RecordedResource, dict[str, Any]]]:
    return [(r, json.loads(r.inputs["policy"])) for r in recording.of_type("aws:iam/rolePolicy:RolePolicy")]
