"""The README's settings table, checked against the one declaration of each setting: the reader's own
`Section.get(name, validator, default)` calls (infra/settings). Every setting the reader reads has a row, every
row is a setting the reader reads, and a default the table gives as a literal is the reader's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.settings import load_settings, schema
from tests.support.variants import OIDC

ROOT = Path(__file__).resolve().parents[2]
# Configurations that between them make the reader read every setting it has (some are read only with others).
CONFIGS = [
    ("dev", {"aws:region": "us-gov-east-1"}),
    ("prod", {"aws:region": "us-gov-west-1"}),
    (
        "dev",
        {
            "aws:region": "us-gov-east-1",
            "airflow:ui": json.dumps(
                {
                    "loadBalancer": True,
                    "certificateArn": "arn:aws-us-gov:acm:us-gov-east-1:123456789012:certificate/"
                    "0a1b2c3d-1111-2222-3333-444455556666",
                    "allowedCidrs": ["10.0.0.0/8"],
                    "oidc": OIDC,
                }
            ),
            "airflow:uiOidcClientSecret": "[secret]",
            "airflow:network": json.dumps({"natGateway": "single"}),
            "airflow:waker": json.dumps({"windows": [{"name": "office", "cron": "cron(0 8 ? * MON-FRI *)"}]}),
            "airflow:restoredFrom": json.dumps({}),
        },
    ),
]


@pytest.fixture(scope="module")
def declared() -> tuple[dict[str, Any], set[str]]:
    """Each setting the reader reads, with its declared default; and the object-valued ones it descends into."""
    defaults: dict[str, Any] = {}
    objects: set[str] = set()
    get, section, has, init = schema.Section.get, schema.Section.section, schema.Section.has, schema.Section.__init__

    def recording_init(self: schema.Section, key: str, raw: Any, problems: list) -> None:
        objects.add(key)
        init(self, key, raw, problems)

    def recording_get(self: schema.Section, name: str, validator: Any, default: Any) -> Any:
        defaults.setdefault(self.path(name), default)
        path = self.path(name)
        if "[" in path:  # an item of a list-valued setting: the setting itself is read
            objects.add(path.split("[", 1)[0])
        return get(self, name, validator, default)

    def recording_section(self: schema.Section, name: str) -> schema.Section:
        objects.add(self.path(name))
        return section(self, name)

    def recording_has(self: schema.Section, name: str) -> bool:
        objects.add(self.path(name))
        return has(self, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schema.Section, "get", recording_get)
        patch.setattr(schema.Section, "section", recording_section)
        patch.setattr(schema.Section, "has", recording_has)
        patch.setattr(schema.Section, "__init__", recording_init)
        for stack, config in CONFIGS:
            load_settings(stack, config)
    return defaults, objects


def table() -> dict[str, str]:
    """README rows: setting -> its default cell (a row may name several settings, with as many defaults)."""
    rows = re.findall(r"^\| (`airflow:[^|]+) \| ([^|]+) \|", (ROOT / "README.md").read_text(), re.MULTILINE)
    documented: dict[str, str] = {}
    for keys, defaults in rows:
        names = [k.strip(" `") for k in keys.split(",")]
        first = names[0]
        section = first.rsplit(".", 1)[0] + "." if "." in first else "airflow:"
        full = [n if n.startswith("airflow:") else section + n for n in names]
        values = [v.strip() for v in defaults.split(",")] if len(names) > 1 else [defaults.strip()]
        documented.update(
            zip(full, values if len(values) == len(full) else [defaults.strip()] * len(full), strict=True)
        )
    return documented


def shown(default: Any) -> str:
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, (tuple, list)):
        return json.dumps(list(default))
    if isinstance(default, dict):
        return json.dumps(default)
    return str(default)


def test_every_setting_the_reader_reads_has_a_row(declared):
    defaults, _ = declared
    settings = {p for p in defaults if p.startswith("airflow:") and "[" not in p and p.count(".") <= 1}
    missing = sorted(settings - set(table()))
    assert missing == [], f"the README's settings table has no row for {missing}"


def test_every_row_is_a_setting_the_reader_reads(declared):
    defaults, objects = declared
    patterns = {r for r in table() if "<component>" in r}  # one row for every component's task size
    for row in patterns:
        assert any(re.fullmatch(r"airflow:services\.[a-z-]+\.cpu", p) for p in defaults), row
    unknown = sorted(set(table()) - set(defaults) - objects - patterns)
    assert unknown == [], f"the README documents settings the reader does not read: {unknown}"


def test_a_literal_default_in_the_table_is_the_declared_one(declared):
    defaults, _ = declared
    documented = table()
    wrong = []
    for setting, cell in documented.items():
        literal = re.fullmatch(r"`([^`]*)`", cell)
        if literal is None or setting not in defaults:
            continue  # described in words ("unset", "ALB DNS name"): nothing to compare
        if literal.group(1) in {n.rsplit(".", 1)[-1] for n in documented}:
            continue  # the default is another setting's value (e.g. loadBalancerSubnetIds: taskSubnetIds)
        if literal.group(1) != shown(defaults[setting]):
            wrong.append((setting, literal.group(1), shown(defaults[setting])))
    assert wrong == [], f"README default differs from the reader's (setting, README, reader): {wrong}"
