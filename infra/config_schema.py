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


# EventBridge Scheduler cron fields (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based):
# minutes, hours, day-of-month, month, day-of-week, year.
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)


def _cron_value(token: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    if token.upper() in names:
        return True
    return token.isdigit() and low <= int(token) <= high


def _cron_field(text: str, low: int, high: int, names: tuple[str, ...], specials: str) -> bool:
    if text in ("*",) or (text == "?" and "?" in specials):
        return True
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if "L" in specials and re.fullmatch(r"L|\d{1,2}L|LW|\d{1,2}W|[1-7]L", base):
            continue
        if "#" in specials and re.fullmatch(r"[1-7]#[1-5]", base):
            continue
        ends = base.split("-")
        if base == "*" or (len(ends) in (1, 2) and all(_cron_value(e, low, high, names) for e in ends)):
            continue
        return False
    return True


def eventbridge_cron(value: Any) -> str:
    example = "cron(0 8 ? * MON-FRI *)"
    match = re.fullmatch(r"cron\((.*)\)", value.strip()) if isinstance(value, str) else None
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        raise InvalidSetting(
            f"must be an EventBridge Scheduler cron expression with 6 fields (minutes hours day-of-month month "
            f"day-of-week year) like {example}, got {_describe(value)}"
        )
    for (name, low, high, names, specials), field_text in zip(_CRON_FIELDS, fields, strict=True):
        if not _cron_field(field_text, low, high, names, specials):
            raise InvalidSetting(f"has a {name} field {field_text!r} out of {low}-{high}; like {example}")
    if (fields[2] == "?") == (fields[4] == "?"):
        raise InvalidSetting(f"must have ? in exactly one of day-of-month and day-of-week, like {example}")
    return value.strip()


def string_map(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = _json(value)
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 128 and len(v) <= 256 for k, v in value.items()
    ):
        raise InvalidSetting("must be a map of tag names (1-128 chars) to string values (up to 256 chars)")
    return dict(value)


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
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
