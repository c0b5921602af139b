"""The waker's decisions: (now, settings, observation, state, request) -> Decision. Pure and deterministic.

Invariants kept here (and checked by property tests):
1. No scale-in kills a running task: core services never go to zero while work is active or unknown, and
   workers are never reduced while activity is unknown, nor while a task runs unless the workers protect
   themselves from scale-in (then ECS stops only idle ones). A database stopped or stopping runs nothing:
   services found up on one are decided as from asleep (to zero, and back once it serves a reason to wake).
2. A DAG due at T finds the cluster up by T: asleep, the cluster wakes once `now >= T - lead` (the lead is
   learned from measured wakes within its bounds, and grows by the database's start time, once, while the
   database is stopped or being stopped), with the workers its first tasks need, and going to sleep
   schedules a wake at that moment. Only a forced sleep's hold defers it: the wake is then at the hold's end.
3. Desired counts are absolute and bounded: core services 0 or 1, workers 0..max_workers.
4. A person's wake is never dropped: asked for while the database cannot serve it, it is kept until the
   stack is brought up, and its hold runs from then.

The package, by concern: `decide` takes the request in and picks the branch; `asleep` wakes or keeps asleep
(and puts to sleep); `awake` keeps awake, scales the workers or lets it sleep; `held` is maintenance and a
migration's hold; `rules` is what they share (the lead, the holds, the counts, the one-time wake).
"""

from .decide import decide
from .rules import stale_broker_cutoff

__all__ = ["decide", "stale_broker_cutoff"]
