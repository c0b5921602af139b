"""The migration task runs again for a new secret value, not only for a new task definition or database.

It sets the first admin's password and the Celery result backend role's password in the database from the
stack's secret. A rotated password (a random resource replaced) changes the secret's value but no task
definition (they name the secret by ARN and key): without a new run, the database would keep the old password
and the workers, handed the new one, could not write their results.
"""

from __future__ import annotations

import json

from offline.recording import StackMocks, run_stack

INVOCATION = "aws:lambda/invocation:Invocation"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


def test_a_rotated_password_runs_the_migration_again_and_changes_no_task_definition(monkeypatch):
    before = run_stack("dev")
    original = StackMocks.new_resource

    def rotated(self, args):
        resource_id, outputs = original(self, args)
        if args.typ == "random:index/randomPassword:RandomPassword" and "celery-results-password" in args.name:
            outputs = {**outputs, "result": "a-rotated-password"}
        return resource_id, outputs

    monkeypatch.setattr(StackMocks, "new_resource", rotated)
    after = run_stack("dev")
    runs = [json.loads(r.one(INVOCATION).inputs["input"]) for r in (before, after)]
    assert runs[0]["taskDefinitionArn"] == runs[1]["taskDefinitionArn"]
    assert runs[0]["secretVersion"] != runs[1]["secretVersion"]
    assert {r.name: r.inputs for r in before.of_type(TASK_DEFINITION)} == {
        r.name: r.inputs for r in after.of_type(TASK_DEFINITION)
    }


def test_an_unchanged_stack_does_not_run_it_again():
    first, second = (json.loads(run_stack("dev").one(INVOCATION).inputs["input"]) for _ in range(2))
    assert first == second and first["secretVersion"]
