"""The task definitions name the image by a hash of its build context, so only an image change redeploys.

A rebuild of an unchanged context may push a different digest (layers carry timestamps; pulumi-awsx#1293
shows awsx's Image building again with nothing changed). Task definitions that named the digest would then
change on every such `pulumi up`: the migration task would run again and all six services would redeploy for a
Lambda-only change. The mock below gives every build a new digest, as such a rebuild would.
"""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

from infra.components import image as image_component
from infra.components import python_lambda
from infra.image_context import content_tag
from offline.recording import StackMocks, run_stack
from tests.support.build_context import copied_context

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


@pytest.fixture
def every_build_a_new_digest(monkeypatch):
    original = StackMocks.new_resource
    builds = itertools.count(1)

    def new_resource(self, args):
        resource_id, outputs = original(self, args)
        if args.typ == "awsx:ecr:Image":
            outputs = {**outputs, "imageUri": f"{args.inputs['repositoryUrl']}@sha256:{next(builds):064x}"}
        return resource_id, outputs

    monkeypatch.setattr(StackMocks, "new_resource", new_resource)


def task_definitions(recording) -> dict[str, dict]:
    return {r.name: r.inputs for r in recording.of_type(TASK_DEFINITION)}


def images(recording) -> set[str]:
    return {
        container["image"]
        for inputs in task_definitions(recording).values()
        for container in json.loads(inputs["containerDefinitions"])
    }


def test_a_lambda_only_change_leaves_every_task_definition_unchanged(every_build_a_new_digest, tmp_path, monkeypatch):
    before = run_stack("dev")
    lambdas = tmp_path / "lambdas"
    shutil.copytree(python_lambda.LAMBDAS_DIR, lambdas, ignore=shutil.ignore_patterns("__pycache__"))
    handler = lambdas / "waker" / "handler.py"
    handler.write_text(handler.read_text() + "\n# a Lambda-only change\n")
    monkeypatch.setattr(python_lambda, "LAMBDAS_DIR", lambdas)
    after = run_stack("dev")

    waker = "aws:lambda/function:Function"
    assert before.one(waker, "waker-function").inputs["code"] != after.one(waker, "waker-function").inputs["code"]
    assert task_definitions(before) == task_definitions(after)
    assert len(task_definitions(before)) == 6  # five services and the migration


def test_task_definitions_name_the_image_by_its_content_tag(every_build_a_new_digest):
    recording = run_stack("dev")
    repository = recording.one("aws:ecr/repository:Repository").outputs["repositoryUrl"]
    built = recording.one("awsx:ecr:Image")
    tag = content_tag("3.3.2", "x86_64")
    assert built.inputs["imageTag"] == tag
    assert images(recording) == {f"{repository}:{tag}"}
    # A rebuild of an unchanged context starts from the layers already pushed under that tag.
    assert built.inputs["cacheFrom"] == [f"{repository}:{tag}"]
    assert built.inputs["args"]["BUILDKIT_INLINE_CACHE"] == "1"
    # The task definitions wait for the push: they depend on the image resource.
    for definition in recording.of_type(TASK_DEFINITION):
        assert recording.depends_on(definition, built.urn)


def test_an_image_change_changes_the_task_definitions(every_build_a_new_digest, tmp_path, monkeypatch):
    before = run_stack("dev")
    context = copied_context(tmp_path)
    reporter = context / "image" / "activity_reporter.py"
    reporter.write_text(reporter.read_text() + "\n# an image change\n")
    monkeypatch.setattr(image_component, "CONTEXT_DIR", context)
    monkeypatch.setattr(image_component, "DOCKERFILE", context / "image" / "Dockerfile")
    after = run_stack("dev")
    assert images(before) != images(after)
    assert all(task_definitions(before)[n] != inputs for n, inputs in task_definitions(after).items())
