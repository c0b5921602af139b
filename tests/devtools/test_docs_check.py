"""The README's figures come from commands, and a changed command output shows up as a stale figure."""

from __future__ import annotations

import subprocess
import sys

from devtools import docs_check
from devtools.docs_check import ROOT, Source, check


def test_the_readme_figures_match_what_their_commands_print_today():
    # Counts and sizes (the waker's benchmark); times are checked by `make docs-check`, and the cost report's
    # figures by tests/costs (from the reports it computes anyway: a month simulated twice is a minute lost).
    done = subprocess.run(
        [sys.executable, "-m", "devtools.docs_check", "--quick", "--skip", "cost-dev", "--skip", "cost-prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "ok       bench-waker." in done.stdout and "skipped  cost-dev.idle_month" in done.stdout


def test_a_skipped_source_is_not_run_and_a_measured_one_is_not_run_again(tmp_path, monkeypatch):
    def never() -> dict:
        raise AssertionError("ran")

    monkeypatch.setattr(docs_check, "SOURCES", {"a": Source(never), "b": Source(never)})
    page = tmp_path / "README.md"
    page.write_text("<!-- fig a.x -->1 and <!-- fig b.y -->2\n")
    assert check(page, quick=True, write=False, skip={"a"}, measured={"b": {"y": 2}}) == []
    assert check(page, quick=True, write=False, skip={"a"}, measured={"b": {"y": 3}}) == [
        "b.y: the file says 2, `b` prints 3 now"
    ]


def test_a_stale_figure_or_block_is_named_and_write_puts_todays_values_in(tmp_path, monkeypatch):
    monkeypatch.setattr(
        docs_check,
        "SOURCES",
        {"fake": Source(lambda: {"idle": 3.91, "tick_ms": 40, "table": "a 1.00\nb 2.50"})},
    )
    page = tmp_path / "README.md"
    page.write_text(
        "Idle <!-- fig fake.idle -->$12.55 a month, a tick <!-- fig fake.tick_ms -->25 ms.\n\n"
        "<!-- output fake.table -->\n```\na 1.00\nb 9.99\n```\n"
    )
    problems = check(page, quick=False, write=False)
    assert [p.split(":")[0] for p in problems] == ["fake.idle", "fake.table"], problems  # 25 ms is within 2x
    assert check(page, quick=False, write=True) == []
    assert page.read_text() == (
        "Idle <!-- fig fake.idle -->$3.91 a month, a tick <!-- fig fake.tick_ms -->25 ms.\n\n"
        "<!-- output fake.table -->\n```\na 1.00\nb 2.50\n```\n"
    )
    assert check(page, quick=False, write=False) == []


def test_an_unknown_source_is_an_error(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("<!-- fig nosuch.x -->1\n")
    assert "no source 'nosuch'" in check(page, quick=True, write=False)[0]
