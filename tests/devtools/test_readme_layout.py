"""The README's layout section names every top-level folder of the repository, and only those: a room added
without its line there fails here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def layout_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout and tests") :]
    return section.split("```\n", 2)[1]


def named_folders(block: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^([.\w-]+)/", block, re.MULTILINE)}


def tracked_folders() -> set[str]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {line.split("/", 1)[0] for line in files.splitlines() if "/" in line}


def test_every_top_level_folder_has_its_line_in_the_readme():
    assert named_folders(layout_block()) == tracked_folders()


def test_a_folder_without_a_line_is_caught():
    block = layout_block()
    without = "\n".join(line for line in block.splitlines() if not line.startswith("standin/"))
    assert tracked_folders() - named_folders(without) == {"standin"}


def locked_versions() -> dict[str, str]:
    """Each package's version in uv.lock."""
    lock = (ROOT / "uv.lock").read_text()
    return dict(re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', lock, re.MULTILINE))


def test_the_pulumi_cli_and_plugin_versions_in_the_readme_are_the_locked_ones():
    """A platform engineer installs the CLI and carries plugins in by these numbers: they are the SDKs'."""
    readme = (ROOT / "README.md").read_text()
    locked = locked_versions()
    pins = dict(re.findall(r"<!-- pin ([\w-]+) -->([\d.]+)", readme))
    assert {"pulumi", "pulumi-aws", "pulumi-awsx", "pulumi-random"} <= set(pins)
    assert {name: locked.get(name) for name in pins} == pins
    # The commands quoted beside them use the same numbers.
    assert f"--version {locked['pulumi']}`" in readme
    assert f"resource aws {locked['pulumi-aws']} --file pulumi-resource-aws-v{locked['pulumi-aws']}-" in readme
    # Every Pulumi package the program locks has its plugin listed.
    plugins = {name for name in locked if name.startswith("pulumi-")}
    assert plugins == {name for name in pins if name != "pulumi"}
