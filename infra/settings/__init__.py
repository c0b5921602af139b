"""One typed, validated settings object per stack, read once from the stack's config.

`load_settings` is pure: it takes the stack name and the raw `namespace:key -> value` config and either
returns `Settings` or raises `SettingsError` naming every wrong key and what it allows. Nothing is
declared before it has succeeded. `read_stack_settings` is the thin adapter over Pulumi's config.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from contracts.stacks import STACK_NAME_RULE, is_stack_name
from infra.settings.model import (
    DB_INSTANCE_CLASSES,
    DEFAULT_AIRFLOW_VERSION,
    LOG_RETENTION_DAYS,
    NAMESPACE,
    REGION_PARTITIONS,
    TOP_LEVEL_KEYS,
    OidcSettings,
    Settings,
)
from infra.settings.schema import Section, SettingsError, _describe, integer, one_of
from infra.settings.sections.network import read_database, read_network
from infra.settings.sections.secrets import read_restored_from, read_secrets
from infra.settings.sections.services import LAMBDA_RUNTIMES, read_image, read_services
from infra.settings.sections.tags import tags
from infra.settings.sections.ui import read_ui
from infra.settings.sections.waker import read_waker, window_schedule_name

__all__ = [
    "DB_INSTANCE_CLASSES",
    "DEFAULT_AIRFLOW_VERSION",
    "REGION_PARTITIONS",
    "OidcSettings",
    "Settings",
    "load_settings",
    "read_stack_settings",
    "stack_config_from_yaml",
    "window_schedule_name",
]


SECRET_SETTINGS = ("uiOidcClientSecret",)
KNOWN_NAMESPACES = ("airflow", "aws", "pulumi")


def load_settings(stack: str, config: Mapping[str, Any], secret_keys: Collection[str] | None = None) -> Settings:
    """Build the stack's settings from raw config (`namespace:key` -> value), or raise SettingsError.
    `secret_keys`: the keys given as secrets (default: those whose value is the "[secret]" placeholder)."""
    problems: list[tuple[str, str]] = []
    for key in sorted(config):
        namespace = key.split(":", 1)[0] if ":" in key else ""
        if namespace not in KNOWN_NAMESPACES:
            problems.append(
                (
                    key,
                    f"has {'no namespace' if not namespace else f'an unknown namespace {namespace!r}'}; settings are "
                    f"airflow:<setting> (known: {', '.join(TOP_LEVEL_KEYS)}) or aws:<provider setting>",
                )
            )
    secrets = set(secret_keys) if secret_keys is not None else {k for k, v in config.items() if v == "[secret]"}
    for name in SECRET_SETTINGS:
        key = f"{NAMESPACE}:{name}"
        if key in config and key not in secrets:
            problems.append((key, f"is in plain text; keep it encrypted: `pulumi config set --secret {name} <value>`"))
    if not is_stack_name(stack):
        problems.append(
            (
                "stack",
                f"name must be {STACK_NAME_RULE}; got {stack!r}",
            )
        )

    region = config.get("aws:region")
    if region not in REGION_PARTITIONS:
        problems.append(("aws:region", f"must be one of {', '.join(REGION_PARTITIONS)}; got {region!r}"))
        region = "us-gov-east-1"
    partition = REGION_PARTITIONS[region]

    prefix = f"{NAMESPACE}:"
    for key in sorted(config):
        if key.startswith(prefix) and key[len(prefix) :] not in TOP_LEVEL_KEYS:
            problems.append((key, f"is not a known setting; known: {', '.join(TOP_LEVEL_KEYS)}"))

    def section(name: str) -> Section:
        return Section(prefix + name, config.get(prefix + name), problems)

    root = Section(prefix, {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}, problems)

    ui = read_ui(section("ui"), partition, region)
    if ui.oidc is not None and not root.has("uiOidcClientSecret"):
        problems.append(
            (
                f"{prefix}uiOidcClientSecret",
                "is required with ui.oidc; set it with `pulumi config set --secret uiOidcClientSecret`",
            )
        )

    network = read_network(section("network"))
    if ui.oidc is not None and ui.scheme == "internal" and network.creates_vpc and network.nat_gateway == "none":
        problems.append(
            (
                f"{prefix}ui.oidc",
                "an internal load balancer reaches the identity provider only through a NAT gateway: set "
                "network.natGateway: single, or ui.scheme: internet-facing (the load balancer calls the token and "
                "user info endpoints itself)",
            )
        )

    settings = Settings(
        stack=stack,
        region=region,
        partition=partition,
        network=network,
        database=read_database(section("database"), stack, partition, region),
        services=read_services(section("services"), partition),
        image=read_image(section("image")),
        ui=ui,
        secrets=read_secrets(section("secrets"), stack, partition),
        log_retention_days=root.get("logRetentionDays", one_of(*LOG_RETENTION_DAYS), 30),
        broker_visibility_timeout_seconds=root.get("brokerVisibilityTimeoutSeconds", integer(900, 43200), 21600),
        lambda_runtime=root.get("lambdaRuntime", one_of(*LAMBDA_RUNTIMES), "python3.13"),
        waker=read_waker(section("waker"), partition, stack),
        tags=root.get("tags", tags, {}),
        restored_from=read_restored_from(section("restoredFrom"), partition),
    )
    problems += isolation_problems(settings, stack) + cross_setting_problems(settings)
    if problems:
        raise SettingsError(problems)
    return settings


def cross_setting_problems(settings: Settings) -> list[tuple[str, str]]:
    """Settings each valid alone that cannot work together."""
    problems = []
    if settings.waker.event_queue_arns and not settings.services.triggerer_enabled:
        problems.append(
            (
                f"{NAMESPACE}:waker.eventQueueArns",
                "needs services.triggererEnabled: true: the asset watchers that read the queues run in the triggerer",
            )
        )
    source = _snapshot_stack_prefix(settings.database.restore_from_snapshot or "")
    if source and source != f"airflow-{settings.stack}" and settings.secrets.fernet_key_from is None:
        problems.append(
            (
                f"{NAMESPACE}:secrets.fernetKeyFrom",
                f"is required to restore another stack's snapshot ({source}'s): its connections and variables "
                "are encrypted with that stack's Fernet key; set it to that stack's airflowSecretArn output",
            )
        )
    if settings.ui.load_balancer and settings.ui.wake_on_visit and settings.waker.max_visit_wakes_per_day == 0:
        problems.append(
            (
                f"{NAMESPACE}:waker.maxVisitWakesPerDay",
                "is 0, so the waking page (ui.wakeOnVisit) would turn every visitor away: set ui.wakeOnVisit: false "
                "instead, or allow 1 or more",
            )
        )
    return problems


def _snapshot_stack_prefix(snapshot: str) -> str | None:
    """The `airflow-<stack>` a snapshot's name starts with (RDS names automated snapshots after their instance,
    and this project's final snapshots after the stack), or None where the name does not tell."""
    name = snapshot.rsplit(":", 1)[-1]
    if not name.startswith("airflow-"):
        return None
    # The stack part ends where a date (automated snapshots) or a known suffix begins.
    words = name.split("-")
    stack_words = [w for w in itertools.takewhile(lambda w: not w[:1].isdigit() and w != "final", words[1:])]
    return "airflow-" + "-".join(stack_words) if stack_words else None


