"""One wake per burst of DAG-bundle changes.

S3 sends one event per object, and EventBridge invokes the waker once per event: an upload of 500 files is
500 invocations. The first claims the change, atomically (an SSM parameter created with `Overwrite=False`,
holding when), and goes on to wake the stack; every other change within the window finds the claim and
answers at once, without taking the lease or reading anything else. A claim older than the window (or one
no run could have written) is replaced, so the next upload wakes the stack again. A claimant that cannot
act (another run holds the lease, or it fails) withdraws its claim, so the next change of the burst goes on.

(An SQS queue with Lambda's event source would batch the events instead, but its pollers call SQS around the
clock, a cost while the stack sleeps.)
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

WINDOW = timedelta(minutes=2)  # an upload's events arrive within seconds; a wake's decision takes one


def claim(ssm: Any, name: str, now: datetime) -> bool:
    """True: this run acts on the change; False: a run within the window already does."""
    try:
        ssm.put_parameter(Name=name, Value=now.isoformat(), Type="String", Overwrite=False)
        return True
    except ssm.exceptions.ParameterAlreadyExists:
        pass
    try:
        claimed = datetime.fromisoformat(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        recent = now - WINDOW < claimed <= now + WINDOW
    except ssm.exceptions.ParameterNotFound:
        recent = False  # withdrawn between the two calls
    except (KeyError, ValueError, TypeError):
        recent = False  # not a time any run wrote (or one without its zone): replaced
    if recent:
        return False
    ssm.put_parameter(Name=name, Value=now.isoformat(), Type="String", Overwrite=True)
    return True


def withdraw(ssm: Any, name: str) -> None:
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=name)
