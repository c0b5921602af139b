"""Small, declarative validators for stack settings.

Each validator takes the raw value found in the stack config and returns the typed value, or raises
`InvalidSetting` with a sentence saying what is allowed. `settings.py` composes them; the key path is
added there, so every message names the exact setting.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from contracts import cron

T = TypeVar("T")
Validator = Callable[[Any], T]


class InvalidSetting(ValueError):
    """A single setting is wrong: `allowed` says what would be right."""

    def __init__(self, allowed: str) -> None:
        super().__init__(allowed)
        self.allowed = allowed


class SettingsError(ValueError):
    """One or more settings are wrong; the message lists each key with what is allowed."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = [f"  {key}: {allowed}" for key, allowed in self.problems]
        super().__init__("invalid stack settings:\n" + "\n".join(lines))


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidSetting(f"must be true or false, got {_describe(value)}")


def integer(minimum: int, maximum: int) -> Validator[int]:
    def parse(value: Any) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            number = int(value)
        if number is None or not minimum <= number <= maximum:
            raise InvalidSetting(f"must be a whole number from {minimum} to {maximum}, got {_describe(value)}")
        return number

    return parse


def one_of(*choices: Any) -> Validator[Any]:
    def parse(value: Any) -> Any:
        for choice in choices:
            if value == choice or (isinstance(choice, int) and str(value) == str(choice)):
                return choice
        allowed = ", ".join(str(c) for c in choices)
        raise InvalidSetting(f"must be one of {allowed}; got {_describe(value)}")

    return parse


def text(pattern: str, description: str) -> Validator[str]:
    regex = re.compile(pattern)

    def parse(value: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise InvalidSetting(f"must be {description}, got {_describe(value)}")
        return value

    return parse


def cidr(*, private_only: bool = False) -> Validator[str]:
    def parse(value: Any) -> str:
        try:
            network = ipaddress.ip_network(value, strict=True) if isinstance(value, str) else None
        except ValueError:
            network = None
        if network is None or network.version != 4:
            raise InvalidSetting(f"must be an IPv4 CIDR block such as 10.40.0.0/16, got {_describe(value)}")
        if private_only and not network.is_private:
            raise InvalidSetting(
                f"must be a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) without a load "
                f"balancer, got {_describe(value)}"
            )
        return str(network)

    return parse


def arn(partition: str, service: str, resource: str, example: str) -> Validator[str]:
    """An ARN of `service` in `partition` whose resource part matches the regex `resource`."""
    # The account part may be empty (S3), 12 digits, or `aws` (AWS-managed policies).
    regex = re.compile(rf"arn:{re.escape(partition)}:{service}:[a-z0-9-]*:(\d{{12}}|aws)?:{resource}")

    def parse(value: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise InvalidSetting(f"must be an ARN like {example.format(partition=partition)}, got {_describe(value)}")
        return value

    return parse


def list_of(
    item: Validator[T], *, minimum: int = 0, maximum: int = 50, unique: bool = True
) -> Validator[tuple[T, ...]]:
    def parse(value: Any) -> tuple[T, ...]:
        if isinstance(value, str):
            value = _json(value)
        if not isinstance(value, list) or not minimum <= len(value) <= maximum:
            raise InvalidSetting(f"must be a list of {minimum} to {maximum} items, got {_describe(value)}")
        parsed: list[T] = []
        for index, element in enumerate(value):
            try:
                parsed.append(item(element))
            except InvalidSetting as error:
                raise InvalidSetting(f"item {index} {error.allowed}") from None
        if unique:
            repeated = sorted({str(v) for v in parsed if parsed.count(v) > 1})
            if repeated:
                raise InvalidSetting(f"must not repeat items; repeated: {', '.join(repeated)}")
        return tuple(parsed)

    return parse


def eventbridge_cron(value: Any) -> str:
    """An EventBridge Scheduler cron expression the one cron reader (contracts/cron.py) can read and evaluate."""
    try:
        return cron.parse(value).expression
    except cron.CronError as error:
        raise InvalidSetting(str(error)) from None


def string_map(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = _json(value)
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 128 and len(v) <= 256 for k, v in value.items()
    ):
        raise InvalidSetting("must be a map of tag names (1-128 chars) to string values (up to 256 chars)")
    return dict(value)


def _json(value: str) -> Any:
    """An object-valued setting as Pulumi hands it over (JSON text), or the text itself when it is not JSON, or
    not JSON any setting could be (nested without end, a number of thousands of digits): the section's reader
    then names the setting and what it takes."""
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


class Section:
    """Reads one object-valued setting (e.g. `airflow:database`), refusing keys it does not know."""

    def __init__(self, key: str, raw: Any, problems: list[tuple[str, str]]) -> None:
        self.key = key
        self.problems = problems
        if isinstance(raw, str):
            raw = _json(raw)
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            problems.append((key, f"must be an object of settings, got {_describe(raw)}"))
            raw = {}
        self.raw: Mapping[str, Any] = raw
        self.read: set[str] = set()

    def path(self, name: str) -> str:
        return self.key + name if self.key.endswith(":") else f"{self.key}.{name}"

    def get(self, name: str, validator: Validator[T], default: T) -> T:
        self.read.add(name)
        if name not in self.raw or self.raw[name] is None:
            return default
        try:
            return validator(self.raw[name])
        except InvalidSetting as error:
            self.problems.append((self.path(name), error.allowed))
            return default

    def section(self, name: str) -> Section:
        self.read.add(name)
        return Section(self.path(name), self.raw.get(name), self.problems)

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def reject_unknown(self) -> None:
        for name in sorted(set(self.raw) - self.read):
            known = ", ".join(sorted(self.read))
            self.problems.append((self.path(name), f"is not a known setting; known here: {known}"))

    def fail(self, name: str, allowed: str) -> None:
        self.problems.append((self.path(name), allowed))
