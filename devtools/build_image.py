"""`make image`: build the image ECS runs on this machine, without a Docker daemon, and check it from inside.

    uv run python -m devtools.build_image [--no-check] [--tag] [--record] [--json]

Builds image/Dockerfile with buildah (`buildah bud --isolation chroot`, as root). Docker Hub cannot be reached
here, so the Dockerfile's BASE_IMAGE (the official apache/airflow slim image) is replaced by a local stand-in
built from Debian packages and PyPI (image/base/Dockerfile, on a debootstrap'ed Debian bookworm), with Airflow
at the versions uv.lock pins. Each image is tagged with the hash of what built it, so an unchanged context is
not built again. Then it prints the image's tag and size, the size of each layer the project adds and the
biggest installed packages, and runs devtools/image_probe.py in a container of the image against every container
command the program declares (dev and prod).

The build runs on this machine's architecture; ECS runs the stack's (`image.architecture`, arm64 by default),
which `pulumi up` builds with Docker's buildx.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from infra.airflow_env import RESTORE_GUARD_PATH
from infra.image_context import CONTEXT_DIR, DOCKERFILE, IMAGE_DIR, content_tag, copy_sources, copy_sources_missing
from infra.settings import DEFAULT_AIRFLOW_VERSION

ROOT = Path(__file__).resolve().parents[1]

NAME = "localhost/airflow-govcloud"
DEBIAN = "localhost/airflow-govcloud-debian:bookworm"
BASE = "localhost/airflow-govcloud-base"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What the official slim image brings from Debian that this stack uses: Python 3.11 (bookworm's), venv, its init,
# curl (the api-server's health check) and the CA certificates.
DEBIAN_PACKAGES = ["python3", "python3-venv", "dumb-init", "curl", "ca-certificates"]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class BuildError(RuntimeError):
    pass


def buildah(*args: str, capture: bool = True) -> str:
    result = subprocess.run(["buildah", *args], capture_output=capture, text=True)
    if result.returncode != 0:
        raise BuildError(f"buildah {' '.join(args[:3])} failed ({result.returncode}):\n{(result.stderr or '')[-3000:]}")
    return (result.stdout or "").strip()


def exists(reference: str) -> bool:
    return subprocess.run(["buildah", "inspect", "--type", "image", reference], capture_output=True).returncode == 0


def host_architecture() -> str:
    return ARCHITECTURES[platform.machine()]


def official_base_python() -> str:
    """The Python minor version of the official tag the Dockerfile names (`...-pythonX.Y`)."""
    match = re.search(r"^ARG BASE_IMAGE=\S+-python(\d+\.\d+)$", DOCKERFILE.read_text(), re.M)
    if match is None:
        raise BuildError("image/Dockerfile names no -pythonX.Y base tag")
    return match.group(1)


def _build_volumes(workdir: Path) -> list[str]:
    """Where this machine reaches PyPI through a TLS proxy, RUN steps need its CA bundle; they get it mounted for
    the build only, so the image keeps Debian's own."""
    if not HOST_CA_BUNDLE.exists():
        return []
    pip_conf = workdir / "pip.conf"
    pip_conf.write_text(f"[global]\ncert = {HOST_CA_BUNDLE}\n")
    return ["-v", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro", "-v", f"{pip_conf}:/etc/pip.conf:ro"]


def debian_rootfs() -> str:
    if exists(DEBIAN):
        return DEBIAN
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is not installed: apt-get install debootstrap (as .ci/run does)")
    print(f"building {DEBIAN} with debootstrap (about 40 s)", flush=True)
    container = buildah("from", "scratch")
    try:
        mount = buildah("mount", container)
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}", "bookworm", mount,
             DEBIAN_MIRROR],
            check=True, capture_output=True,
        )  # fmt: skip
        for cache in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for path in (Path(mount) / cache).glob("*"):
                if path.is_file():
                    path.unlink()
        buildah("umount", container)
        buildah("config", "--env", "LANG=C.UTF-8", container)
        buildah("commit", "--rm", container, DEBIAN)
    except Exception:
        subprocess.run(["buildah", "rm", container], capture_output=True)
        raise
    return DEBIAN