def isolation_problems(settings: Settings, stack: str) -> list[tuple[str, str]]:
    """A stack restored from another's snapshot reaches none of the source's targets: not its DAGs' settings
    (unchanged environment values), not its worker policies, not its event queues."""
    source = settings.restored_from
    if source is None:
        return []
    problems = []
    if source.stack == stack:
        problems.append((f"{NAMESPACE}:restoredFrom.stack", "names this stack itself: a copy is a separate stack"))
    if not settings.database.restore_from_snapshot:
        problems.append(
            (f"{NAMESPACE}:database.restoreFromSnapshot", f"is required with restoredFrom (a copy of {source.stack})")
        )
    if not settings.secrets.fernet_key_from:
        problems.append(
            (
                f"{NAMESPACE}:secrets.fernetKeyFrom",
                f"is required with restoredFrom: {source.stack}'s airflowSecretArn, whose Fernet key decrypts the "
                "restored connections and variables (airflow-stack stage writes it)",
            )
        )
    inherited = sorted(k for k, v in settings.services.environment.items() if source.environment.get(k) == v)
    if inherited:
        problems.append(
            (
                f"{NAMESPACE}:services.environment",
                f"{', '.join(inherited)} still have {source.stack}'s values: a copy must not reach {source.stack}'s "
                "targets; give staging its own (airflow-stack stage --set-env KEY=VALUE)",
            )
        )
    policies = sorted(set(settings.services.worker_policy_arns) & set(source.worker_policy_arns))
    if policies:
        problems.append(
            (
                f"{NAMESPACE}:services.workerPolicyArns",
                f"{', '.join(policies)} are {source.stack}'s: give staging its own (stage --worker-policy ARN)",
            )
        )
    queues = sorted(set(settings.waker.event_queue_arns) & set(source.event_queue_arns))
    if queues:
        problems.append(
            (
                f"{NAMESPACE}:waker.eventQueueArns",
                f"{', '.join(queues)} are {source.stack}'s event queues: its triggerer would consume {source.stack}'s "
                "messages; give staging its own (stage --event-queue ARN)",
            )
        )
    return problems


