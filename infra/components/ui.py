"""The web UI's optional Application Load Balancer in front of the api-server.

HTTPS only with the given ACM certificate and a FIPS TLS policy, HTTP redirected to HTTPS, ingress
limited to the configured CIDRs (by the network's security group), and optional OIDC authentication on
the listener (Cognito listener authentication does not exist in GovCloud). The OIDC client secret comes
from the stack's secret config and stays a Pulumi secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.airflow_env import API_SERVER_PORT, HEALTH_PATH
from infra.settings import OidcSettings
from infra.stack_context import StackContext


def oidc_arguments(oidc: OidcSettings, client_secret: pulumi.Input[str]) -> dict[str, Any]:
    """The listener's OIDC authentication, the same for the default action and the waking page's rule."""
    return {
        "issuer": oidc.issuer,
        "authorization_endpoint": oidc.authorization_endpoint,
        "token_endpoint": oidc.token_endpoint,
        "user_info_endpoint": oidc.user_info_endpoint,
        "client_id": oidc.client_id,
        "client_secret": client_secret,
        "scope": oidc.scope,
        "on_unauthenticated_request": "authenticate",
    }


@dataclass(frozen=True)
class WebUiArgs:
    context: StackContext
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    oidc_client_secret: pulumi.Input[str] | None


class WebUi(pulumi.ComponentResource):
    url: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: WebUiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:ui:WebUi", name, None, opts)
        context = args.context
        ui = context.settings.ui
        assert ui.load_balancer and ui.certificate_arn
        child = pulumi.ResourceOptions(parent=self)
        protected = context.settings.database.deletion_protection

        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=f"{context.name}-ui"[:32],
            load_balancer_type="application",
            internal=ui.scheme == "internal",
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=protected,
            idle_timeout=120,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-api-server",
            name=f"{context.name}-api"[:32],
            target_type="ip",
            protocol="HTTP",
            port=API_SERVER_PORT,
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=HEALTH_PATH,
                matcher="200",
                interval=30,
                timeout=10,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=child,
        )
        actions: list[aws.lb.ListenerDefaultActionArgs] = []
        if ui.oidc is not None:
            assert args.oidc_client_secret is not None
            actions.append(
                aws.lb.ListenerDefaultActionArgs(
                    type="authenticate-oidc",
                    order=1,
                    authenticate_oidc=aws.lb.ListenerDefaultActionAuthenticateOidcArgs(
                        **oidc_arguments(ui.oidc, args.oidc_client_secret)
                    ),
                )
            )
        actions.append(
            aws.lb.ListenerDefaultActionArgs(
                type="forward",
                order=len(actions) + 1,
                target_group_arn=self.target_group.arn,
            )
        )
        self.https_listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=ui.tls_policy,
            certificate_arn=ui.certificate_arn,
            default_actions=actions,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS",
                        port="443",
                        status_code="HTTP_301",
                    ),
                )
            ],
            opts=child,
        )
        host = pulumi.Output.from_input(ui.host_name) if ui.host_name else self.load_balancer.dns_name
        self.url = host.apply(lambda h: f"https://{h}")
        self.target_group_arn = self.target_group.arn
        # CloudWatch dimensions of the api-server's request count (the waker's UI-activity signal).
        self.load_balancer_arn_suffix = self.load_balancer.arn_suffix
        self.target_group_arn_suffix = self.target_group.arn_suffix
        self.register_outputs({"url": self.url, "loadBalancerDnsName": self.load_balancer.dns_name})
