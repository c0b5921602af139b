"""The load balancer: is the api-server healthy, and which target group gets the UI's visitors.

The listener rule forwards to two target groups, the api-server's and the waking page's; the waker moves
the whole weight to one of them. Only the forward weights change; any action before it (OIDC) stays.
"""

from __future__ import annotations

from typing import Any


def api_server_healthy(elbv2: Any, target_group_arn: str) -> bool:
    targets = elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    return any(t["TargetHealth"]["State"] == "healthy" for t in targets)


def current_route(elbv2: Any, rule_arn: str, airflow_target_group: str) -> str:
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
    weights = {g["TargetGroupArn"]: g.get("Weight", 1) for g in forward["ForwardConfig"]["TargetGroups"]}
    return "airflow" if weights.get(airflow_target_group, 0) > 0 else "waking-page"


def route_to(elbv2: Any, rule_arn: str, *, airflow_target_group: str, page_target_group: str, route: str) -> None:
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    actions = []
    for action in rule["Actions"]:
        kept = {k: v for k, v in action.items() if k in ("Type", "Order", "AuthenticateOidcConfig", "ForwardConfig")}
        if action["Type"] == "forward":
            kept.pop("TargetGroupArn", None)
            kept["ForwardConfig"] = {
                "TargetGroups": [
                    {"TargetGroupArn": airflow_target_group, "Weight": 1 if route == "airflow" else 0},
                    {"TargetGroupArn": page_target_group, "Weight": 0 if route == "airflow" else 1},
                ]
            }
        actions.append(kept)
    elbv2.modify_rule(RuleArn=rule_arn, Actions=actions)
