"""Every COPY/ADD source of image/Dockerfile is in the build context that `.dockerignore` leaves.

Docker's rules (https://docs.docker.com/build/concepts/context/#dockerignore-files): patterns are paths
relative to the context root matched with Go's filepath.Match rules plus `**`; lines are read in order and the
last line that matches a path decides; `!` makes an exception; a pattern that matches a folder excludes what is
inside it. A COPY whose source the context lacks fails the build, and with it every task of the stack.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from image_context import (
    IMAGE_DIR,
    content_tag,
    context_files,
    copy_sources,
    copy_sources_missing,
    ignore_rules,
    is_excluded,
)


def test_every_copy_source_of_the_dockerfile_is_in_the_build_context():
    assert copy_sources_missing() == []
    # And the Dockerfile copies something: a parser that found no COPY would pass the line above.
    assert {s for s, _ in copy_sources((IMAGE_DIR / "Dockerfile").read_text())} >= {
        "requirements.txt",
        "activity_reporter.py",
        "restore_guard.py",
        "worker_protection.py",
    }


def test_a_dockerignore_that_drops_a_copy_source_is_caught(tmp_path: Path):
    context = tmp_path / "image"
    shutil.copytree(IMAGE_DIR, context, ignore=shutil.ignore_patterns("__pycache__", "base"))
    # The file as it was when the image could not build: worker_protection.py was never put back.
    (context / ".dockerignore").write_text("*\n!requirements.txt\n!activity_reporter.py\n!restore_guard.py\n")
    assert "worker_protection.py" in copy_sources_missing(context)
    # And each exception of today's file, taken out, is named.
    lines = (IMAGE_DIR / ".dockerignore").read_text().splitlines()
    exceptions = [line for line in lines if line.startswith("!")]
    assert len(exceptions) >= 5
    for dropped in exceptions:
        (context / ".dockerignore").write_text("\n".join(line for line in lines if line != dropped) + "\n")
        assert copy_sources_missing(context) == [dropped[1:]]


def test_the_local_base_context_keeps_what_its_dockerfile_copies():
    base = IMAGE_DIR / "base"
    missing = set(copy_sources_missing(base))
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
    context = tmp_path / "image"
    shutil.copytree(IMAGE_DIR, context, ignore=shutil.ignore_patterns("__pycache__", "base"))
    tag = content_tag("3.3.2", "arm64", context=context)
    assert tag.startswith("3.3.2-") and len(tag) <= 128  # an ECR tag is at most 128 characters
    assert content_tag("3.3.2", "arm64", context=context) == tag
    (context / "notes.txt").write_text("left out by .dockerignore")
    assert content_tag("3.3.2", "arm64", context=context) == tag
    assert content_tag("3.3.2", "x86_64", context=context) != tag
    assert content_tag("3.3.3", "arm64", context=context) != tag
    (context / "activity_reporter.py").write_text((context / "activity_reporter.py").read_text() + "\n# changed\n")
    assert content_tag("3.3.2", "arm64", context=context) != tag
    assert "notes.txt" not in context_files(context)
