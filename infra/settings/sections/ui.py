"""The ui section: the load balancer, its TLS and OIDC, and the waking page."""

from __future__ import annotations

import ipaddress

from infra.settings.model import (
    FIPS_TLS_POLICIES,
    OidcSettings,
    UiSettings,
)
from infra.settings.schema import (
    Section,
    arn,
    boolean,
    cidr,
    integer,
    list_of,
    one_of,
    text,
)

_HTTPS_URL = text(r"https://[^\s/$.?#][^\s]*", "an https:// URL")


def _oidc(section: Section) -> OidcSettings | None:
    if not section.raw:
        section.reject_unknown()
        return None
    fields = {
        name: section.get(name, _HTTPS_URL, "")
        for name in ("issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint")
    }
    client_id = section.get("clientId", text(r"\S{1,255}", "the OIDC client id"), "")
    scope = section.get("scope", text(r"[\w:./ -]{1,255}", "space-separated scopes"), "openid")
    section.reject_unknown()
    for name in (*fields, "clientId"):
        if not section.has(name):
            section.fail(name, "is required when oidc is set")
    return OidcSettings(
        fields["issuer"],
        fields["authorizationEndpoint"],
        fields["tokenEndpoint"],
        fields["userInfoEndpoint"],
        client_id,
        scope,
    )


def read_ui(section: Section, partition: str, region: str) -> UiSettings:
    load_balancer = section.get("loadBalancer", boolean, False)
    settings = UiSettings(
        load_balancer=load_balancer,
        scheme=section.get("scheme", one_of("internet-facing", "internal"), "internal"),
        certificate_arn=section.get(
            "certificateArn",
            arn(
                partition,
                "acm",
                r"certificate/[0-9a-f-]{36}",
                "arn:{partition}:acm:us-gov-east-1:123456789012:certificate/<uuid>",
            ),
            None,
        ),
        tls_policy=section.get("tlsPolicy", one_of(*FIPS_TLS_POLICIES), FIPS_TLS_POLICIES[0]),
        allowed_cidrs=section.get("allowedCidrs", list_of(cidr(private_only=not load_balancer)), ()),
        host_name=section.get(
            "hostName",
            text(r"(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}", "a DNS name like airflow.example.gov"),
            None,
        ),
        oidc=_oidc(section.section("oidc")),
        wake_on_visit=section.get("wakeOnVisit", boolean, True),
        visit_hold_minutes=section.get("visitHoldMinutes", integer(5, 240), 30),
        # A stack without a load balancer has no other way in of its own.
        port_forward=section.get("portForward", boolean, not load_balancer),
    )
    anonymous_internet = section.get("publicWithoutLogin", boolean, False)
    section.reject_unknown()
    if load_balancer:
        if settings.certificate_arn is None:
            section.fail("certificateArn", "is required with loadBalancer: the listener serves HTTPS only")
        elif settings.certificate_arn.split(":")[3] != region:
            section.fail(
                "certificateArn",
                f"must be a certificate in {region}, the stack's region (a load balancer uses its own region's "
                f"ACM certificates); got one in {settings.certificate_arn.split(':')[3]}",
            )
        if not settings.allowed_cidrs:
            section.fail("allowedCidrs", "needs at least one CIDR with loadBalancer (who may reach the UI)")
        public = [c for c in settings.allowed_cidrs if not ipaddress.ip_network(c).is_private]
        if settings.scheme == "internet-facing" and settings.oidc is None and public and not anonymous_internet:
            section.fail(
                "allowedCidrs",
                f"admits {', '.join(public)} from the internet with no login in front of the UI (no oidc): add "
                "ui.oidc, narrow the CIDRs, or set ui.publicWithoutLogin: true to accept Airflow's own login alone",
            )
    else:
        for name in (
            "certificateArn",
            "oidc",
            "scheme",
            "hostName",
            "wakeOnVisit",
            "visitHoldMinutes",
            "publicWithoutLogin",
        ):
            if section.has(name):
                section.fail(name, "only applies with loadBalancer: true")
    return settings