def change_problems(previous: Settings, current: Settings) -> list[tuple[str, str]]:
    """What must not change in one update: a protected database may not lose its protection in the same
    change that restores over it (the restore replaces it; protection would have refused that)."""
    if (
        previous.database.deletion_protection
        and current.database.restore_from_snapshot
        and (current.database.restore_from_snapshot != previous.database.restore_from_snapshot)
    ):
        return [
            (
                f"{NAMESPACE}:database.restoreFromSnapshot",
                "comes in the same change that turns deletionProtection off, and the restore replaces the protected "
                "database: turn protection off in a change of its own (pulumi up), then restore in the next, or "
                "restore into a staging stack (airflow-stack stage)",
            )
        ]
    return []


MAX_STACK_FILE_BYTES = 256 * 1024  # a stack file is a few kilobytes
MAX_STACK_FILE_DEPTH = 32  # settings nest three or four levels
MAX_NUMBER_CHARACTERS = 30  # no setting is a number of more digits (a year is 31536000 seconds)


def read_stack_path(path: Path) -> dict[str, Any]:
    """A Pulumi.<stack>.yaml read as stack files are written: a regular file, UTF-8 (a BOM allowed), at most
    MAX_STACK_FILE_BYTES; then read_stack_file. Any other file is a SettingsError naming it."""
    name = path.name
    if not path.is_file():
        raise SettingsError([(name, "must be a stack file (a regular file), not a directory or a device")])
    with path.open("rb") as handle:
        data = handle.read(MAX_STACK_FILE_BYTES + 1)
    if len(data) > MAX_STACK_FILE_BYTES:
        raise SettingsError([(name, f"is larger than {MAX_STACK_FILE_BYTES // 1024} KiB: not a stack file")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SettingsError([(f"{name} byte {error.start}", "is not UTF-8: save the file as UTF-8")]) from None
    return read_stack_file(text, name)


def read_stack_file(text: str, name: str) -> dict[str, Any]:
    """A Pulumi.<stack>.yaml's document, or SettingsError naming the file and line of what is wrong: YAML
    syntax, a key given twice (YAML would silently keep the last), a key that is not text, an alias (which
    could expand without bound), nesting deeper than any setting, a number longer than any setting, or a
    `config:` that is not a mapping."""
    import yaml

    if len(text) > MAX_STACK_FILE_BYTES:
        raise SettingsError([(name, f"is larger than {MAX_STACK_FILE_BYTES // 1024} KiB: not a stack file")])

    def at(mark: Any) -> str:
        return f"{name} line {mark.line + 1}"

    class StrictLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise SettingsError([(at(self.peek_event().start_mark), "uses a YAML alias (*name): write it out")])
            self.depth += 1
            if self.depth > MAX_STACK_FILE_DEPTH:
                mark = self.peek_event().start_mark
                raise SettingsError([(at(mark), f"nests deeper than {MAX_STACK_FILE_DEPTH} levels: no setting does")])
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise SettingsError([(f"{name} line {line}", f"keys must be text, got {_describe(key)}")])
            if key in seen:
                raise SettingsError(
                    [(f"{name} line {line}", f"{key} is given twice (first on line {seen[key]}); keep one")]
                )
            seen[key] = line
        return loader.construct_mapping(node)

    def number(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        if len(str(node.value)) > MAX_NUMBER_CHARACTERS:
            raise SettingsError([(at(node.start_mark), f"holds a number of {len(node.value)} characters")])
        return yaml.SafeLoader.construct_yaml_int(loader, node)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    StrictLoader.add_constructor("tag:yaml.org,2002:int", number)
    try:
        document = yaml.load(text, Loader=StrictLoader) or {}  # noqa: S506 (a SafeLoader subclass)
    except SettingsError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{name} line {mark.line + 1}, column {mark.column + 1}" if mark else name
        raise SettingsError([(where, f"is not valid YAML: {error.problem or error}")]) from None
    except Exception as error:  # a reader error, an absurd value or tag (`!!int` with no digits): never a trace
        raise SettingsError(
            [(name, f"cannot be read as a stack file: {str(error)[:200] or type(error).__name__}")]
        ) from None
    if not isinstance(document, Mapping):
        raise SettingsError([(name, "must be a YAML mapping with a config: block")])
    if not isinstance(document.get("config") or {}, Mapping):
        raise SettingsError([(f"{name} config", "must be a mapping of namespace:key to value, not a list")])
    return dict(document)


def stack_config_from_yaml(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `config:` block of a Pulumi.<stack>.yaml as the engine hands it over: objects as JSON text."""
    config = document.get("config") or {}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            flat[key] = "[secret]"
        elif isinstance(value, (Mapping, list)):
            flat[key] = json.dumps(value)
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    return flat


def read_stack_settings() -> Settings:
    """Read this stack's settings from the Pulumi engine's config (the only place that touches it)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    class StackSettingsError(SettingsError, pulumi.RunError):
        """Reported by `pulumi up` as the message alone, without a Python traceback."""

    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    try:
        return load_settings(pulumi.get_stack(), raw, secret_keys)
    except SettingsError as error:
        raise StackSettingsError(error.problems) from None
