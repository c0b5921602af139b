"""The load balancer: is the api-server healthy, and does the waking page's rule catch the UI's visitors.

The waking page's listener rule comes before the listener's default action (OIDC, then the api-server).
Its actions (OIDC, then the waking page) belong to `pulumi up`; the waker owns only its conditions: a
path pattern that matches every request while the stack sleeps, and a source address no client can have
while it is awake, so requests fall through to the default action. The waker never sends actions, so it
can never drop or alter the authentication in front of either target.
"""

from __future__ import annotations

from typing import Any

CATCH_ALL = [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}]
# 255.255.255.255 is the limited broadcast address: never the source of a TCP connection.
MATCH_NOTHING = [{"Field": "source-ip", "SourceIpConfig": {"Values": ["255.255.255.255/32"]}}]


def api_server_healthy(elbv2: Any, target_group_arn: str) -> bool:
    targets = elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    return any(t["TargetHealth"]["State"] == "healthy" for t in targets)


def current_route(elbv2: Any, rule_arn: str) -> str:
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    catches = any(
        c.get("Field") == "path-pattern"
        and "/*" in ((c.get("PathPatternConfig") or {}).get("Values") or c.get("Values") or [])
        for c in rule["Conditions"]
    )
    return "waking-page" if catches else "airflow"


def route_to(elbv2: Any, rule_arn: str, *, route: str) -> None:
    elbv2.modify_rule(RuleArn=rule_arn, Conditions=CATCH_ALL if route == "waking-page" else MATCH_NOTHING)
