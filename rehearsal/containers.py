"""Containers of the built image on this machine, one per ECS container, as Fargate runs them.

Each ECS container is a buildah working container of the image (its own copy-on-write filesystem) run with
`buildah run --isolation chroot`: the image's user, its entrypoint (`dumb-init -- /entrypoint`) and the task
definition's command, on this machine's network (the containers of an awsvpc task share one network
interface; here every task shares the loopback). The environment, secrets included, reaches the container
in a file inside its own filesystem that is read and removed before the entrypoint starts, as the ECS agent
hands it over: never on a command line.

`buildah run` does not pass signals on to the container, so a stop signals the container's init (dumb-init)
directly, as ECS does to a container's PID 1: SIGTERM, then SIGKILL after the stop timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

ENVIRONMENT_FILE = "/tmp/.ecs-environment"  # noqa: S108 - inside the container's own filesystem
# Read NUL-separated NAME=value pairs (any value, newlines included), remove the file, then run the entrypoint.
LOADER = (
    f'while IFS= read -r -d "" pair; do export "$pair"; done < {ENVIRONMENT_FILE}; rm -f {ENVIRONMENT_FILE}; exec "$@"'
)
IMAGE_USER = (50000, 0)  # the official image's airflow user, group 0


def _buildah(*args: str) -> str:
    result = subprocess.run(["buildah", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args[:2])} failed: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


def image_entrypoint(reference: str) -> list[str]:
    config = json.loads(_buildah("inspect", "--type", "image", reference))
    return list(config["OCIv1"]["config"].get("Entrypoint") or [])


@dataclass
class ContainerProcess:
    """One running container: the `buildah run` process, and the container's init inside it."""

    name: str
    process: subprocess.Popen
    _init: int | None = field(default=None, repr=False)

    def init_pid(self, wait: float = 5.0) -> int | None:
        """The container's dumb-init: the process signals go to."""
        deadline = time.monotonic() + wait
        while self._init is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                        if child.name() == "dumb-init":
                            self._init = child.pid
                            break
            if self._init is not None or self.process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return self._init

    def poll(self) -> int | None:
        return self.process.poll()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def send_signal(self, number: int) -> None:
        pid = self.init_pid()
        if pid is not None and self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def kill(self) -> None:
        """SIGKILL to everything in the container, then to `buildah run` (as ECS ends a task past its timeout)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(self.process.pid)
            for child in reversed(parent.children(recursive=True)):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.send_signal(signal.SIGKILL)
            parent.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


class ImageRuntime:
    """Starts containers of one image; removes every container it made when it is shut down."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.entrypoint = image_entrypoint(reference)
        self.prefix = f"rehearsal-{uuid.uuid4().hex[:8]}"
        self.made: list[str] = []

    def start(self, label: str, command: list[str], environment: dict[str, str], log: IO[bytes]) -> ContainerProcess:
        name = f"{self.prefix}-{label}"
        _buildah("from", "--pull-never", "--name", name, self.reference)
        self.made.append(name)
        root = Path(_buildah("mount", name))
        env_file = root / ENVIRONMENT_FILE.lstrip("/")
        env_file.write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in environment.items()))
        os.chown(env_file, *IMAGE_USER)
        env_file.chmod(0o600)
        process = subprocess.Popen(
            ["buildah", "run", "--isolation", "chroot", name, "--", "/bin/bash", "-c", LOADER, "ecs-agent",
             *self.entrypoint, *command],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return ContainerProcess(name, process)

    def remove(self, container: ContainerProcess) -> None:
        subprocess.run(["buildah", "rm", container.name], capture_output=True)
        with contextlib.suppress(ValueError):
            self.made.remove(container.name)

    def shutdown(self) -> None:
        if self.made:
            subprocess.run(["buildah", "rm", *self.made], capture_output=True)
            self.made.clear()
