"""Bad invocations of `airflow-stack`: one line naming the option and what it takes, the documented exit
code, no traceback, and nothing changed: no count, no waker state, no snapshot, no file (moto)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_stack import aws, cli
from tests.airflow_stack.conftest import cli_run, factory, not_outputs_files, state

LONG = "x" * 201


def invocations(tmp_path):
    not_outputs_files(tmp_path)
    return [
        # (argv, exit code, words of the one line)
        (["wake", "--stack", "dev", "--hold", "soon"], 2, "--hold: a duration like 90m"),
        (["wake", "--stack", "dev", "--hold", "25h"], 2, "at most 24h"),
        (["wake", "--stack", "dev", "--wait", "--timeout", "soon"], 2, "--timeout: a duration"),
        (["wake", "--stack", "dev", "--reason", ""], 2, "--reason must be 1 to 200"),
        (["sleep", "--stack", "dev", "--reason", LONG], 2, "--reason must be 1 to 200"),
        (["sleep", "--stack", "dev", "--force", "--hold", "99h"], 2, "at most 24h"),
        (["sleep", "--stack", "dev", "--timeout", "0"], 2, "--timeout must be more than 0"),
        (["wake", "--stack", "Bad_Name"], 2, "--stack must be lowercase"),
        (["status", "--stack", ""], 2, "--stack must be lowercase"),
        (["snapshot", "--stack", "x y"], 2, "--stack must be lowercase"),
        (["predeploy", "--stack", "dev", "--hold", "1d"], 2, "--hold: a duration"),
        (["predeploy", "--stack", "dev", "--timeout", "0"], 2, "--timeout must be more than 0"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path / "list.json")], 2, "must hold a JSON object"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path / "text.json")], 2, "cannot read stack outputs"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path / "missing.json")], 2, "cannot read stack outputs"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path / "empty.json")], 2, "is it deployed"),
        (["stage", "--from", "prod", "--stack", "Bad_Name"], 2, "--stack must be lowercase"),
        (["stage", "--from", "Prod"], 2, "--from must be a stack name"),
        (["stage", "--from", "prod", "--stack", "prod"], 2, "stage writes a separate staging stack"),
        (["stage", "--from", "nosuch"], 2, "no Pulumi.nosuch.yaml"),
        (["stage", "--from", "prod", "--set-env", "lake=x"], 2, "--set-env takes KEY=VALUE"),
        (["stage", "--from", "prod", "--set-env", "NOVALUE"], 2, "--set-env takes KEY=VALUE"),
        (
            ["stage", "--from", "prod", "--worker-policy", "arn:aws:iam::123456789012:policy/x"],
            2,
            "airflow:services.workerPolicyArns",
        ),
        (["preflight", "--stack", "nosuch"], 2, "no Pulumi.nosuch.yaml"),
        # Files that are not a stack's outputs, whatever they hold, and however long they go on.
        (["status", "--stack", "dev", "--outputs", "/dev/zero"], 2, "not a regular file"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path)], 2, "not a regular file"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path / "latin1.json")], 2, "cannot read stack outputs"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path / "deep.json")], 2, "nested too deeply"),
        (["status", "--stack", "dev", "--outputs", str(tmp_path / "huge.json")], 2, "larger than 1024 KiB"),
        (["wake", "--stack", "dev", "--hold", "9" * 5000], 2, "--hold"),
    ]


def test_there_are_at_least_twenty_bad_invocations(tmp_path):
    assert len(invocations(tmp_path)) >= 20


def test_each_bad_invocation_gets_one_line_its_exit_code_and_changes_nothing(
    world, prod_database, project, tmp_path, capsys
):
    for argv, code, words in invocations(tmp_path):
        before = state(world, project)
        assert cli_run(world, *argv, project=project) == code, argv
        out = capsys.readouterr()
        lines = [line for line in out.err.splitlines() if line.strip()]
        assert lines and words in lines[0], (argv, out.err)
        assert "Traceback" not in out.err + out.out, argv
        if argv[0] != "stage":
            assert len(lines) == 1, (argv, lines)
        assert state(world, project) == before, argv


def test_a_wake_the_waker_refuses_says_why_and_exits_3(world, capsys):
    world.invoke({"action": "maintenance", "on": True, "reason": "database being replaced"}, world.now)
    assert cli_run(world, "wake", "--stack", "dev") == cli.EXIT_WAKER_REFUSED
    err = capsys.readouterr().err
    assert "refused" in err and "database being replaced" in err and "None" not in err
    json.dumps(err)


def test_a_padded_reason_is_sent_as_the_waker_reads_it(world, capsys):
    # The events the CLI builds are refused before sending if the waker would read them otherwise.
    assert cli_run(world, "wake", "--stack", "dev", "--hold", "0m", "--reason", "  upgrade rehearsal  ") == 0
    assert capsys.readouterr().out.strip().endswith("wake requested: upgrade rehearsal")


def test_a_crash_inside_the_waker_is_its_own_exit_code_in_one_line(world, capsys):
    """Regression: the waker's own failure was reported as exit 2 "bad input", with Lambda's raw trace."""
    from airflow_stack import operations

    class Payload:
        def read(self) -> bytes:
            trace = {
                "errorMessage": "'NoneType' object is not subscriptable\nmore detail",
                "errorType": "TypeError",
                "stackTrace": ['  File "/var/task/waker/handler.py", line 1, in handler\n'],
            }
            return json.dumps(trace).encode()

    class Lambda:
        def invoke(self, **_: object) -> dict:
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": Payload()}

    def make_stack(name, outputs_file):
        stack = factory(world)(name, outputs_file)
        return operations.Stack(stack.outputs, stack.client, operations.lambda_invoker(Lambda(), "airflow-dev-waker"))

    assert cli.run(["status", "--stack", "dev"], make_stack=make_stack) == cli.EXIT_WAKER_ERROR == 5
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "airflow-stack: the waker failed: TypeError: 'NoneType' object is not subscriptable (its log has the rest)"
    )


def test_text_from_the_stack_is_printed_with_its_control_characters_escaped(world, capsys):
    """A stored reason is the waker's memory: whatever it holds, the terminal shows it and does not obey it."""
    hostile = "done\x1b[2J\x1b]0;owned\x07\r\u202eevil"
    world.invoke({"action": "wake", "holdMinutes": 5, "reason": hostile}, world.now)
    assert cli_run(world, "status", "--stack", "dev") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x07" not in out
    assert "done\\x1b[2J\\x1b]0;owned\\x07\\r\\u202eevil" in out


