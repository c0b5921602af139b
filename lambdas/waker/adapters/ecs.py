"""ECS: the services' desired and running counts, their recent events, and absolute desired-count updates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EVENTS_KEPT = 3  # the newest service events per component, e.g. "unable to place a task"


def service_counts(
    ecs: Any, cluster: str, services: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, int], dict[str, tuple[str, ...]]]:
    """(desired, running, newest events) per component; a service ECS does not report counts as 0."""
    by_name = {name: component for component, name in services.items()}
    desired = dict.fromkeys(services, 0)
    running = dict.fromkeys(services, 0)
    events: dict[str, tuple[str, ...]] = {}
    names = list(by_name)
    for start in range(0, len(names), 10):  # DescribeServices takes up to 10 services
        response = ecs.describe_services(cluster=cluster, services=names[start : start + 10])
        for service in response["services"]:
            component = by_name.get(service["serviceName"])
            if component is not None and service.get("status") == "ACTIVE":
                desired[component] = service["desiredCount"]
                running[component] = service["runningCount"]
                newest = sorted(service.get("events") or [], key=lambda e: e["createdAt"], reverse=True)
                events[component] = tuple(str(e["message"]) for e in newest[:EVENTS_KEPT])
    return desired, running, events


def set_desired_counts(ecs: Any, cluster: str, services: Mapping[str, str], counts: Mapping[str, int]) -> None:
    for component, count in counts.items():
        ecs.update_service(cluster=cluster, service=services[component], desiredCount=count)
