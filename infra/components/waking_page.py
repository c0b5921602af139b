"""Wake on visit: while the stack sleeps, the UI's load balancer sends visitors to a waking page.

A Lambda target behind the same HTTPS listener (same TLS, same OIDC authentication) answers with a page
that reloads into Airflow (API clients get a 503 JSON with Retry-After) and asks the waker to wake. A
listener rule before the listener's default action sends requests to the page while it matches. Its
actions (OIDC, then the page) are `pulumi up`'s, so enabling, rotating or removing OIDC always reaches it;
the waker owns only its conditions (`ignore_changes`), like the desired counts: a catch-all path while the
stack sleeps, and a condition no request meets while it is awake (see lambdas/waker/adapters/elbv2.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.stacks import waker_function_name
from contracts.waker import WAKER_FUNCTION_VARIABLE
from infra import iam_policies
from infra.components.python_lambda import lambda_log_group, python_lambda
from infra.components.roles import service_role
from infra.components.ui import oidc_arguments
from infra.stack_context import StackContext

WAKER_OWNS = ["conditions"]
BOOT_ESTIMATE_MINUTES = 4


@dataclass(frozen=True)
class WakingPageArgs:
    context: StackContext
    listener_arn: pulumi.Input[str]
    oidc_client_secret: pulumi.Input[str] | None


def rule_actions(
    context: StackContext,
    args: WakingPageArgs,
    page_target_group_arn: pulumi.Input[str],
) -> Sequence[aws.lb.ListenerRuleActionArgs]:
    """Authenticate as the listener does, then the waking page."""
    oidc = context.settings.ui.oidc
    actions = []
    if oidc is not None:
        assert args.oidc_client_secret is not None
        actions.append(
            aws.lb.ListenerRuleActionArgs(
                type="authenticate-oidc",
                order=1,
                authenticate_oidc=aws.lb.ListenerRuleActionAuthenticateOidcArgs(
                    **oidc_arguments(oidc, args.oidc_client_secret)
                ),
            )
        )
    actions.append(
        aws.lb.ListenerRuleActionArgs(type="forward", order=len(actions) + 1, target_group_arn=page_target_group_arn)
    )
    return actions


class WakingPage(pulumi.ComponentResource):
    rule_arn: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: WakingPageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:ui:WakingPage", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{context.name}-waking-page"
        waker_arn = context.arn("lambda", f"function:{context.name}-waker")

        logs = lambda_log_group(f"{name}-logs", context, function_name, self)
        role = service_role(
            f"{name}-function",
            context,
            service="lambda",
            description="the waking page",
            parent=self,
            policy=logs.arn.apply(
                lambda log_group: json.dumps(
                    iam_policies.policy(
                        iam_policies.allow(["lambda:InvokeFunction"], [waker_arn]),
                        iam_policies.allow(
                            ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group}:log-stream:*"]
                        ),
                    )
                )
            ),
        )
        function = python_lambda(
            f"{name}-function",
            context,
            parent=self,
            function_name=function_name,
            package="waking_page",
            description="Answers visitors of a sleeping Airflow stack and wakes it",
            role_arn=role.arn,
            log_group=logs,
            # It waits for the waker's answer (a visit waits up to 8 s for the waker's lease, then its run).
            timeout=30,
            memory_size=128,
            environment={
                "STACK": context.name,
                WAKER_FUNCTION_VARIABLE: waker_function_name(context.name),
                "VISIT_HOLD_MINUTES": str(context.settings.ui.visit_hold_minutes),
                "ESTIMATE_MINUTES": str(BOOT_ESTIMATE_MINUTES),
            },
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-target", name=f"{context.name}-page"[:32], target_type="lambda", opts=child
        )
        permission = aws.lambda_.Permission(
            f"{name}-from-alb",
            action="lambda:InvokeFunction",
            function=function.name,
            principal=context.service_principal("elasticloadbalancing"),
            source_arn=self.target_group.arn,
            opts=child,
        )
        aws.lb.TargetGroupAttachment(
            f"{name}-attachment",
            target_group_arn=self.target_group.arn,
            target_id=function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.rule = aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=args.listener_arn,
            priority=1,
            # As created the rule catches everything: a new stack sleeps. Then its conditions are the waker's.
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=["/*"]),
                )
            ],
            actions=rule_actions(context, args, self.target_group.arn),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=WAKER_OWNS),
        )
        self.rule_arn = self.rule.arn
        self.target_group_arn = self.target_group.arn
        self.register_outputs({"rule": self.rule.arn, "function": function.name})
