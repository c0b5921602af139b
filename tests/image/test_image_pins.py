"""The image is built from the same versions the tests run: Dockerfile, requirements and pyproject agree."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from infra.settings import DEFAULT_AIRFLOW_VERSION

ROOT = Path(__file__).resolve().parents[2]


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.-]+(?:\[[a-z0-9,]+\])?)==([\w.]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
        elif line:
            raise AssertionError(f"not an exact pin: {line!r}")
    return found


def pyproject_airflow_group() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pins(project["dependency-groups"]["airflow"])


def test_dockerfile_builds_the_default_airflow_version():
    dockerfile = (ROOT / "image" / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={DEFAULT_AIRFLOW_VERSION}\n" in dockerfile
    # The official slim image at that version, on the Python minor version Debian bookworm ships (image/base/).
    assert "ARG BASE_IMAGE=apache/airflow:slim-${AIRFLOW_VERSION}-python3.11\n" in dockerfile
    assert "FROM ${BASE_IMAGE}\n" in dockerfile
    assert pyproject_airflow_group()["apache-airflow"] == DEFAULT_AIRFLOW_VERSION


def test_image_providers_are_the_tested_providers():
    image = pins((ROOT / "image" / "requirements.txt").read_text().splitlines())
    tested = pyproject_airflow_group()
    tested.pop("apache-airflow")
    assert image == tested


def test_tests_run_the_pinned_versions():
    for name, version in pyproject_airflow_group().items():
        assert metadata.version(name.split("[")[0]) == version, name
