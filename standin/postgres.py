"""A real PostgreSQL server on this machine: initdb + pg_ctl as user `postgres`, on a free port, TLS on.

TLS uses a throwaway self-signed certificate so that the connection strings the stack puts in Secrets
Manager (`sslmode=require`, asyncpg `ssl=require`) are exercised as RDS with `rds.force_ssl` sees them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "postgres"


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl) are not installed."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    socket_dir: str = ""

    def clone(self, name: str) -> PostgresServer:
        """A new database copied from this one (PostgreSQL's CREATE DATABASE ... TEMPLATE: a file copy,
        far faster than migrating again). This database must have no open connection."""
        psql = _binary("psql") or "psql"
        statement = f"CREATE DATABASE {name} TEMPLATE {self.dbname} OWNER {self.user}"
        _as_service_user([psql, "-h", self.socket_dir, "-p", str(self.port), "-U", "postgres", "-c", statement])
        return PostgresServer(self.host, self.port, self.user, self.password, name, self.socket_dir)


def _binary(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_service_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    account = pwd.getpwnam(SERVICE_USER)

    def demote() -> None:
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)

    preexec = demote if os.geteuid() == 0 else None
    return subprocess.run(args, check=True, capture_output=True, text=True, preexec_fn=preexec, **kwargs)


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVICE_USER)
        os.chown(path, account.pw_uid, account.pw_gid)


@contextlib.contextmanager
def running_postgres(
    *,
    user: str = "airflow",
    password: str | None = None,
    dbname: str = "airflow",
) -> Iterator[PostgresServer]:
    server = start_postgres(user=user, password=password, dbname=dbname)
    try:
        yield server
    finally:
        stop_postgres(server)


def start_postgres(*, user: str = "airflow", password: str | None = None, dbname: str = "airflow") -> PostgresServer:
    """A server of its own, in a new temporary folder (its socket directory); `stop_postgres` ends it."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise PostgresMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
        )
    secret = password or secrets.token_urlsafe(18)
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    os.chmod(root, 0o755)  # noqa: S103 (the postgres user must reach its data directory inside)
    _chown(root)
    data = root / "data"
    port = _free_port()
    _as_service_user([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(data / "server.key"),
            "-out",
            str(data / "server.crt"),
        ],
        check=True,
        capture_output=True,
    )
    for name in ("server.key", "server.crt"):
        os.chmod(data / name, 0o600)
        _chown(data / name)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
            "ssl = on\nfsync = off\nmax_connections = 200\n"
        )
    # Like rds.force_ssl: password logins only over TLS.
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
    )
    _chown(data / "pg_hba.conf")
    _as_service_user([pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w", "start"])
    server = PostgresServer("127.0.0.1", port, user, secret, dbname, str(root))
    try:
        psql = _binary("psql") or "psql"
        # The stack's user as RDS makes its master user: not a superuser, but with CREATEROLE (rds_superuser,
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.html).
        statements = [
            f"CREATE ROLE {user} LOGIN CREATEROLE PASSWORD '{secret}'",
            f"CREATE DATABASE {dbname} OWNER {user}",
        ]
        for statement in statements:
            _as_service_user([psql, "-h", str(root), "-p", str(port), "-U", "postgres", "-c", statement])
    except BaseException:
        stop_postgres(server)
        raise
    return server


def stop_postgres(server: PostgresServer) -> None:
    """Stop the server `start_postgres` began (from any process: it needs only the server's folder)."""
    root = Path(server.socket_dir)
    pg_ctl = _binary("pg_ctl") or "pg_ctl"
    try:
        _as_service_user([pg_ctl, "-D", str(root / "data"), "-m", "immediate", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
