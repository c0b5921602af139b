"""IAM identity-policy evaluation, conditions included: does a set of policies allow one request?

Follows AWS's documented evaluation logic for identity policies in one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit
Deny wins, otherwise any Allow, otherwise the request is implicitly denied. A statement applies when its
Action (or NotAction), its Resource (or NotResource) and every one of its Conditions match.

Conditions follow the condition-operator reference
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
operators are ANDed, keys within an operator are ANDed, values of one key are ORed (NOR for the negated
operators); a key missing from the request makes a positive operator false and a negated one true, and
`...IfExists` true. Operators this module does not know raise `UnsupportedCondition`: a policy it cannot
evaluate is reported, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]


class UnsupportedCondition(ValueError):
    pass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # which statement decided, or why nothing allowed


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _substitute(value: str, context: Context) -> str:
    """Policy variables such as ${aws:username}; an unknown variable is left as it is (and so never matches)."""

    def replace(match: re.Match[str]) -> str:
        found = context.get(match.group(1))
        return found if isinstance(found, str) else match.group(0)

    return re.sub(r"\$\{([^}]+)\}", replace, value)


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


def _string_equals_ignore_case(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


def _string_like(expected: str, actual: str) -> bool:
    return glob_matches(expected, actual)


def _arn_like(expected: str, actual: str) -> bool:
    # ARN operators compare the six colon-separated parts one by one (wildcards stay within a part,
    # except in the last part, which may itself contain colons).
    want, got = expected.split(":", 5), actual.split(":", 5)
    return len(want) == len(got) == 6 and all(glob_matches(w, g) for w, g in zip(want, got, strict=True))


def _bool(expected: str, actual: str) -> bool:
    return str(expected).lower() == str(actual).lower()


def _numeric(compare):
    def check(expected: str, actual: str) -> bool:
        try:
            return compare(float(actual), float(expected))
        except ValueError:
            return False

    return check


# operator -> (compare(expected, actual), negated)
OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric(lambda a, e: a == e), False),
    "NumericNotEquals": (_numeric(lambda a, e: a == e), True),
    "NumericLessThan": (_numeric(lambda a, e: a < e), False),
    "NumericLessThanEquals": (_numeric(lambda a, e: a <= e), False),
    "NumericGreaterThan": (_numeric(lambda a, e: a > e), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, e: a >= e), False),
}


def _find_key(context: Context, key: str) -> ContextValue | None:
    # Condition key names are case-insensitive.
    for name, value in context.items():
        if name.lower() == key.lower():
            return value
    return None


def condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    qualifier = ""
    if ":" in operator:  # ForAnyValue:StringLike, ForAllValues:StringEquals
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise UnsupportedCondition(f"unknown set operator {qualifier}")
    actual = _find_key(context, key)
    if operator == "Null":
        want_missing = str(_as_list(expected)[0]).lower() == "true"
        return (actual is None) == want_missing
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in OPERATORS:
        raise UnsupportedCondition(f"condition operator {operator} is not evaluated here")
    compare, negated = OPERATORS[base]
    expected_values = [_substitute(str(v), context) for v in _as_list(expected)]
    if actual is None:
        if qualifier == "ForAllValues":
            return True
        return if_exists or (negated and not qualifier)

    def one(value: str) -> bool:
        matched = any(compare(e, str(value)) for e in expected_values)
        return not matched if negated else matched

    values = [actual] if isinstance(actual, str) else list(actual)
    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    if len(values) != 1:
        raise UnsupportedCondition(f"{key} has several values: use ForAnyValue or ForAllValues")
    return one(values[0])


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    return all(
        condition_holds(operator, key, expected, context)
        for operator, keys in conditions.items()
        for key, expected in keys.items()
    )


def _element_matches(statement: Mapping[str, Any], name: str, value: str, *, ignore_case: bool) -> bool | None:
    """True/False when the statement has `name` or `Not<name>`, None when it has neither."""
    if name in statement:
        return any(glob_matches(p, value, ignore_case=ignore_case) for p in _as_list(statement[name]))
    if f"Not{name}" in statement:
        return not any(glob_matches(p, value, ignore_case=ignore_case) for p in _as_list(statement[f"Not{name}"]))
    return None


def statement_applies(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    if not _element_matches(statement, "Action", action, ignore_case=True):
        return False
    if not _element_matches(statement, "Resource", resource, ignore_case=False):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


def evaluate(policies: Sequence[Mapping[str, Any]], action: str, resource: str, context: Context) -> Verdict:
    """Whether identity `policies` allow `action` on `resource` in a request with `context` keys."""
    allowed_by = None
    for index, document in enumerate(policies):
        for number, statement in enumerate(_as_list(document.get("Statement", []))):
            if not statement_applies(statement, action, resource, context):
                continue
            label = statement.get("Sid") or f"policy {index + 1}, statement {number + 1}"
            if statement.get("Effect") == "Deny":
                return Verdict(False, f"explicitly denied by {label}")
            allowed_by = allowed_by or label
    if allowed_by:
        return Verdict(True, f"allowed by {allowed_by}")
    return Verdict(False, "no statement allows it")
