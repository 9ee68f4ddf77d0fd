"""The repository stands alone: no tracked file refers to a path outside it.

A clone with nothing beside it must build, run and test. So no tracked file may name
- an absolute path into a workspace, home or scratch folder (``/work/...``, ``/home/...``, ``/tmp/...``,
  the folder this checkout lives in, ...), or a home-relative one (``~/...``);
- a relative path whose ``..`` climbs above the repository root (``../shared``), resolved from the
  file's own folder and, for code (which runs with the repository root as working directory), from the
  root too;
- ``Path(__file__)``'s ``parents[N]`` or ``.parent`` chain past the repository root.

Operating-system locations that exist on every machine (``/dev/null``, ``/proc``, ``/usr/bin/env``,
``/etc/systemd/system``) and example install locations in documentation (``/srv/...``) are fine, and so
are URL paths (``/v1/invoices``), because their first segment is none of the outside roots below.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from stand_ins.processes import REPO_ROOT

# First segments of absolute paths that point into somebody's machine rather than into the OS.
OUTSIDE_ROOTS = frozenset(
    {
        "home", "Users", "root", "work", "workspace", "workspaces", "mnt", "media", "opt", "tmp", "var",
        "private", "Volumes", "data", "scratch", "shared", "builds", "runner", "github", "srv-shared",
    }
)  # fmt: skip
SELF = "tests/project/test_self_contained.py"
# Files whose slashes are not file system paths.
NOT_PATHS = frozenset({".gitignore"})  # gitignore patterns are relative to the repository by definition
IGNORED_DIRS = {
    ".git",
    ".venv",
    ".meltano",
    "benchmarks/.venvs",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}

_SEG = r"[A-Za-z0-9_.@+-]+"
ABSOLUTE = re.compile(rf"(?<![\w.~:/@%$\]\)>-])/{_SEG}(?:/{_SEG})*/?")
HOME = re.compile(rf"(?<![\w.])~/{_SEG}")
# A relative path with at least one ".." segment (not an ellipsis).
DOTDOT = re.compile(rf"(?<![\w.])(?:(?:{_SEG}/)*\.\.(?=/|\b|$|[\"'`\s)])(?:/(?:{_SEG}|\.\.))*)")
FILE_ANCHORED = re.compile(r"(dirname\s+\"?\$(?:0|\{BASH_SOURCE\[0\]\})\"?\)|__file__\S*)\s*/\s*$")
PARENTS = re.compile(r"__file__\)(?:\.resolve\(\))?((?:\.parent(?!s))*)(?:\.parents\[(\d+)\])?")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r} ({self.why})"


def _climbs_out(relative: str, base: PurePosixPath) -> bool:
    """True when ``relative`` (with ``..`` segments) leaves the root, starting in ``base`` (root-relative)."""
    depth = len(base.parts)
    for segment in relative.split("/"):
        if segment == "..":
            depth -= 1
            if depth < 0:
                return True
        elif segment not in ("", "."):
            depth += 1
    return False


def scan_text(rel_path: str, text: str, checkout: Path | None = None) -> list[Finding]:
    """Every reference in one file's text to a path outside the repository."""
    found: list[Finding] = []
    folder = PurePosixPath(rel_path).parent
    folder = PurePosixPath() if str(folder) == "." else folder
    is_doc = rel_path.endswith((".md", ".txt"))
    outside_prefixes = [str(p) for p in ((checkout, *checkout.parents) if checkout else ()) if str(p) != "/"]
    for number, line in enumerate(text.splitlines(), 1):
        if rel_path not in NOT_PATHS:
            for match in ABSOLUTE.finditer(line):
                token = match.group(0)
                first = token.strip("/").split("/", 1)[0]
                if first in OUTSIDE_ROOTS:
                    found.append(Finding(rel_path, number, token, "absolute path outside the repository"))
                elif any(token == p or token.startswith(p + "/") for p in outside_prefixes):
                    found.append(
                        Finding(rel_path, number, token, "absolute path of this checkout or its parent")
                    )
            for match in HOME.finditer(line):
                found.append(Finding(rel_path, number, match.group(0), "home-relative path"))
        for match in DOTDOT.finditer(line):
            token = match.group(0)
            if rel_path.endswith(".py") and re.search(r"\bfrom\s+$", line[: match.start()]):
                continue  # a relative import (from ..common import x), not a path
            anchored = bool(FILE_ANCHORED.search(line[: match.start()]))
            bases = [folder] if (is_doc or anchored) else [folder, PurePosixPath()]
            if any(_climbs_out(token, base) for base in bases):
                found.append(Finding(rel_path, number, token, "'..' climbs above the repository root"))
        if rel_path.endswith(".py"):
            for match in PARENTS.finditer(line):
                ups = match.group(1).count(".parent") + (int(match.group(2)) + 1 if match.group(2) else 0)
                # Path(__file__) is the file; going up len(parts) levels reaches the root.
                if ups > len(PurePosixPath(rel_path).parts):
                    found.append(
                        Finding(rel_path, number, match.group(0), "climbs above the repository root")
                    )
    return found


