"""Checks run inside a container of the built image (by `make image`, devtools/build_image.py), never in the project's
virtualenv: standard library only, since it runs on the image's own Python.

    python image_probe.py SPEC.json

SPEC (written by devtools/build_image.py from the Dockerfile, image/requirements.txt and every task definition the
program declares): the pinned Airflow version, the provider pins, the Python minor version of the official tag,
the COPY destinations, each container's command (as its task definition gives it to the image's entrypoint),
environment and health check. Prints one line per check and exits 1 if any failed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

AIRFLOW_WORD = re.compile(r"^[a-z][a-z0-9-]*$")
failures: list[str] = []
answered: set[tuple[str, ...]] = set()


def check(ok: bool, what: str, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}{f': {detail}' if detail and not ok else ''}", flush=True)
    if not ok:
        failures.append(what)


def run(
    args: list[str], env: dict[str, str] | None = None, timeout: int = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def airflow_help(words: list[str], env: dict[str, str]) -> None:
    """`airflow WORDS --help` answers: the subcommand exists in this Airflow and its providers."""
    if tuple(words) in answered:
        return
    answered.add(tuple(words))
    result = run(["airflow", *words, "--help"], env=env)
    check(result.returncode == 0, f"airflow {' '.join(words)} --help", (result.stderr or result.stdout)[-400:])


def subcommand(arguments: list[str]) -> list[str]:
    """The subcommand words of an airflow command line: the words before the first option or value."""
    words = []
    for word in arguments:
        if not AIRFLOW_WORD.fullmatch(word):
            break
        words.append(word)
    return words


def expand_default(word: str) -> str:
    """`${VAR:-default}` as bash expands it when VAR is unset (the image's paths in the stack's scripts)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", word)


def shell_script(script: str, env: dict[str, str], what: str) -> None:
    """A `bash -c` script: valid bash, and every airflow subcommand and python file it names exists."""
    syntax = run(["bash", "-n", "-c", script], env=env)
    check(syntax.returncode == 0, f"{what}: bash -n", syntax.stderr)
    words = shlex.split(script.replace(";", " ; "))
    for i, word in enumerate(words):
        if word == "airflow":
            airflow_help(subcommand(words[i + 1 :]), env)
        elif word == "python" and i + 1 < len(words):
            python_file(Path(expand_default(words[i + 1])), env, f"{what}: python {expand_default(words[i + 1])}")
        elif word == "curl":
            check(shutil.which("curl") is not None, f"{what}: curl on PATH")


def python_file(path: Path, env: dict[str, str], what: str) -> None:
    """A script the image runs: it exists and loads (its imports resolve in the image)."""
    check(path.is_file(), f"{what}: {path} exists")
    if path.is_file():
        # From the script's folder, first on the import path as `python <script>` puts it (the contracts
        # package the image's scripts import sits beside them).
        loaded = run([sys.executable, "-c", LOAD_SCRIPT, str(path)], env=env, cwd=path.parent)
        check(loaded.returncode == 0, f"{what}: loads", loaded.stderr[-600:])


def container_command(container: dict, env: dict[str, str]) -> None:
    """The command as the entrypoint runs it: `bash ...` and `python ...` as given, anything else as
    `airflow ...` (https://airflow.apache.org/docs/docker-stack/entrypoint.html)."""
    name, command = container["name"], container["command"]
    what = f"{container['component']}/{name}: {' '.join(command)[:70]}"
    if command[:2] == ["bash", "-c"]:
        shell_script(command[2], env, what)
    elif command[:1] == ["python"]:
        python_file(Path(command[1]), env, what)
    else:
        airflow_help(subcommand(command[1:] if command[:1] == ["airflow"] else command), env)
    health = container.get("healthCheck")
    if health:
        kind, *rest = health
        if kind == "CMD-SHELL":
            shell_script(rest[0], env, f"{container['component']}/{name} health check")
        else:
            check(shutil.which(rest[0]) is not None, f"{container['component']}/{name} health check: {rest[0]}")


# Loads a script as a module (its `if __name__ == "__main__"` part does not run): its imports resolve.
LOAD_SCRIPT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("probed", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""

# What the Celery worker does with `[celery] celery_config_options`: Airflow's Celery app loads it by its
# import path, with $AIRFLOW_HOME/config on sys.path; the module's signal handlers are then connected.
CELERY_SCRIPT = """
import sys, weakref
from airflow.configuration import conf
from airflow.providers.celery.executors import celery_executor_utils
from celery.signals import task_prerun
path = conf.get("celery", "celery_config_options")
module = sys.modules[path.rsplit(".", 1)[0]]
print(module.__file__)
assert celery_executor_utils.app.conf.broker_url == conf.get("celery", "broker_url")
handlers = [r() if isinstance(r, weakref.ref) else r for _, r in task_prerun.receivers]
assert any(getattr(h, "__module__", "") == module.__name__ for h in handlers), "no task_prerun handler of it"
"""


def celery_configuration(container: dict, env: dict[str, str], expected_file: str) -> None:
    result = run([sys.executable, "-c", CELERY_SCRIPT], env=env)
    loaded = result.stdout.strip().splitlines()[-1:] == [expected_file]
    check(result.returncode == 0 and loaded, "worker: [celery] celery_config_options loads", result.stderr[-600:])


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    base_env = dict(os.environ)

    version = run(["airflow", "version"], env=base_env)
    check(version.stdout.strip() == spec["airflow_version"], f"airflow version is {spec['airflow_version']}")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    check(python == spec["python"], f"Python {spec['python']}, as the official tag", python)
    for name, pinned in sorted(spec["pins"].items()):
        installed = metadata.version(name.split("[", 1)[0])
        check(installed == pinned, f"{name}=={pinned} installed", installed)
    for destination in spec["copy_destinations"]:
        check(Path(destination).exists(), f"COPY destination {destination} exists")

    for container in spec["containers"]:
        env = {**base_env, **container["environment"]}
        container_command(container, env)
        options = container["environment"].get("AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS")
        if options:
            celery_configuration(container, env, spec["celery_config_file"])

    print(f"{len(failures)} failed" if failures else "all in-image checks passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
