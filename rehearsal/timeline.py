"""The rehearsal's timeline: what happened when, printed as it happens and kept for the checks."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the rehearsal started
    kind: str  # waker, ecs, airflow, aws, scenario, check
    text: str


@dataclass
class Timeline:
    out: TextIO = sys.stdout
    started: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, kind: str, text: str) -> None:
        event = Event(self.now(), kind, text)
        with self._lock:
            self.events.append(event)
            minutes, seconds = divmod(int(event.at), 60)
            self.out.write(f"{minutes:02d}:{seconds:02d}  {kind:<8} {text}\n")
            self.out.flush()

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]
