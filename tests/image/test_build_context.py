"""Every COPY/ADD source of image/Dockerfile is in the build context that `.dockerignore` leaves, and every
module of the project a script of the image imports is in the image beside it.

Docker's rules (https://docs.docker.com/build/concepts/context/#dockerignore-files): patterns are paths
relative to the context root matched with Go's filepath.Match rules plus `**`; lines are read in order and the
last line that matches a path decides; `!` makes an exception; a pattern that matches a folder excludes what is
inside it. A COPY whose source the context lacks fails the build, and with it every task of the stack.
`COPY <folder>/ <destination>/` copies the folder's contents (https://docs.docker.com/reference/dockerfile/#copy).
A script run as `python <file>` imports from its own folder first
(https://docs.python.org/3/library/sys_path_init.html): the contracts the image's scripts import sit there.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from infra.image_context import (
    CONTEXT_DIR,
    DOCKERFILE,
    IMAGE_DIR,
    content_tag,
    context_files,
    copy_sources,
    copy_sources_missing,
    ignore_rules,
    imports_missing,
    is_excluded,
)
from tests.support.build_context import copied_context


def test_every_copy_source_of_the_dockerfile_is_in_the_build_context():
    assert copy_sources_missing() == []
    # And the Dockerfile copies something: a parser that found no COPY would pass the line above.
    assert {s for s, _ in copy_sources(DOCKERFILE.read_text())} >= {
        "image/requirements.txt",
        "image/activity_reporter.py",
        "image/restore_guard.py",
        "image/worker_protection.py",
        "contracts/",
    }


def test_every_builder_reads_the_same_rules():
    # BuildKit reads image/Dockerfile.dockerignore; buildah and Docker's classic builder the context's own.
    root = CONTEXT_DIR / ".dockerignore"
    assert root.is_symlink() and root.resolve() == (IMAGE_DIR / "Dockerfile.dockerignore").resolve()


def test_the_context_is_what_the_dockerfile_copies_and_nothing_else():
    kept = context_files()
    assert {name.split("/")[0] for name in kept} == {"image", "contracts"}
    assert not any("__pycache__" in name or name.startswith("image/base/") for name in kept)


def test_a_dockerignore_that_drops_a_copy_source_is_caught(tmp_path: Path):
    context = copied_context(tmp_path)
    dockerfile = context / "image" / "Dockerfile"
    # The file as it was when the image could not build: worker_protection.py was never put back.
    (context / "image" / "Dockerfile.dockerignore").write_text(
        "*\n!image/requirements.txt\n!image/activity_reporter.py\n!image/restore_guard.py\n!contracts/*.py\n"
    )
    assert "image/worker_protection.py" in copy_sources_missing(context, dockerfile)
    # And each exception of today's file, taken out, is named.
    lines = (IMAGE_DIR / "Dockerfile.dockerignore").read_text().splitlines()
    exceptions = [line for line in lines if line.startswith("!")]
    assert len(exceptions) >= 6
    for dropped in exceptions:
        (context / "image" / "Dockerfile.dockerignore").write_text(
            "\n".join(line for line in lines if line != dropped) + "\n"
        )
        expected = "contracts/" if dropped == "!contracts/*.py" else dropped[1:]
        assert copy_sources_missing(context, dockerfile) == [expected]


def test_every_project_module_a_script_of_the_image_imports_is_beside_it():
    assert imports_missing() == []
    # The reporter and the restore guard import the contracts (metric names, task states).
    assert "/opt/airflow/activity_reporter.py: contracts.metrics" not in imports_missing()


def test_an_image_without_the_contracts_its_scripts_import_is_caught(tmp_path: Path):
    context = copied_context(tmp_path)
    dockerfile = context / "image" / "Dockerfile"
    text = dockerfile.read_text()
    assert "COPY contracts/ /opt/airflow/contracts/\n" in text
    dockerfile.write_text(text.replace("COPY contracts/ /opt/airflow/contracts/\n", ""))
    assert copy_sources_missing(context, dockerfile) == []  # every COPY still has its source
    missing = imports_missing(context, dockerfile)
    assert "/opt/airflow/activity_reporter.py: contracts" in missing
    assert "/opt/airflow/restore_guard.py: contracts.metrics" in missing
    # Copied to another folder than the scripts', the contracts are not where `python <script>` looks.
    dockerfile.write_text(text.replace("/opt/airflow/contracts/", "/opt/contracts/"))
    assert "/opt/airflow/activity_reporter.py: contracts.metrics" in imports_missing(context, dockerfile)
    # And a module of the contracts that another imports, left out, is named through the chain.
    (context / "image" / "Dockerfile.dockerignore").write_text(
        (IMAGE_DIR / "Dockerfile.dockerignore")
        .read_text()
        .replace("!contracts/*.py", "!contracts/__init__.py\n!contracts/metrics.py")
    )
    dockerfile.write_text(text)
    (context / "image" / "activity_reporter.py").write_text(
        (context / "image" / "activity_reporter.py").read_text() + "\nfrom contracts.waker import WakerSettings\n"
    )
    assert imports_missing(context, dockerfile) == ["/opt/airflow/activity_reporter.py: contracts.waker"]


def test_the_local_base_context_keeps_what_its_dockerfile_copies():
    base = IMAGE_DIR / "base"
    missing = set(copy_sources_missing(base, base / "Dockerfile"))
    # constraints.txt is exported from uv.lock into the build folder by `make image`, not kept in the tree.
    assert missing == {"constraints.txt"}


def test_dockerignore_rules_as_docker_documents_them():
    rules = ignore_rules("# comment\n*.md\n!README*.md\nREADME-secret.md\n**/*.pyc\n/build/\ntemp?\n")
    assert is_excluded("notes.md", rules)
    assert not is_excluded("README.md", rules)  # the exception
    assert is_excluded("README-secret.md", rules)  # the last match wins
    assert is_excluded("a/b/c.pyc", rules) and is_excluded("c.pyc", rules)  # ** is zero or more folders
    assert is_excluded("build/x/y.txt", rules)  # a folder's pattern excludes its contents; slashes are cleaned
    assert is_excluded("tempa", rules) and not is_excluded("tempab", rules)
    assert not is_excluded("docs/notes.md", rules)  # `*` does not cross a folder


names = st.from_regex(r"[a-z]{1,6}(\.[a-z]{1,3})?", fullmatch=True)
paths = st.lists(names, min_size=1, max_size=4).map("/".join)
patterns = st.one_of(paths, names.map(lambda n: f"*{n[-2:]}"), paths.map(lambda p: f"**/{p.rsplit('/', 1)[-1]}"))


@given(st.lists(st.tuples(st.booleans(), patterns), max_size=6), paths)
def test_the_last_matching_line_decides(lines, path):
    text = "\n".join(("!" if keep else "") + p for keep, p in lines)
    # A final line naming the path itself decides, whatever came before.
    assert is_excluded(path, ignore_rules(text + f"\n{path}"))
    assert not is_excluded(path, ignore_rules(text + f"\n!{path}"))
    # `*` then `!path` keeps exactly that path and what is inside it, of the paths tried.
    keep_one = ignore_rules(f"*\n!{path}")
    assert not is_excluded(path, keep_one)
    assert is_excluded(path + "x", keep_one) or (path + "x").startswith(path + "/")


def test_the_tag_changes_with_the_context_and_nothing_else(tmp_path: Path):
    context = copied_context(tmp_path)
    dockerfile = context / "image" / "Dockerfile"
    tag = content_tag("3.3.2", "arm64", context=context, dockerfile=dockerfile)
    assert tag == content_tag("3.3.2", "arm64")  # the copy is the context
    assert tag.startswith("3.3.2-") and len(tag) <= 128  # an ECR tag is at most 128 characters
    (context / "notes.txt").write_text("left out by .dockerignore")
    (context / "lambdas").mkdir()
    (context / "lambdas" / "handler.py").write_text("# a Lambda's code is not the image's")
    assert content_tag("3.3.2", "arm64", context=context, dockerfile=dockerfile) == tag
    assert "notes.txt" not in context_files(context, dockerfile)
    assert content_tag("3.3.2", "x86_64", context=context, dockerfile=dockerfile) != tag
    assert content_tag("3.3.3", "arm64", context=context, dockerfile=dockerfile) != tag
    reporter = context / "image" / "activity_reporter.py"
    reporter.write_text(reporter.read_text() + "\n# changed\n")
    changed = content_tag("3.3.2", "arm64", context=context, dockerfile=dockerfile)
    assert changed != tag
    metrics = context / "contracts" / "metrics.py"
    metrics.write_text(metrics.read_text() + "\n# changed\n")
    assert content_tag("3.3.2", "arm64", context=context, dockerfile=dockerfile) != changed
    dockerfile.write_text(dockerfile.read_text() + "\n# changed\n")
    assert content_tag("3.3.2", "arm64", context=context, dockerfile=dockerfile) not in (tag, changed)