def test_every_aws_client_of_the_command_is_bounded_in_time():
    client = aws.client("ecs", "us-gov-east-1")
    assert client.meta.config.connect_timeout == 5 and client.meta.config.read_timeout == 30
    waker = aws.client("lambda", "us-gov-east-1")
    assert waker.meta.config.read_timeout > 60, "the waker may take its whole 60 s"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("config: [\n", "is not valid YAML"),
        (
            "config:\n  aws:region: us-gov-east-1\n  airflow:waker:\n    idleMinutes: soon\n",
            "airflow:waker.idleMinutes",
        ),
        ("config:\n  aws:region: us-gov-east-1\n  ? [a]\n  : x\n", "keys must be text"),
    ],
)
def test_preflight_of_a_broken_stack_file_is_one_line_and_exit_2(world, project, capsys, content, words):
    """Regression: preflight read the file with a plain YAML load and its settings unguarded: a traceback."""
    (project / "Pulumi.broken.yaml").write_text(content)
    assert cli_run(world, "preflight", "--stack", "broken", project=project) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err, err


def test_stage_over_an_unreadable_staging_file_is_one_line_and_touches_nothing(world, project, capsys):
    """Regression: an invalid existing staging file ended `stage` in a traceback."""
    (project / "Pulumi.staging.yaml").write_text("config:\n  aws:region: a\n  aws:region: b\n")
    before = state(world, project)
    assert cli_run(world, "stage", "--from", "prod", "--stack", "staging", project=project) == 2
    err = capsys.readouterr().err
    assert "nothing written" in err and "given twice" in err and "Traceback" not in err, err
    assert state(world, project) == before


def test_stage_into_a_staging_file_it_may_not_write_is_refused_before_anything_is_held(
    world, project, capsys, monkeypatch
):
    """Root may write any file, so the refusal a read-only file gets is shown with the permission check
    answering as it does for another user (os.access)."""
    import os

    from airflow_stack import stage_command

    target = project / "Pulumi.staging.yaml"
    target.write_text("config:\n  aws:region: us-gov-east-1\n")
    target.chmod(0o444)
    real_access = os.access
    monkeypatch.setattr(
        stage_command.os, "access", lambda path, mode: False if Path(path) == target else real_access(path, mode)
    )
    before = state(world, project)
    assert cli_run(world, "stage", "--from", "prod", "--stack", "staging", project=project) == 2
    err = capsys.readouterr().err
    assert "is not writable" in err and "Traceback" not in err, err
    assert state(world, project) == before


def test_ctrl_c_while_sleep_waits_is_one_line_and_exit_130(world, capsys, monkeypatch):
    from airflow_stack import operations

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(operations, "wait_for_counts", interrupted)
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "t"}, world.now)
    assert cli_run(world, "sleep", "--stack", "dev", "--force", "--wait") == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.strip() == "airflow-stack: interrupted (Ctrl-C)" and "Traceback" not in err


def test_an_endpoint_that_never_answers_ends_the_command_in_bounded_time(tmp_path, monkeypatch, capsys):
    """Regression: an AWS endpoint that accepted the connection and never answered held `status` for five
    minutes with no output. Every client is bounded (here shortened to a second), then one line, exit 4."""
    import socket
    import threading
    import time as clock

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(server.accept()[0]) for _ in range(16)], daemon=True).start()
    monkeypatch.setattr(aws, "AWS_TIMEOUTS", {**aws.AWS_TIMEOUTS, "read_timeout": 1, "retries": {"max_attempts": 1}})
    monkeypatch.setattr(aws, "WAKER_READ_TIMEOUT", 1)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    outputs = tmp_path / "dev.json"
    outputs.write_text(
        json.dumps(
            {
                "region": "us-gov-east-1",
                "clusterName": "airflow-dev",
                "serviceNames": {"scheduler": "airflow-dev-scheduler"},
                "databaseIdentifier": "airflow-dev",
                "dagBucket": "airflow-dev-dags",
                "wakerFunction": "airflow-dev-waker",
            }
        )
    )
    started = clock.monotonic()
    assert cli.run(["status", "--stack", "dev", "--outputs", str(outputs)]) == cli.EXIT_AWS
    assert clock.monotonic() - started < 30
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Read timeout" in err, err
    server.close()
