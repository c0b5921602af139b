"""Benchmark of shipping a one-line DAG change: `make deploy-dags` against a moto server for the bucket.

    uv run python -m devtools.bench_deploy_dags [--runs 2]     (or `make bench-deploy-dags`)

Puts the current dags/ in a versioned moto bucket (as a deployed stack's), changes one line of
dags/orders_transform.py, runs `make deploy-dags OUTPUTS=<file>` as a DAG author would and times it from
the command to the upload; then puts the line back. Prints the figures. The waker is not asked to wake
(the outputs name no waker): that takes seconds in AWS and is not what is measured here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from airflow_stack.deploy_dags import DAGS, apply_sync, local_files, plan_sync, remote_files
from devtools.local_airflow import REGION, free_port

ROOT = Path(__file__).resolve().parents[1]

CHANGED = DAGS / "orders_transform.py"
BUCKET = "airflow-dev-dags"


def one_line_changed(text: str, run: int) -> str:
    """The file with the first line of its docstring changed, as a DAG author's small edit."""
    first, rest = text.split("\n", 1)
    return re.sub(r"( \(edit \d+\))?$", f" (edit {run})", first, count=1) + "\n" + rest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time make deploy-dags of a one-line DAG change against moto.")
    parser.add_argument("--runs", type=int, default=2, help="edits to ship, one after the other (default 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args(argv)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "stand-in",
        "AWS_SECRET_ACCESS_KEY": "stand-in",
        "AWS_DEFAULT_REGION": REGION,
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})  # this process's client too
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    apply_sync(s3, BUCKET, DAGS, plan_sync(local_files(DAGS), remote_files(s3, BUCKET)))  # the deployed state

    original = CHANGED.read_text()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        outputs = Path(scratch) / "outputs.json"
        outputs.write_text(json.dumps({"region": REGION, "dagBucket": BUCKET}))
        try:
            for run in range(1, args.runs + 1):
                CHANGED.write_text(one_line_changed(original, run))
                started = time.monotonic()
                shipped = subprocess.run(
                    ["make", "--no-print-directory", "deploy-dags", f"OUTPUTS={outputs}"],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                seconds = time.monotonic() - started
                if shipped.returncode != 0:
                    print(shipped.stdout[-3000:], shipped.stderr[-3000:], file=sys.stderr)
                    return 1
                landed = s3.get_object(Bucket=BUCKET, Key=f"dags/{CHANGED.name}")["Body"].read().decode()
                if landed != CHANGED.read_text():
                    print("the changed file did not reach the bucket", file=sys.stderr)
                    return 1
                summary = next(line for line in shipped.stdout.splitlines() if line.startswith("tested in"))
                rows.append((run, seconds, summary))
        finally:
            CHANGED.write_text(original)
            server.stop()

    if args.json:
        seconds = [round(s, 1) for _, s, _ in rows]
        print(json.dumps({"seconds": seconds, "max_seconds": max(seconds), "warm_seconds": seconds[-1]}))
        return 0
    print(f"make deploy-dags, one line of dags/{CHANGED.name} changed, moto standing in for the bucket:")
    for run, seconds, summary in rows:
        print(f"  edit {run}: {seconds:5.1f} s from the command to its end (upload done); {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
