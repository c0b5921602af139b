"""Settings that would widen a stack's blast radius are refused, each with one line naming the setting and the
deliberate way to do it: administrator policies on every task, environment names that change how processes
load code or route traffic, credentials in plain-text values, and tags that clash with the stack's or AWS's.

Tag rules: at most 50 tags on a resource, keys starting with `aws:` reserved, letters, digits, spaces and
`_ . : / = + - @` (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.settings import load_settings
from infra.settings.schema import SettingsError
from infra.settings.sections.services import CODE_AND_ROUTING_NAMES
from infra.settings.sections.tags import MAX_TAGS, STACK_TAGS
from tests.infra.test_settings import settings_with

ADMIN = "arn:aws-us-gov:iam::aws:policy/AdministratorAccess"


def refusal(config) -> tuple[str, str]:
    with pytest.raises(SettingsError) as raised:
        load_settings("dev", config)
    ((key, allowed),) = raised.value.problems
    return key, allowed


@pytest.mark.parametrize(
    ("config", "key", "words"),
    [
        (
            settings_with(services={"workerPolicyArns": [ADMIN]}),
            "services.workerPolicyArns",
            "allowAdministratorPolicies",
        ),
        (
            settings_with(services={"workerPolicyArns": ["arn:aws-us-gov:iam::aws:policy/PowerUserAccess"]}),
            "services.workerPolicyArns",
            "administrator",
        ),
        (
            settings_with(services={"environment": {"PYTHONPATH": "/x"}}),
            "services.environment",
            "allowEnvironmentNames",
        ),
        (settings_with(services={"environment": {"LD_PRELOAD": "/x.so"}}), "services.environment", "loads code"),
        (
            settings_with(services={"environment": {"HTTPS_PROXY": "http://proxy:3128"}}),
            "services.environment",
            "routes traffic",
        ),
        (
            settings_with(services={"environment": {"WAREHOUSE": "postgresql://etl:hunter2@wh:5432/sales"}}),
            "services.environment",
            "a URL with a password in it",
        ),
        (
            settings_with(services={"environment": {"UPLOAD": "id AKIAIOSFODNN7EXAMPLE"}}),
            "services.environment",
            "an AWS access key id",
        ),
        (
            settings_with(services={"environment": {"DUMB_INIT_SETSID": "1"}}),
            "services.environment",
            "set by the stack",
        ),
        (settings_with(tags={"Stack": "other"}), "tags", "the stack's own tag"),
        (settings_with(tags={"Project": "other"}), "tags", "the stack's own tag"),
        (settings_with(tags={"aws:createdBy": "me"}), "tags", "reserved for AWS"),
        (settings_with(tags={"Cost<Center>": "1"}), "tags", "characters AWS does not allow"),
        (settings_with(tags={f"T{i}": "x" for i in range(46)}), "tags", "at most 45 tags"),
    ],
)
def test_blast_radius_settings_are_refused_naming_the_way_to_do_it(config, key, words):
    found, allowed = refusal(config)
    assert found == f"airflow:{key}" and words in allowed, (found, allowed)
    assert "\n" not in allowed


def test_each_can_be_done_deliberately():
    settings = load_settings(
        "dev",
        settings_with(
            services={
                "workerPolicyArns": [ADMIN],
                "allowAdministratorPolicies": True,
                "environment": {"HTTPS_PROXY": "http://proxy.internal:3128", "PYTHONPATH": "/opt/airflow/lib"},
                "allowEnvironmentNames": ["HTTPS_PROXY", "PYTHONPATH"],
            },
            tags={f"T{i}": "x" for i in range(MAX_TAGS - len(STACK_TAGS) - 2)},
        ),
    )
    assert tuple(settings.services.worker_policy_arns) == (ADMIN,)
    assert settings.services.environment["HTTPS_PROXY"] == "http://proxy.internal:3128"


@given(
    name=st.sampled_from(sorted(CODE_AND_ROUTING_NAMES)),
    value=st.text(alphabet=st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=40),
)
def test_every_code_or_routing_name_is_refused_whatever_its_value(name, value):
    with pytest.raises(SettingsError) as raised:
        load_settings("dev", settings_with(services={"environment": {name: value}}))
    assert raised.value.problems[0][0] == "airflow:services.environment"


@given(
    user=st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True),
    password=st.from_regex(r"[A-Za-z0-9!$%^&*()_+=-]{1,20}", fullmatch=True),
    host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    scheme=st.sampled_from(["postgresql", "mysql+pymysql", "https", "redis", "amqp"]),
)
def test_any_url_with_a_password_is_refused(user, password, host, scheme):
    with pytest.raises(SettingsError) as raised:
        load_settings(
            "dev", settings_with(services={"environment": {"TARGET": f"{scheme}://{user}:{password}@{host}"}})
        )
    assert "a URL with a password in it" in raised.value.problems[0][1]
    # Without the password it is an address like any other.
    load_settings("dev", settings_with(services={"environment": {"TARGET": f"{scheme}://{user}@{host}"}}))
