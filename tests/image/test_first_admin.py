"""The first admin user's script (image/first_admin.py): a restored database's admin gets this stack's password,
and without one it refuses. The migration script's second run, which calls it, is watched in
test_restore_guard.py: its output and every command line meanwhile are kept free of the password."""

from __future__ import annotations

import subprocess
import sys

from werkzeug.security import check_password_hash

from tests.image.conftest import users


def admin_password_hash(env: dict[str, str]) -> str:
    return users(env)["admin"]


def test_a_restored_admin_user_gets_this_stacks_password(container_env):
    # The database already has an admin (the template's migration): as a snapshot of another stack would.
    assert check_password_hash(admin_password_hash(container_env), container_env["_AIRFLOW_ADMIN_PASSWORD"])
    env = {**container_env, "_AIRFLOW_ADMIN_PASSWORD": "staging-own-password"}
    result = subprocess.run(
        [sys.executable, env["FIRST_ADMIN"], "admin"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "password set to this stack's" in result.stdout and "staging-own-password" not in result.stdout
    stored = admin_password_hash(container_env)
    assert check_password_hash(stored, "staging-own-password")
    assert not check_password_hash(stored, container_env["_AIRFLOW_ADMIN_PASSWORD"])


def test_without_the_password_it_refuses(container_env):
    env = {k: v for k, v in container_env.items() if k != "_AIRFLOW_ADMIN_PASSWORD"}
    result = subprocess.run([sys.executable, env["FIRST_ADMIN"], "admin"], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "_AIRFLOW_ADMIN_PASSWORD is not set" in result.stderr
