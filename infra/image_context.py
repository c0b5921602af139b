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

import ast
import hashlib
import os
import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

CONTEXT_DIR = Path(__file__).resolve().parents[1]  # the repository: the image carries contracts/ too
IMAGE_DIR = CONTEXT_DIR / "image"
DOCKERFILE = IMAGE_DIR / "Dockerfile"
TAG_HASH_LENGTH = 16


@dataclass(frozen=True)
class IgnoreRule:
    pattern: re.Pattern[str]
    keep: bool  # a `!` line puts matching paths back
    text: str  # the pattern as written, cleaned


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
            rules.append(IgnoreRule(re.compile(_glob_to_regex(path)), keep, path))
    return rules


def is_excluded(relative: str, rules: list[IgnoreRule]) -> bool:
    """Whether Docker leaves `relative` (a file path inside the context, with `/`) out of the context."""
    candidates = _folders_and_file(relative)  # a pattern that matches a folder excludes what is inside it
    excluded = False
    for rule in rules:
        if any(rule.pattern.fullmatch(c) for c in candidates):
            excluded = not rule.keep
    return excluded


def _may_keep_inside(folder: str, rules: list[IgnoreRule]) -> bool:
    """Whether a `!` line could put back something inside `folder` (its literal start reaches into it)."""
    for rule in rules:
        literal = re.split(r"[*?\[\\]", rule.text, maxsplit=1)[0]
        if rule.keep and (literal.startswith(folder + "/") or (folder + "/").startswith(literal)):
            return True
    return False


def ignore_file(context: Path, dockerfile: Path) -> Path:
    """`<Dockerfile>.dockerignore` beside the Dockerfile if there is one (BuildKit reads it first), else the
    context's `.dockerignore`."""
    beside = dockerfile.with_name(dockerfile.name + ".dockerignore")
    return beside if beside.is_file() else context / ".dockerignore"


def context_files(context: Path = CONTEXT_DIR, dockerfile: Path = DOCKERFILE) -> list[str]:
    """Every file Docker sends as the build context, relative to it, sorted. Folders excluded with nothing
    inside them put back are not walked (as Docker does): the repository's virtualenv is never read."""
    ignore = ignore_file(context, dockerfile)
    rules = ignore_rules(ignore.read_text()) if ignore.exists() else []
    files = []
    for folder, subfolders, names in os.walk(context):
        relative = Path(folder).relative_to(context).as_posix()
        prefix = "" if relative == "." else relative + "/"
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not (is_excluded(prefix + name, rules) and not _may_keep_inside(prefix + name, rules))
        )
        files += [prefix + name for name in names if not is_excluded(prefix + name, rules)]
    return sorted(files)


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


def copy_sources_missing(context: Path = CONTEXT_DIR, dockerfile: Path = DOCKERFILE) -> list[str]:
    """COPY/ADD sources that match no file of the build context after `.dockerignore` (a folder matches
    when the context keeps a file inside it)."""
    text = dockerfile.read_text()
    files = context_files(context, dockerfile)
    missing = []
    for source, _ in copy_sources(text):
        cleaned = _clean(source)
        pattern = re.compile(_glob_to_regex(cleaned))
        kept = any(pattern.fullmatch(c) for f in files for c in _folders_and_file(f)) if cleaned else bool(files)
        if not kept:
            missing.append(source)
    return missing


def image_files(context: Path = CONTEXT_DIR, dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """Path in the image -> file of the context, for what the COPY/ADD lines copy (a folder's contents go
    into the destination folder)."""
    files = context_files(context, dockerfile)
    placed: dict[str, str] = {}
    for source, destination in copy_sources(dockerfile.read_text()):
        pattern = re.compile(_glob_to_regex(_clean(source)))
        for name in files:
            if pattern.fullmatch(name):
                into_folder = destination.endswith("/")
                placed[destination + posixpath.basename(name) if into_folder else destination] = name
                continue
            folder = next((c for c in _folders_and_file(name)[:-1] if pattern.fullmatch(c)), None)
            if folder is not None:
                placed[posixpath.join(destination, name[len(folder) + 1 :])] = name
    return placed


def _imported_modules(source: str) -> set[str]:
    """Absolute imports of a Python file, with `from package import name` also as `package.name`."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def imports_missing(context: Path = CONTEXT_DIR, dockerfile: Path = DOCKERFILE) -> list[str]:
    """`<script in the image>: <module>` for each of the project's modules a script the image runs imports
    (directly or through what it imports) that the image does not hold where `python <script>` finds it:
    beside the script. Scripts are the Python files the image holds outside a package."""
    placed = image_files(context, dockerfile)
    project = {p.name for p in context.iterdir() if (p / "__init__.py").is_file()}
    scripts = [
        path
        for path in sorted(placed)
        if path.endswith(".py") and f"{posixpath.dirname(path)}/__init__.py" not in placed
    ]
    missing = []
    for script in scripts:
        root, pending, seen = posixpath.dirname(script), [script], {script}
        while pending:
            current = pending.pop()
            for module in sorted(_imported_modules((context / placed[current]).read_text())):
                if module.split(".")[0] not in project:
                    continue
                relative = module.replace(".", "/")
                candidates = (f"{relative}.py", f"{relative}/__init__.py")
                if not any((context / c).is_file() for c in candidates):
                    continue  # `from package import name` of a name that is not a module
                found = next((f"{root}/{c}" for c in candidates if f"{root}/{c}" in placed), None)
                if found is None:
                    missing.append(f"{script}: {module}")
                elif found not in seen:
                    seen.add(found)
                    pending.append(found)
    return missing


def content_tag(
    airflow_version: str,
    architecture: str,
    *,
    base_image: str = "",
    context: Path = CONTEXT_DIR,
    dockerfile: Path = DOCKERFILE,
) -> str:
    """`<airflow version>-<hash of the build context, its arguments and the architecture>`: a valid ECR tag."""
    digest = hashlib.sha256()
    for part in (f"airflow={airflow_version}", f"arch={architecture}", f"base={base_image}"):
        digest.update(part.encode() + b"\0")
    digest.update(b"Dockerfile\0" + dockerfile.read_bytes() + b"\0")
    for name in context_files(context, dockerfile):
        digest.update(name.encode() + b"\0" + (context / name).read_bytes() + b"\0")
    return f"{airflow_version}-{digest.hexdigest()[:TAG_HASH_LENGTH]}"
