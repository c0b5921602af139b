"""The stack's first admin user, with the password from the environment, never from a command line.

    python first_admin.py USERNAME          (run by the migration task, after `airflow db migrate`)

Reads the password from `_AIRFLOW_ADMIN_PASSWORD` (which ECS injects from the stack's secret) and removes it
from the environment at once. Creates the user with the Admin role, or, if it exists, sets its password to this
stack's: a database restored from another stack's snapshot comes with that stack's admin user, and its
password must not be the one anyone logs in with here. `airflow users create --password` would put the
password in the process list (and in `ps` output of anyone on the host).
"""

from __future__ import annotations

import os
import sys

PASSWORD_VARIABLE = "_AIRFLOW_ADMIN_PASSWORD"  # noqa: S105 - a variable's name, not its value


def ensure_admin(username: str, password: str) -> str:
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        user = security.find_user(username=username)
        if user is None:
            role = security.find_role("Admin")
            if role is None:
                raise SystemExit("the Admin role does not exist: has `airflow db migrate` run?")
            created = security.add_user(
                username, "Airflow", "Admin", f"{username}@localhost", role=role, password=password
            )
            if not created:
                raise SystemExit(f"could not create the admin user {username}")
            return "created"
        if not security.reset_password(user.id, password):
            raise SystemExit(f"could not set the password of {username}")
        return "password set to this stack's"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    password = os.environ.pop(PASSWORD_VARIABLE, "")
    if not password:
        print(f"{PASSWORD_VARIABLE} is not set: the migration task's secret did not reach it", file=sys.stderr)
        return 2
    print(f"admin user {argv[0]}: {ensure_admin(argv[0], password)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
