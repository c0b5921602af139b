"""The rooms import downwards only: the contracts nothing of the project, the program none of the stand-in,
the rehearsal or the tools, each Lambda only itself and the contracts (its archive holds nothing else), the
image's scripts only the contracts (the image holds nothing else)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each room and the rooms it may import (besides itself), bottom to top.
MAY_IMPORT: dict[str, set[str]] = {
    "contracts": set(),
    "infra": {"contracts"},
    "lambdas": {"contracts"},
    "image": {"contracts"},
    "dags": set(),
    "offline": {"contracts", "infra"},
    "standin": {"contracts", "infra", "lambdas", "offline"},
    "costs": {"contracts", "infra", "lambdas", "offline"},
    "airflow_stack": {"contracts", "infra", "offline"},
    "devtools": {"contracts", "infra", "lambdas", "image", "offline", "standin", "airflow_stack"},
    "rehearsal": {"contracts", "infra", "lambdas", "image", "offline", "standin", "airflow_stack", "devtools"},
    "tests": set(),  # anything
}
ROOMS = set(MAY_IMPORT)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(level, module) of every import in a file; level > 0 for relative ones."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def python_files(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


def test_every_package_of_the_repository_is_a_room():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == ROOMS - {"dags"}, "a new top-level package needs its place in MAY_IMPORT (and the README)"


@pytest.mark.parametrize("room", sorted(ROOMS - {"tests"}))
def test_a_room_imports_only_the_rooms_below_it(room):
    upward = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(room)
        for level, module in imports_of(path)
        if level == 0 and module.split(".")[0] in ROOMS - {room} - MAY_IMPORT[room]
    ]
    assert upward == []


def test_the_contracts_use_the_standard_library_only():
    outside = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files("contracts")
        for level, module in imports_of(path)
        if level == 0
        and module.split(".")[0] not in sys.stdlib_module_names
        and module.split(".")[0] not in {"contracts", "__future__"}
    ]
    assert outside == []


@pytest.mark.parametrize("package", ["waker", "migrator", "waking_page"])
def test_a_lambda_imports_itself_relatively_and_the_contracts(package):
    # Absolute imports of `lambdas.<package>` would not resolve in Lambda, where the archive holds
    # `<package>/` and `contracts/` at its root (infra/components/python_lambda.py).
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(f"lambdas/{package}")
        for level, module in imports_of(path)
        if level == 0 and module.split(".")[0] in ROOMS - {"contracts"}
    ]
    assert wrong == []


def test_the_rule_catches_an_upward_import(tmp_path):
    # The check reads what a file imports, however it is written.
    program = tmp_path / "component.py"
    program.write_text("import pulumi\nfrom standin import seed\nif True:\n    import devtools.dev\n")
    rooms = {module.split(".")[0] for level, module in imports_of(program) if level == 0} & ROOMS
    assert rooms - MAY_IMPORT["infra"] == {"standin", "devtools"}
