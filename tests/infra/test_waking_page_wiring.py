"""Wake on visit in the program: the page's Lambda target behind the UI listener, the rule the waker owns."""

from __future__ import annotations

import json

from pulumi.runtime.rpc import is_rpc_secret

from offline.recording import run_stack

RULE = "aws:lb/listenerRule:ListenerRule"


def test_the_page_sits_behind_the_same_listener_with_only_the_rules_conditions_owned_by_the_waker(recordings):
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
    # Regression: with the actions ignored, enabling or rotating OIDC later never reached this rule.
    assert rule.ignore_changes == ["conditions"], "pulumi up owns the actions; the waker only the switch"
    assert rule.inputs["actions"][-1] == {"type": "forward", "order": 1, "targetGroupArn": target.outputs["arn"]}
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}], "a new stack sleeps"
    api = prod.one("aws:lb/targetGroup:TargetGroup", "ui-api-server").outputs["arn"]

    env = prod.one("aws:lambda/function:Function", "waker-function").inputs["environment"]["variables"]
    assert env["LISTENER_RULE_ARN"] == rule.outputs["arn"]
    assert env["API_TARGET_GROUP_ARN"] == api and "PAGE_TARGET_GROUP_ARN" not in env
    policy = json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "waker-function").inputs["policy"])
    modify = next(s for s in policy["Statement"] if s["Action"] == ["elasticloadbalancing:ModifyRule"])
    assert modify["Resource"] == [rule.outputs["arn"]]


def test_oidc_guards_the_waking_page_and_the_listener_alike(recordings):
    recording = recordings["existing-vpc-oidc"]
    rule = recording.one(RULE).inputs["actions"]
    listener = recording.one("aws:lb/listener:Listener", "ui-https").inputs["defaultActions"]
    assert is_rpc_secret(rule) and is_rpc_secret(listener), "the OIDC client secret stays a Pulumi secret"
    assert [a["type"] for a in rule["value"]] == ["authenticate-oidc", "forward"]
    assert [a["type"] for a in listener["value"]] == ["authenticate-oidc", "forward"]
    assert rule["value"][0] == listener["value"][0], "the same authentication in front of both targets"


def test_turning_oidc_on_later_reaches_the_rule_that_carries_the_traffic(recordings):
    """Regression: the rule's actions were ignored, so OIDC enabled after the first deploy never reached it.
    Now the actions differ between the two configurations and nothing ignores them."""
    without = recordings["prod"].one(RULE)
    with_oidc = recordings["existing-vpc-oidc"].one(RULE)
    assert "actions" not in without.ignore_changes and "actions" not in with_oidc.ignore_changes
    assert [a["type"] for a in without.inputs["actions"]] == ["forward"]


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
