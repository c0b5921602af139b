"""What goes into the Airflow image's build context, and the tag that names its content.

Docker sends the build context less what `.dockerignore` excludes: patterns are paths relative to the
context (Go's filepath.Match, plus `**` for any number of folders), read in order, the last one that matches
a path (or one of its parent folders) decides, and `!` puts a path back
(https://docs.docker.com/build/concepts/context/#dockerignore-files). A COPY or ADD whose source the
context lacks fails the build, so `copy_sources_missing` is checked by the tests and by `make image`.

The image's tag is a hash of everything the build reads: the Dockerfile, every file the context keeps, the
build arguments (the Airflow version, the base image) and the architecture. An unchanged context gives the
same tag, so `pulumi up` changes no task definition when only a Lambda or a setting changed.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

IMAGE_DIR = Path(__file__).resolve().parents[1] / "image"
TAG_HASH_LENGTH = 16


@dataclass(frozen=True)
class IgnoreRule:
    pattern: re.Pattern[str]
    keep: bool  # a `!` line puts matching paths back


def _glob_to_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            # `**/` (or a trailing `**`) is any number of folders, none included.
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def ignore_rules(text: str) -> list[IgnoreRule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        path = _clean(line[1:].strip() if keep else line)
        if path:
            rules.append(IgnoreRule(re.compile(_glob_to_regex(path)), keep))
    return rules


def is_excluded(relative: str, rules: list[IgnoreRule]) -> bool:
    """Whether Docker leaves `relative` (a file path inside the context, with `/`) out of the context."""
    candidates = _folders_and_file(relative)  # a pattern that matches a folder excludes what is inside it
    excluded = False
    for rule in rules:
        if any(rule.pattern.fullmatch(c) for c in candidates):
            excluded = not rule.keep
    return excluded


def context_files(context: Path = IMAGE_DIR) -> list[str]:
    """Every file Docker sends as the build context, relative to it, sorted."""
    ignore = context / ".dockerignore"
    rules = ignore_rules(ignore.read_text()) if ignore.exists() else []
    files = (p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file())
    return sorted(f for f in files if not is_excluded(f, rules))


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, with continuation lines joined."""
    joined = re.sub(r"\\\s*\n", " ", dockerfile)
    out = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def copy_sources(dockerfile: str) -> list[tuple[str, str]]:
    """(source, destination) of every COPY/ADD from the build context (not `--from` another stage or image)."""
    pairs = []
    for instruction, rest in _instructions(dockerfile):
        if instruction not in ("COPY", "ADD"):
            continue
        words = shlex.split(rest)
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        paths = [w for w in words if not w.startswith("--")]
        *sources, destination = paths
        pairs.extend((source, destination) for source in sources)
    return pairs


def _clean(path: str) -> str:
    # Docker cleans each pattern and source like a path: no leading or trailing slash, no `./`.
    return "/".join(p for p in path.split("/") if p not in ("", "."))


def _folders_and_file(relative: str) -> list[str]:
    parts = relative.split("/")
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def copy_sources_missing(context: Path = IMAGE_DIR, dockerfile: Path | None = None) -> list[str]:
    """COPY/ADD sources that match no file of the build context after `.dockerignore` (a folder matches
    when the context keeps a file inside it)."""
    text = (dockerfile or context / "Dockerfile").read_text()
    files = context_files(context)
    missing = []
    for source, _ in copy_sources(text):
        cleaned = _clean(source)
        pattern = re.compile(_glob_to_regex(cleaned))
        kept = any(pattern.fullmatch(c) for f in files for c in _folders_and_file(f)) if cleaned else bool(files)
        if not kept:
            missing.append(source)
    return missing


def content_tag(airflow_version: str, architecture: str, *, base_image: str = "", context: Path = IMAGE_DIR) -> str:
    """`<airflow version>-<hash of the build context, its arguments and the architecture>`: a valid ECR tag."""
    digest = hashlib.sha256()
    for part in (f"airflow={airflow_version}", f"arch={architecture}", f"base={base_image}"):
        digest.update(part.encode() + b"\0")
    for name in dict.fromkeys(["Dockerfile", *context_files(context)]):
        digest.update(name.encode() + b"\0" + (context / name).read_bytes() + b"\0")
    return f"{airflow_version}-{digest.hexdigest()[:TAG_HASH_LENGTH]}"
