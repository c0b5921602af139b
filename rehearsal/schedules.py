"""EventBridge Scheduler on one machine: the waker's tick while it is enabled, its hourly watch, and the
one-time wakes it writes, fired on time.

Each firing is what the real schedule does: the waker function invoked with the schedule's input, with the
scheduler role's credentials (so `lambda:InvokeFunction` on the waker is checked), through the stand-in's
Lambda, which runs the real handler as the waker's role.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from contracts.waker import Tick, to_event
from rehearsal.timeline import Timeline
from standin.seed import SeededStack


class Schedules:
    def __init__(self, seeded: SeededStack, timeline: Timeline, tick_seconds: float) -> None:
        self.seeded = seeded
        self.timeline = timeline
        self.tick_seconds = tick_seconds
        self.watch_seconds = 60 * tick_seconds  # the hourly watch, at the rehearsal's pace
        role = str(seeded.recording.one("aws:iam/role:Role", "waker-scheduler").outputs["name"])
        self.lambda_client = seeded.stand_in.client_as(role, "lambda")
        self.admin = seeded.stand_in.client("scheduler")
        self.function = seeded.recording.one("aws:lambda/function:Function", "waker-function").outputs["name"]
        self.group = seeded.recording.one("aws:scheduler/scheduleGroup:ScheduleGroup").outputs["name"]
        self.tick_name = seeded.recording.one("aws:scheduler/schedule:Schedule", "waker-tick").outputs["name"]
        self.fired: set[str] = set()
        self.answers: list[dict[str, Any]] = []
        self._last = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._firing = threading.Lock()
        self._thread: threading.Thread | None = None

    def invoke(self, event: dict[str, Any], why: str) -> dict[str, Any]:
        with self._lock:  # the scheduler's invocations of one schedule do not overlap here either
            response = self.lambda_client.invoke(FunctionName=self.function, Payload=json.dumps(event).encode())
            body = response["Payload"].read().decode()
        answer = json.loads(body) if body else {}
        if response.get("FunctionError"):
            self.timeline("waker", f"{why}: FAILED {answer.get('errorMessage', body)[-300:]}")
            answer = {"ok": False, "error": answer}
        self.answers.append(answer)
        line = f"{answer.get('state')}: {answer.get('reason')} -> desired {answer.get('desired')}"
        if answer.get("busy"):
            line = "busy: another run holds the lease"
        if line != self._last or event.get("action") != "tick":
            self.timeline("waker", f"{why}: {line}")
            self._last = line
        return answer

    def tick_enabled(self) -> bool:
        """The minute tick fires while the waker leaves it on (it switches it off asleep and still)."""
        schedule = self.admin.get_schedule(GroupName=self.group, Name=self.tick_name)
        return schedule.get("State", "ENABLED") == "ENABLED"

    def one_time_wakes(self) -> list[tuple[str, datetime, dict[str, Any]]]:
        found = []
        for summary in self.admin.list_schedules(GroupName=self.group).get("Schedules", []):
            schedule = self.admin.get_schedule(GroupName=self.group, Name=summary["Name"])
            match = re.fullmatch(r"at\((.+)\)", schedule["ScheduleExpression"])
            if match:
                at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
                found.append((summary["Name"], at, json.loads(schedule["Target"]["Input"])))
        return found

    def fire_due(self) -> None:
        now = datetime.now(UTC)
        for name, at, event in self.one_time_wakes():
            key = f"{name}@{at.isoformat()}"
            if at <= now and key not in self.fired:
                self.fired.add(key)
                self.invoke(event, f"one-time wake {at:%H:%M:%S}")
                # The waker writes it with ActionAfterCompletion DELETE: fired once, then gone.
                with contextlib.suppress(self.admin.exceptions.ResourceNotFoundException):
                    self.admin.delete_schedule(GroupName=self.group, Name=name)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No schedule fires inside: a scenario acting as a person or as ECS is not raced by the waker's tick."""
        with self._firing:
            yield

    def start(self) -> None:
        def loop() -> None:
            next_watch = time.monotonic() + self.watch_seconds
            while not self._stop.is_set():
                with self._firing:
                    next_watch = self._fire(next_watch)
                self._stop.wait(self.tick_seconds)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def _fire(self, next_watch: float) -> float:
        """One round: the one-time wakes that are due, then the tick (while it is on) or the hourly watch."""
        try:
            self.fire_due()
            if self.tick_enabled():
                self.invoke(to_event(Tick()), "tick")
            elif time.monotonic() >= next_watch:
                self.invoke(to_event(Tick()), "watch")
            if time.monotonic() >= next_watch:
                next_watch = time.monotonic() + self.watch_seconds
        except Exception as error:
            self.timeline("waker", f"schedule error: {error}")
        return next_watch

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=90)
