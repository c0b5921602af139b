"""Wake on visit in the program: the page's Lambda target behind the UI listener, the rule the waker owns."""

from __future__ import annotations

import json

from pulumi.runtime.rpc import is_rpc_secret

from offline import run_stack

RULE = "aws:lb/listenerRule:ListenerRule"


def test_the_page_sits_behind_the_same_listener_with_the_rules_actions_owned_by_the_waker(recordings):
    prod = recordings["prod"]
    target = prod.one("aws:lb/targetGroup:TargetGroup", "waking-page-target")
    assert target.inputs["targetType"] == "lambda"
    attachment = prod.one("aws:lb/targetGroupAttachment:TargetGroupAttachment").inputs
    page = prod.one("aws:lambda/function:Function", "waking-page-function")
    assert attachment["targetId"] == page.outputs["arn"] and attachment["targetGroupArn"] == target.outputs["arn"]
    permission = prod.one("aws:lambda/permission:Permission", "waking-page-from-alb").inputs
    assert permission["principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["sourceArn"] == target.outputs["arn"]

    rule = prod.one(RULE)
    https = prod.one("aws:lb/listener:Listener", "ui-https")
    assert rule.inputs["listenerArn"] == https.outputs["arn"], "same listener: same TLS (and OIDC)"
    assert rule.ignore_changes == ["actions"], "pulumi up never undoes the waker's switch"
    forward = rule.inputs["actions"][-1]["forward"]["targetGroups"]
    api = prod.one("aws:lb/targetGroup:TargetGroup", "ui-api-server").outputs["arn"]
    assert {g["arn"]: g["weight"] for g in forward} == {api: 0, target.outputs["arn"]: 1}, "a new stack sleeps"

    env = prod.one("aws:lambda/function:Function", "waker-function").inputs["environment"]["variables"]
    assert env["LISTENER_RULE_ARN"] == rule.outputs["arn"]
    assert env["API_TARGET_GROUP_ARN"] == api and env["PAGE_TARGET_GROUP_ARN"] == target.outputs["arn"]
    policy = json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])
    modify = next(s for s in policy["Statement"] if s["Action"] == ["elasticloadbalancing:ModifyRule"])
    assert modify["Resource"] == [rule.outputs["arn"]]


def test_oidc_guards_the_waking_page_too(recordings):
    rule = recordings["existing-vpc-oidc"].one(RULE)
    actions = rule.inputs["actions"]
    assert is_rpc_secret(actions), "the OIDC client secret stays a Pulumi secret"
    assert [a["type"] for a in actions["value"]] == ["authenticate-oidc", "forward"]


def test_the_page_may_only_invoke_the_waker(recordings):
    policy = json.loads(
        recordings["prod"].one("aws:iam/rolePolicy:RolePolicy", "waking-page-function").inputs["policy"]
    )
    invoke = next(s for s in policy["Statement"] if s["Action"] == ["lambda:InvokeFunction"])
    assert invoke["Resource"] == ["arn:aws-us-gov:lambda:us-gov-east-1:123456789012:function:airflow-prod-waker"]


def test_no_load_balancer_or_wake_on_visit_off_means_no_page(recordings):
    assert not recordings["dev"].of_type(RULE)
    off = run_stack(
        "prod",
        {
            "airflow:ui": json.dumps(
                {
                    "loadBalancer": True,
                    "scheme": "internal",
                    "wakeOnVisit": False,
                    "allowedCidrs": ["10.0.0.0/8"],
                    "certificateArn": "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/"
                    "00000000-0000-0000-0000-000000000000",
                }
            )
        },
    )
    assert not off.of_type(RULE)
    env = off.one("aws:lambda/function:Function", "waker-function").inputs["environment"]["variables"]
    assert env["LISTENER_RULE_ARN"] == "" and env["API_TARGET_GROUP_ARN"] == ""
