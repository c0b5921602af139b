"""The reference loop `.ci/run` prints beside `make check`'s time."""

from __future__ import annotations

import re

import pytest

from devtools import machine_speed


def test_it_prints_the_fastest_and_slowest_of_its_runs(capsys, monkeypatch):
    times = iter([0.9, 0.4, 0.6])
    monkeypatch.setattr(machine_speed, "loop_seconds", lambda: next(times))
    assert machine_speed.main(["--runs", "3"]) == 0
    assert capsys.readouterr().out == "machine speed: the reference loop took 0.40 s to 0.90 s (3 runs)\n"


def test_the_loop_takes_longer_for_more_iterations():
    assert 0 < machine_speed.loop_seconds(10_000) < machine_speed.loop_seconds(2_000_000)


@pytest.mark.parametrize("runs", ["0", "11", "many"])
def test_a_run_count_outside_1_to_10_is_refused(runs, capsys):
    with pytest.raises(SystemExit) as stopped:
        machine_speed.main(["--runs", runs])
    assert stopped.value.code == 2 and re.search(r"--runs", capsys.readouterr().err)
