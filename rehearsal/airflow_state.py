"""What Airflow says: its REST API on the api-server (as an operator sees it), and its metadata database
(the observable state of runs and task instances, readable while the stack sleeps)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import sqlalchemy


@dataclass
class AirflowApi:
    base: str  # http://127.0.0.1:<port>
    username: str
    password: str
    token: str = ""

    def _call(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            if not self.token:
                self.token = self._call(
                    "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
                )["access_token"]
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (the local api-server, over http)
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the local api-server)
            return json.loads(response.read() or b"null")

    def healthy(self) -> bool:
        try:
            health = self._call("GET", "/api/v2/monitor/health", auth=False)
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return health.get("metadatabase", {}).get("status") == "healthy"

    def dag_ids(self) -> list[str]:
        return sorted(d["dag_id"] for d in self._call("GET", "/api/v2/dags?limit=100")["dags"])

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]


class AirflowDatabase:
    def __init__(self, url: str) -> None:
        self.engine = sqlalchemy.create_engine(url, pool_pre_ping=True)

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text(
                    "select run_id, state, run_type, logical_date, run_after from dag_run where dag_id = :d order by id"
                ),
                {"d": dag_id},
            )
            return [dict(r._mapping) for r in rows]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text(
                    "select task_id, state, try_number, hostname, start_date, end_date from task_instance "
                    "where dag_id = :d and run_id = :r order by task_id"
                ),
                {"d": dag_id, "r": run_id},
            )
            return [dict(r._mapping) for r in rows]

    def close(self) -> None:
        self.engine.dispose()
