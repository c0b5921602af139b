"""Work the test session's xdist workers share instead of each doing it again: done once, under a file lock.

`make test` runs two workers on two cores. What both would do (record the program's variants, start PostgreSQL
and migrate Airflow's template database) is done by the first to ask; the other finds it done.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A folder every worker of this run sees (the run's own temporary folder); None without xdist."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    return tmp_path_factory.getbasetemp().parent


def worker_share() -> tuple[int, int]:
    """This worker's index and the number of workers (0 and 1 without xdist)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name.removeprefix("gw") or 0), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def computed_once(folder: Path | None, name: str, compute: Callable[[], T]) -> T:
    """`compute()` by the first worker to ask, kept (pickled) for the others."""
    if folder is None:
        return compute()
    path = folder / f"{name}.pickle"
    with locked(folder / f"{name}.lock"):
        if path.exists():
            return pickle.loads(path.read_bytes())  # written by this run's own workers
        value = compute()
        partial = path.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(value))
        partial.replace(path)
        return value