def constraints() -> str:
    """The versions uv.lock pins for the Airflow runtime, as a pip constraints file."""
    exported = subprocess.run(
        ["uv", "export", "--only-group", "airflow", "--no-hashes", "--no-emit-project", "--format", "requirements-txt"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return "".join(line + "\n" for line in exported.splitlines() if line and not line.lstrip().startswith("#"))


def local_base(airflow_version: str, workdir: Path) -> str:
    """The local stand-in for apache/airflow:slim-<version>-python3.11 (image/base/)."""
    context = workdir / "base"
    shutil.copytree(IMAGE_DIR / "base", context)
    (context / "constraints.txt").write_text(constraints())
    digest = hashlib.sha256(airflow_version.encode())
    for path in sorted(context.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    reference = f"{BASE}:{airflow_version}-python{official_base_python()}-{digest.hexdigest()[:12]}"
    if exists(reference):
        return reference
    print(f"building the local base {reference}", flush=True)
    _bud(context, reference, workdir, DEBIAN_ROOTFS=debian_rootfs(), AIRFLOW_VERSION=airflow_version)
    return reference


def _bud(context: Path, reference: str, workdir: Path, dockerfile: Path | None = None, **build_args: str) -> None:
    """`buildah bud` of a Dockerfile (by default the context's own), without a daemon: RUN steps in a chroot,
    layers cached."""
    arguments = [a for name, value in build_args.items() for a in ("--build-arg", f"{name}={value}")]
    arguments += ["-f", str(dockerfile)] if dockerfile else []
    buildah(
        "bud", "--isolation", "chroot", "--layers", *_build_volumes(workdir), *arguments, "-t", reference, str(context)
    )


def build(airflow_version: str = DEFAULT_AIRFLOW_VERSION) -> tuple[str, str]:
    """Build (or find) the image for this machine's architecture: (its reference, its base's reference)."""
    if shutil.which("buildah") is None or shutil.which("podman") is None:
        raise BuildError(
            "buildah and podman are needed to build and run the image here (no Docker daemon is used): "
            "apt-get install buildah podman debootstrap, as .ci/run does"
        )
    missing = copy_sources_missing()
    if missing:
        raise BuildError(f".dockerignore leaves COPY sources out of the build context: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="image-build-") as tmp:
        workdir = Path(tmp)
        base = local_base(airflow_version, workdir)
        reference = f"{NAME}:{content_tag(airflow_version, host_architecture(), base_image=base)}"
        if exists(reference):
            print(f"{reference} is up to date (same build context)", flush=True)
            return reference, base
        print(f"building {reference}", flush=True)
        _bud(CONTEXT_DIR, reference, workdir, DOCKERFILE, BASE_IMAGE=base, AIRFLOW_VERSION=airflow_version)
    return reference, base


def ensure_image() -> str:
    """The built image's reference, building it first if its context changed (the rehearsal's entry)."""
    return build()[0]


# --- what it weighs -------------------------------------------------------------------------------------------


def _history(reference: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["podman", "history", "--format", "json", reference], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def _image_size(reference: str) -> int:
    inspect = ["podman", "image", "inspect", "--format", "{{.Size}}", reference]
    return int(subprocess.run(inspect, check=True, capture_output=True, text=True).stdout.strip())


def _layers_added(reference: str, base: str) -> list[dict[str, Any]]:
    """The layers image/Dockerfile adds on top of its base, oldest first."""
    history = _history(reference)
    own = history[: len(history) - len(_history(base))]
    layers = []
    for layer in reversed(own):
        step = re.sub(r"^/bin/sh -c (#\(nop\) )?|^\|\d+ \S+ /bin/sh -c ", "", layer.get("CreatedBy", ""))
        layers.append({"mb": round(layer.get("size", 0) / 1e6, 1), "step": step[:90]})
    return layers


def biggest_parts(reference: str, count: int = 8) -> dict[str, float]:
    """The biggest installed packages (site-packages folders), in MB."""
    script = "du -s /home/airflow/.local/lib/python3*/site-packages/* | sort -rn | head -n " + str(count)
    parts = {}
    for line in run_in_image(reference, ["bash", "-c", script]).stdout.splitlines():
        kilobytes, path = line.split(maxsplit=1)
        parts[Path(path).name] = round(int(kilobytes) * 1024 / 1e6, 1)
    return parts


def compressed_size(reference: str) -> int:
    """What a registry stores and Fargate pulls: the image's layers gzip-compressed, as `docker push` sends them."""
    with tempfile.TemporaryDirectory(prefix="image-push-") as tmp:
        buildah("push", "--compression-format", "gzip", "--quiet", reference, f"dir:{tmp}")
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
        return sum(layer["size"] for layer in manifest["layers"])


def measure(reference: str, base: str) -> dict[str, Any]:
    layers = _layers_added(reference, base)
    return {
        "reference": reference,
        "architecture": host_architecture(),
        "uncompressed_mb": round(_image_size(reference) / 1e6, 1),
        "compressed_mb": round(compressed_size(reference) / 1e6, 1),
        "added_mb": round(sum(layer["mb"] for layer in layers), 1),
        "layers": layers,
        "parts": biggest_parts(reference),
    }


def render(figures: dict[str, Any]) -> list[str]:
    lines = [
        f"image {figures['reference']}",
        f"size {figures['uncompressed_mb']:,.1f} MB unpacked, {figures['compressed_mb']:,.1f} MB compressed "
        f"(gzip, what Fargate pulls), {figures['architecture']}",
        "layers the project adds (image/Dockerfile):",
    ]
    lines += [f"  {layer['mb']:>8,.1f} MB  {layer['step']}" for layer in figures["layers"]]
    lines.append("biggest installed packages (site-packages):")
    lines += [f"  {mb:>8,.1f} MB  {name}" for name, mb in figures["parts"].items()]
    return lines


def record_sizes(figures: dict[str, Any]) -> None:
    """The sizes the cost model's image-pull estimate reads (costs/image_pull.py)."""
    record = {
        "compressed_mb": figures["compressed_mb"],
        "uncompressed_mb": figures["uncompressed_mb"],
        "architecture": figures["architecture"],
        "measured": date.today().isoformat(),
    }
    (ROOT / "costs" / "image.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"recorded in costs/image.json: {record}")


# --- running a container of the image -------------------------------------------------------------------------


def entrypoint(reference: str) -> list[str]:
    config = json.loads(buildah("inspect", "--type", "image", reference))
    return list(config["OCIv1"]["config"].get("Entrypoint") or [])


def run_in_image(
    reference: str, command: list[str], volumes: dict[str, str] | None = None, timeout: int = 900
) -> subprocess.CompletedProcess:
    """`command` through the image's entrypoint in a throwaway container (host network, as awsvpc tasks share one)."""
    container = buildah("from", "--pull-never", reference)
    try:
        mounts = [a for host, inside in (volumes or {}).items() for a in ("-v", f"{host}:{inside}:ro")]
        return subprocess.run(
            ["buildah", "run", "--isolation", "chroot", *mounts, container, "--", *entrypoint(reference), *command],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True)


# --- the in-image checks --------------------------------------------------------------------------------------


def _pins() -> dict[str, str]:
    pins = {}
    for line in (IMAGE_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name] = version
    return pins


def declared_containers() -> list[dict[str, Any]]:
    """Every container of every task definition the program declares for the committed stacks."""
    from offline.recording import load_stack_file, run_program

    seen: dict[str, dict[str, Any]] = {}
    for stack in ("dev", "prod"):
        recording = run_program(stack, load_stack_file(stack))
        for definition in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
            containers = json.loads(definition.inputs["containerDefinitions"])
            component = next(c["name"] for c in containers if c.get("essential", True))
            for container in containers:
                entry = {
                    "component": component,
                    "name": container["name"],
                    "command": container.get("command") or [],
                    "environment": {e["name"]: e["value"] for e in container.get("environment", [])},
                    "healthCheck": (container.get("healthCheck") or {}).get("command"),
                }
                key = json.dumps([entry["component"], entry["name"], entry["command"], entry["healthCheck"]])
                seen.setdefault(key, entry)
    return list(seen.values())


def probe_spec(airflow_version: str) -> dict[str, Any]:
    dockerfile = DOCKERFILE.read_text()
    destinations = [d for _, d in copy_sources(dockerfile)]
    celery_file = next(d for d in destinations if d.endswith("worker_protection.py"))
    return {
        "airflow_version": airflow_version,
        "python": official_base_python(),
        "pins": _pins(),
        "copy_destinations": list(dict.fromkeys([*destinations, RESTORE_GUARD_PATH])),
        "celery_config_file": celery_file,
        "containers": declared_containers(),
    }


def check_image(reference: str, airflow_version: str = DEFAULT_AIRFLOW_VERSION) -> bool:
    with tempfile.TemporaryDirectory(prefix="image-probe-") as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps(probe_spec(airflow_version)))
        os.chmod(tmp, 0o755)  # noqa: S103 - the image's user (UID 50000) reads the probe's spec, no secret in it
        result = run_in_image(
            reference,
            ["python", "/probe/image_probe.py", "/probe/spec.json"],
            volumes={str(ROOT / "devtools" / "image_probe.py"): "/probe/image_probe.py", str(spec): "/probe/spec.json"},
        )
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Airflow image here with buildah and check it inside.")
    parser.add_argument("--no-check", action="store_true", help="build and report sizes only")
    parser.add_argument("--tag", action="store_true", help="print the image reference (building it if needed)")
    parser.add_argument("--record", action="store_true", help="write the measured sizes to costs/image.json")
    parser.add_argument("--json", action="store_true", help="print the sizes as one JSON document, no checks")
    args = parser.parse_args(argv)
    try:
        reference, base = build()
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    if args.tag:
        print(reference)
        return 0
    figures = measure(reference, base)
    if args.json:
        print(json.dumps(figures))
        return 0
    print("\n".join(render(figures)))
    if args.record:
        record_sizes(figures)
    if args.no_check:
        return 0
    print("in-image checks (devtools/image_probe.py, in a container of the image):", flush=True)
    return 0 if check_image(reference) else 1


if __name__ == "__main__":
    sys.exit(main())
