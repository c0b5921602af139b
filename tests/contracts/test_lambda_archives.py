"""Each Lambda's archive holds what its handler imports: the package and the contracts, nothing of the
repository besides. Its handler is imported here as Lambda imports it: from the archive's root (Lambda puts
/var/task first on the import path, https://docs.aws.amazon.com/lambda/latest/dg/python-package.html), with
the runtime's libraries (boto3) and without this checkout on the path."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pulumi
import pytest

from infra.components.python_lambda import LAMBDAS_DIR
from offline.lambda_archive import archive_files, unpack

PACKAGES = ("waker", "migrator", "waking_page")

IMPORT_HANDLER = """
import json, sys
import {package}.handler
print(json.dumps({{name: getattr(module, "__file__", None) for name, module in sys.modules.items()
                  if name.split(".")[0] in ("{package}", "contracts", "lambdas", "infra")}}))
"""


def import_handler(package: str, code: Path) -> subprocess.CompletedProcess:
    # -S: no site processing, so the checkout's editable install (a .pth file) is not on the path; the
    # libraries come from site-packages named explicitly, after the archive.
    env = {"PYTHONPATH": f"{code}:{sysconfig.get_paths()['purelib']}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_HANDLER.format(package=package)],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_the_handler_imports_from_its_archive_alone(package, tmp_path):
    code = unpack(package, tmp_path / "task")
    result = import_handler(package, code)
    assert result.returncode == 0, result.stderr[-2000:]
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert f"{package}.handler" in modules
    assert all(Path(path).is_relative_to(code) for path in modules.values() if path), modules
    assert not any(name.split(".")[0] in ("lambdas", "infra") for name in modules)


@pytest.mark.parametrize("package", PACKAGES)
def test_an_archive_without_the_contracts_fails_to_import(package, tmp_path):
    code = unpack(package, tmp_path / "task")
    assert any(name.startswith("contracts/") for name in archive_files(package))
    for path in sorted((code / "contracts").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (code / "contracts").rmdir()
    result = import_handler(package, code)
    assert result.returncode != 0
    assert "No module named 'contracts'" in result.stderr


def test_the_program_ships_these_archives_and_no_bytecode_cache(recordings):
    """What `pulumi up` uploads is what the tests above unpack: the same files under the same names. A bytecode
    cache beside the sources (Python writes one wherever they are imported) is left out: a folder archive would
    take it, since Pulumi's engine archives every file under the folder but a `.pulumi` one (readPath in
    pulumi/pulumi's sdk/go/common/resource/archive), and an asset archive's names are its members' names."""
    shipped = {}
    for function in recordings["prod"].of_type("aws:lambda/function:Function"):
        code = function.inputs["code"]
        assert isinstance(code, pulumi.AssetArchive)
        package = function.inputs["handler"].split(".")[0]
        assets = {name: asset for name, asset in code.assets.items() if isinstance(asset, pulumi.FileAsset)}
        assert assets.keys() == code.assets.keys(), "each file its own asset"
        shipped[package] = {name: asset.path for name, asset in assets.items()}
    assert set(shipped) == set(PACKAGES)
    cache = LAMBDAS_DIR / "waker" / "__pycache__"
    created = not cache.exists()
    planted = cache / "handler.cpython-313.pyc"
    cache.mkdir(exist_ok=True)
    planted.write_bytes(b"not for Lambda")
    try:
        for package in PACKAGES:
            listed = archive_files(package)
            assert shipped[package] == {name: str(path) for name, path in listed.items()}
            assert all(name.endswith(".py") and "__pycache__" not in name for name in listed), listed
    finally:
        planted.unlink()
        if created:
            cache.rmdir()