def tracked_files(root: Path) -> list[str]:
    """The repository's files: git's list in a checkout, else every file outside tool folders."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        return [name for name in out.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for folder, dirs, files in os.walk(root):
            rel = Path(folder).relative_to(root).as_posix()
            dirs[:] = [d for d in dirs if (f"{rel}/{d}" if rel != "." else d) not in IGNORED_DIRS]
            names += [(Path(rel) / f).as_posix() if rel != "." else f for f in files]
        return names


def test_no_tracked_file_refers_outside_the_repository() -> None:
    checkout = REPO_ROOT.resolve()
    findings: list[Finding] = []
    files = tracked_files(checkout)
    assert SELF in files  # the listing really is this repository
    for name in files:
        if name == SELF:
            continue  # its examples of what is refused
        path = checkout / name
        if not path.is_file():
            continue  # deleted in the work tree
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        findings += scan_text(name, data.decode("utf-8", errors="replace"), checkout)
    assert not findings, "paths outside the repository:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize(
    ("rel_path", "line"),
    [
        ("tests/tap/payloads.py", 'FIXTURES = Path("/work/shared/stripe-fixtures/fixtures.json")'),
        ("README.md", "Team reference material lives in ../shared/SPEC.md."),
        ("scripts/x.sh", 'cp "$HOME"/x ~/notes.txt'),
        ("tests/tap/payloads.py", 'FIXTURES = Path(__file__).resolve().parents[3] / "shared"'),
        ("tests/tap/payloads.py", "ROOT = Path(__file__).parent.parent.parent.parent"),
        ("benchmarks/run.py", 'spec = open("../shared/SPEC.md")'),
        ("tests/e2e/conftest.py", 'DATA = "data/../../outside"'),
        ("scripts/test.sh", 'cd "$(dirname "$0")/../.."'),
        ("benchmarks/x.py", 'CACHE = "/tmp/stripe-cache.json"'),
        ("docs/a.md", "see [the spec](../../SPEC.md)"),
    ],
)
def test_the_scanner_sees_outside_references(rel_path: str, line: str) -> None:
    assert scan_text(rel_path, line), line


def test_the_scanner_allows_references_inside_and_to_the_os(tmp_path: Path) -> None:
    fine = "\n".join(
        [
            'cd "$(dirname "$0")/.."',
            'ROOT = Path(__file__).resolve().parents[2] / "stripe-fixtures"',
            "GET /v1/invoices/{id}/lines and /_standin/advance",
            "write to /dev/null or /proc/journal.sqlite; #!/usr/bin/env bash",
            "cp units /etc/systemd/system/ ; cd /srv/stripe-km",
            "https://api.stripe.com/v1/invoices and 127.0.0.1:12111/_standin/clock",
            "see [the README](../README.md) ... and so on...",
            "from ..common import StandInServer",
        ]
    )
    assert scan_text("tests/tap/example.py", fine.replace("../README.md", "README.md")) == []
    assert scan_text("benchmarks/README.md", fine) == []
    checkout = tmp_path / "clone"
    assert scan_text("x.py", f'P = "{tmp_path}/elsewhere"', checkout)
    assert scan_text("x.py", f'P = "{checkout}/README.md"', checkout)
