"""The stack file reader (`make plan`, `preflight`, `stage`): any file gets a SettingsError naming it, and the
line where there is one, or a document; never a traceback, never unbounded memory or time."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.settings import read_stack_path
from infra.settings.schema import SettingsError

GOOD = "config:\n  aws:region: us-gov-east-1\n  airflow:waker:\n    idleMinutes: 20\n"
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)
CASES = {
    # name: (file content as bytes, or None for a directory; words of the one problem)
    "an alias bomb": (ALIAS_BOMB.encode(), "uses a YAML alias"),
    "an integer key": (b"config:\n  7: x\n", "keys must be text"),
    "a null key": (b"config:\n  ~: x\n", "keys must be text"),
    "a list key": (b"config:\n  ? [a, b]\n  : x\n", "keys must be text"),
    "UTF-16": (GOOD.encode("utf-16"), "is not UTF-8"),
    "Latin-1": ("config:\n  airflow:tags: {owner: Jos\u00e9}\n".encode("latin-1"), "is not UTF-8"),
    "6000 nested brackets": (b"config:\n  x: " + b"[" * 6000 + b"]" * 6000 + b"\n", "nests deeper than"),
    "a 5000-digit number": (b"config:\n  airflow:waker:\n    idleMinutes: " + b"9" * 5000 + b"\n", "a number of 5000"),
    "a directory": (None, "not a directory"),
    "a key twice": (b"config:\n  aws:region: a\n  aws:region: b\n", "given twice"),
    "a huge file": (b"config:\n  x: '" + b"y" * 300_000 + b"'\n", "larger than 256 KiB"),
    "not YAML": (b"config: [\n", "is not valid YAML"),
}


def write(tmp_path: Path, content: bytes | None) -> Path:
    path = tmp_path / "Pulumi.dev.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_hostile_file_is_one_clear_problem(tmp_path, case):
    content, words = CASES[case]
    with pytest.raises(SettingsError) as refused:
        read_stack_path(write(tmp_path, content))
    (where, problem), *rest = refused.value.problems
    assert rest == [] and where.startswith("Pulumi.dev.yaml") and words in problem, refused.value.problems


def test_a_good_file_is_read_and_a_bom_is_allowed(tmp_path):
    assert read_stack_path(write(tmp_path, GOOD.encode("utf-8-sig")))["config"]["airflow:waker"] == {"idleMinutes": 20}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_any_bytes_are_a_document_or_a_settings_error(tmp_path, content):
    path = tmp_path / "Pulumi.fuzz.yaml"
    path.write_bytes(content)
    try:
        document = read_stack_path(path)
    except SettingsError as error:
        assert error.problems and all(where.startswith("Pulumi.fuzz.yaml") for where, _ in error.problems)
    else:
        assert isinstance(document, dict)


YAML_PIECES = st.sampled_from(
    [
        "config:",
        "\n",
        "  ",
        "- ",
        ": ",
        "&a ",
        "*a ",
        "[",
        "]",
        "{",
        "}",
        "? ",
        "!!int ",
        "!!python/object ",
        "'",
        '"',
        "9" * 40,
        "~",
        "x",
        "aws:region",
        "#",
        "|",
        ">",
        ",",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(YAML_PIECES, max_size=60))
def test_yaml_shaped_input_is_a_document_or_a_settings_error(tmp_path, pieces):
    path = tmp_path / "Pulumi.fuzz.yaml"
    path.write_text("".join(pieces))
    with contextlib.suppress(SettingsError):  # a document, or a settings error: nothing else
        read_stack_path(path)
