"""Why the worker sets DUMB_INIT_SETSID=0: the official image's dumb-init, stopped as ECS stops a task.

By default dumb-init runs its child in a new session and forwards SIGTERM to the whole process group, so a
Celery worker's pool processes die with the tasks they run. With DUMB_INIT_SETSID=0 only the main process
gets it, and a Celery warm shutdown lets running tasks finish (the official docker-compose sets it for its
worker: https://airflow.apache.org/docs/apache-airflow/stable/docker-compose.yaml). Here a main process
with a pool child, as Celery's prefork pool has, is stopped both ways under the real dumb-init.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

MAIN = """
import signal, subprocess, sys, time
task = "import time, sys; time.sleep(3); open(sys.argv[1], 'w').write('finished')"
child = subprocess.Popen([sys.executable, "-c", task, sys.argv[1]])
def warm(signum, frame):
    child.wait()  # a warm shutdown: wait for the running task
    sys.exit(0)
signal.signal(signal.SIGTERM, warm)
open(sys.argv[2], "w").write("ready")
while True:
    time.sleep(0.1)
"""


@pytest.mark.parametrize(("setsid", "finishes"), [("0", True), ("1", False)])
def test_a_stopped_worker_finishes_its_task_only_with_setsid_off(tmp_path, setsid, finishes):
    dumb_init = shutil.which("dumb-init", path=os.path.dirname(sys.executable)) or shutil.which("dumb-init")
    assert dumb_init, "dumb-init is a dev dependency (the image's init)"
    done, ready = tmp_path / "done", tmp_path / "ready"
    process = subprocess.Popen(
        [dumb_init, "--", sys.executable, "-c", MAIN, str(done), str(ready)],
        env={**os.environ, "DUMB_INIT_SETSID": setsid},
    )
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)  # what ECS sends the container's PID 1
    process.wait(timeout=20)
    assert done.exists() is finishes
