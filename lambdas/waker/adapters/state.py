"""The waker's memory between invocations: one SSM parameter holding `WakerState` as JSON."""

from __future__ import annotations

from typing import Any

from ..model import WakerState


def load(ssm: Any, name: str) -> tuple[WakerState, list[str]]:
    """The stored state, and what had to be repaired in it (WakerState.read)."""
    try:
        return WakerState.read(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return WakerState(), []


def save(ssm: Any, name: str, state: WakerState) -> None:
    ssm.put_parameter(Name=name, Value=state.to_json(), Type="String", Overwrite=True)
