"""The IAM evaluator the stand-in AWS enforces with: AWS's documented evaluation logic, conditions included.

Cases follow https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html.
"""

from __future__ import annotations

import pytest

from standin.authorization import s3_checks
from standin.iam_policy import UnsupportedCondition, condition_holds, evaluate

BUCKET = "arn:aws-us-gov:s3:::airflow-dev-bucket"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, condition=None):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


class NoObjects:
    def secret_arn(self, secret_id):
        return None

    def task_definition_roles(self, task_definition):
        return task_definition, []

    def object_exists(self, bucket, key):
        return False

    def role_arn(self, role_name):
        return None


def test_the_old_prefix_conditioned_listing_refuses_head_bucket_and_allows_a_prefixed_list():
    """Regression: `s3:ListBucket` granted only with an `s3:prefix` condition. HeadBucket carries no prefix
    (the key is absent, so StringLike is false), which is why S3DagBundle could never start."""
    old = policy(allow(["s3:ListBucket"], [BUCKET], {"StringLike": {"s3:prefix": ["dags/", "dags/*"]}}))
    (head,) = s3_checks("aws-us-gov", "HeadBucket", "airflow-dev-bucket", None, {}, NoObjects())
    assert not evaluate([old], head.action, head.resource, head.context).allowed
    (listing,) = s3_checks("aws-us-gov", "ListBucket", "airflow-dev-bucket", None, {"prefix": ["dags/"]}, NoObjects())
    assert evaluate([old], listing.action, listing.resource, listing.context).allowed


def test_reading_a_missing_object_needs_list_bucket_too():
    checks = s3_checks("aws-us-gov", "GetObject", "airflow-dev-bucket", "logs/x.log", {}, NoObjects())
    assert [(c.action, c.only_if_missing) for c in checks] == [("s3:GetObject", False), ("s3:ListBucket", True)]


def test_explicit_deny_wins_over_allow():
    documents = [
        policy(allow("s3:*", "*")),
        policy({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/*", "Sid": "NoDeletes"}),
    ]
    verdict = evaluate(documents, "s3:DeleteObject", f"{BUCKET}/dags/x.py", {})
    assert not verdict.allowed and "NoDeletes" in verdict.reason
    assert evaluate(documents, "s3:GetObject", f"{BUCKET}/dags/x.py", {}).allowed


def test_nothing_allows_is_an_implicit_deny_and_actions_ignore_case():
    assert not evaluate([policy(allow("sqs:SendMessage", "*"))], "sqs:ReceiveMessage", "*", {}).allowed
    assert evaluate([policy(allow("SQS:sendmessage", "*"))], "sqs:SendMessage", "*", {}).allowed


def test_resources_match_with_wildcards_and_case():
    document = policy(allow("ssm:GetParameter", "arn:aws-us-gov:ssm:us-gov-east-1:1:parameter/airflow-dev/*"))
    assert evaluate(
        [document], "ssm:GetParameter", "arn:aws-us-gov:ssm:us-gov-east-1:1:parameter/airflow-dev/x", {}
    ).allowed
    assert not evaluate(
        [document], "ssm:GetParameter", "arn:aws:ssm:us-gov-east-1:1:parameter/airflow-dev/x", {}
    ).allowed
    assert not evaluate(
        [document], "ssm:GetParameter", "arn:aws-us-gov:ssm:us-gov-east-1:1:parameter/Airflow-dev/x", {}
    ).allowed


def test_not_action_and_not_resource():
    document = policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{BUCKET}/secret/*"})
    assert evaluate([document], "s3:GetObject", f"{BUCKET}/dags/a", {}).allowed
    assert not evaluate([document], "s3:GetObject", f"{BUCKET}/secret/a", {}).allowed
    assert not evaluate([document], "iam:PassRole", "*", {}).allowed


@pytest.mark.parametrize(
    ("operator", "expected", "context", "holds"),
    [
        ("StringEquals", "a", {"k": "a"}, True),
        ("StringEquals", ["a", "b"], {"k": "b"}, True),
        ("StringEquals", "a", {}, False),  # a missing key makes a positive operator false
        ("StringNotEquals", "a", {}, True),  # ... and a negated one true
        ("StringNotEquals", ["a", "b"], {"k": "b"}, False),
        ("StringLike", "dags/*", {"k": "dags/x"}, True),
        ("StringLike", "dags/*", {"k": "logs/x"}, False),
        ("StringEqualsIfExists", "a", {}, True),
        (
            "ArnEquals",
            "arn:aws-us-gov:ecs:us-gov-east-1:1:cluster/c",
            {"k": "arn:aws-us-gov:ecs:us-gov-east-1:1:cluster/c"},
            True,
        ),
        ("ArnLike", "arn:aws-us-gov:ecs:*:1:cluster/*", {"k": "arn:aws-us-gov:ecs:us-gov-east-1:1:cluster/c"}, True),
        ("ArnLike", "arn:aws:ecs:*:1:cluster/*", {"k": "arn:aws-us-gov:ecs:us-gov-east-1:1:cluster/c"}, False),
        ("Bool", "true", {"k": "true"}, True),
        ("Bool", "false", {"k": "true"}, False),
        ("NumericLessThan", "10", {"k": "5"}, True),
        ("Null", "true", {}, True),
        ("Null", "false", {}, False),
        ("ForAnyValue:StringEquals", ["a"], {"k": ["b", "a"]}, True),
        ("ForAllValues:StringEquals", ["a"], {"k": ["b", "a"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),
    ],
)
def test_condition_operators(operator, expected, context, holds):
    assert condition_holds(operator, "k", expected, context) is holds


def test_condition_keys_are_case_insensitive():
    assert condition_holds("StringEquals", "CloudWatch:Namespace", "Airflow/x", {"cloudwatch:namespace": "Airflow/x"})


def test_an_operator_it_cannot_evaluate_is_refused_not_guessed():
    with pytest.raises(UnsupportedCondition):
        condition_holds("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z", {"aws:CurrentTime": "x"})
