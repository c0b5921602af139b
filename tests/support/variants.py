"""The stack variants the tests run the program for, and the endpoints the Airflow tests point at."""

from __future__ import annotations

import json
from typing import Any

from infra.airflow_env import AirflowEndpoints
from offline.recording import Secret, load_stack_file

SNAPSHOT = "airflow-prod-2026-11-20"
# An identity provider's settings (`ui.oidc`), as a stack file gives them.
OIDC = {
    "issuer": "https://login.example.gov",
    "authorizationEndpoint": "https://login.example.gov/authorize",
    "tokenEndpoint": "https://login.example.gov/token",
    "userInfoEndpoint": "https://login.example.gov/userinfo",
    "clientId": "airflow",
}
# Prod's Airflow secret, whose fernet_key a restored stack's `pulumi up` copies into its own secret.
PROD_SECRET = "arn:aws-us-gov:secretsmanager:us-gov-east-1:123456789012:secret:airflow-prod-airflow-1a2b3c4d-AbCdEf"

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    # A staging stack rehearsing an upgrade on a copy of prod.
    "restore": (
        "dev",
        {
            "airflow:database": json.dumps({"restoreFromSnapshot": SNAPSHOT}),
            "airflow:secrets": json.dumps({"fernetKeyFrom": PROD_SECRET}),
        },
    ),
    # An enterprise account: existing VPC, NAT-less private subnets, public UI with OIDC; ARM64 and Spot
    # workers, opted into once probed.
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
                    "oidc": OIDC,
                }
            ),
            "airflow:uiOidcClientSecret": Secret("oidc-client-secret-value-for-tests"),
            "airflow:image": json.dumps({"architecture": "arm64"}),
            "airflow:services": json.dumps({"triggererEnabled": False, "workerSpot": True}),
            # and a rule that SNS topics be encrypted with a customer key; operators who like a dashboard
            "airflow:waker": json.dumps(
                {**json.loads(load_stack_file("dev")["airflow:waker"]), "alarmTopicKey": "customer", "dashboard": True}
            ),
        },
    ),
}

QUEUE_URL = "https://sqs.us-gov-east-1.amazonaws.com/123456789012/airflow-test-celery"
ENDPOINTS = AirflowEndpoints(
    region="us-gov-east-1",
    bucket="airflow-test-bucket",
    broker_queue_url=QUEUE_URL,
    execution_api_url="http://api-server.airflow-test.internal:8080/execution/",
    base_url="http://api-server.airflow-test.internal:8080",
    connections_prefix="airflow-test/connections",
    variables_prefix="airflow-test/variables",
    worker_concurrency=4,
    broker_visibility_timeout_seconds=21600,
)
