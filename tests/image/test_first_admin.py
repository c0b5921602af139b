"""The migration script run again on a migrated database, as every deploy runs it: it passes, the first admin
user is the only user and keeps this stack's password, and that password is never on a command line. A
restored database's admin gets ours."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import sqlalchemy
from werkzeug.security import check_password_hash

from infra.airflow_env import MIGRATE_SCRIPT


def users(env: dict[str, str]) -> dict[str, str]:
    """Each user of Airflow's auth manager (FAB) and its password hash, read from its table."""
    engine = sqlalchemy.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], poolclass=sqlalchemy.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT username, password FROM ab_user")).all()
    return {username: password for username, password in rows}


def admin_password_hash(env: dict[str, str]) -> str:
    return users(env)["admin"]


def test_the_script_runs_again_and_the_admin_password_is_on_no_command_line(container_env):
    # The template's migration ran the script once already, exactly as the migrate task does.
    password = container_env["_AIRFLOW_ADMIN_PASSWORD"]
    process = subprocess.Popen(
        ["bash", "-c", MIGRATE_SCRIPT], env=container_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen, scanned = [], 0
    while process.poll() is None:
        for other in psutil.process_iter(["cmdline"]):
            if password in " ".join(other.info["cmdline"] or []):
                seen.append(other.info["cmdline"])
        scanned += 1
        time.sleep(0.02)
    output = process.stdout.read() if process.stdout else ""
    assert process.returncode == 0, output[-3000:]
    assert scanned > 20  # the script ran long enough to be watched (Airflow starts in seconds)
    assert seen == []
    assert password not in output
    assert "admin user admin: password set to this stack's" in output
    assert list(users(container_env)) == ["admin"]
    assert check_password_hash(admin_password_hash(container_env), password)


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
