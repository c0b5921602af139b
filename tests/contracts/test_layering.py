"""The rooms import downwards only: the contracts nothing of the project, the program none of the stand-in,
the rehearsal or the tools, each Lambda only itself and the contracts (its archive holds nothing else), the
image's scripts only the contracts (the image holds nothing else)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
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


def module_imports() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (at the top or inside a function), outside the tests."""
    files = {}
    for room in ROOMS - {"tests", "dags"}:
        for path in python_files(room):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            files[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            graph.setdefault(name, set()).update(t for t in targets if t in files and t != name)
    return graph


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                found.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node, [node])
    return found


def test_no_modules_import_each_other_in_a_loop():
    graph = module_imports()
    assert len(graph) > 100  # the whole project was read
    assert loops(graph) == []
    # The check finds a loop where there is one (the stand-in's server and its extensions once were one).
    assert loops({**graph, "standin.identity": {"standin.server"}})


SYS_PATH_EDIT = re.compile(r"sys\.path\s*(\.\s*(insert|append|extend|remove)\s*\(|\[[^\]]*\]\s*=|\s*[+]?=)")


def test_no_file_edits_the_import_path_and_no_setting_adds_to_it():
    edits = [
        f"{path.relative_to(ROOT)}:{number}"
        for room in sorted(ROOMS)
        for path in python_files(room)
        if path != Path(__file__).resolve()  # this file names what it looks for
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SYS_PATH_EDIT.search(line)
    ]
    assert edits == []
    assert SYS_PATH_EDIT.search("sys.path.insert(0, str(ROOT))") and SYS_PATH_EDIT.search("sys.path[:0] = [x]")
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    assert "pythonpath" not in settings["pytest"]["ini_options"]
    assert "extraPaths" not in settings["pyright"]
    assert "known-first-party" not in settings["ruff"]["lint"].get("isort", {})
