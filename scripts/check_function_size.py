#!/usr/bin/env python3
"""Fails when a function is longer than 80 lines or more complex than mccabe 15.

Length is measured with `ast` (from the `def` line to the last line of the body, docstring included,
decorators not); complexity is ruff's C901 (the same rule `ruff check` applies through pyproject.toml).
Functions that were already over a limit when the check arrived were listed below, one entry per function,
until they were split; the lists are now empty and only shrink: a new offender fails, and so does an entry
whose function is gone or back under the limit, so the lists cannot go stale.

pyproject.toml exempts from C901 exactly the files that hold an allow-listed complex function (ruff cannot
exempt a single function without a `noqa` in the file); this script runs ruff with `--isolated` and
`--ignore-noqa`, so a new complex function in one of those files is still caught here, and it checks that
the exempted files and the allow-list name the same files.

Run from the repository root: `python scripts/check_function_size.py` (exit status 1 on a finding).
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_LINES = 80
MAX_COMPLEXITY = 15
PATHS = ("chartcoder", "tests", "benchmarks", "scripts")
# Where the length limit applies: tests keep their long end-to-end scenarios readable top to bottom.
LENGTH_PATHS = ("chartcoder", "benchmarks", "scripts")
# Generated code that nobody edits by hand is not held to the limits: a released Alembic migration is
# history and must not be rewritten to satisfy a style rule.
GENERATED = ("/migrations/versions/",)

# Known offenders, (file, qualified name). Empty since issue 17 split the last of them; never add one.
ALLOWED_LONG: frozenset[tuple[str, str]] = frozenset()
# Same rule. A file named here would also have to be exempted from C901 in pyproject.toml, and only these.
ALLOWED_COMPLEX: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Function:
    path: str  # relative to the root, with forward slashes
    name: str  # qualified: Class.method, outer.inner
    line: int
    lines: int


def _python_files(root: Path, paths: Iterable[str]) -> Iterator[Path]:
    for top in paths:
        base = root / top
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            rel = "/" + path.relative_to(root).as_posix()
            if not any(part in rel for part in GENERATED):
                yield path


def _functions_in(tree: ast.AST, path: str) -> Iterator[Function]:
    def walk(node: ast.AST, prefix: str) -> Iterator[Function]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                end = child.end_lineno or child.lineno
                yield Function(path, name, child.lineno, end - child.lineno + 1)
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def functions(root: Path, paths: Iterable[str]) -> list[Function]:
    found: list[Function] = []
    for path in _python_files(root, paths):
        rel = path.relative_to(root).as_posix()
        found.extend(_functions_in(ast.parse(path.read_text(encoding="utf-8"), filename=rel), rel))
    return found


def complex_functions(root: Path, paths: Sequence[str], ruff: str) -> set[tuple[str, str]]:
    """(file, qualified name) of every function over MAX_COMPLEXITY, as ruff's C901 counts it."""
    files = [str(path) for path in _python_files(root, paths)]
    if not files:
        return set()
    proc = subprocess.run(
        [ruff, "check", "--isolated", "--ignore-noqa", "--no-cache", "--select", "C901", "--exit-zero",
         "--config", f"lint.mccabe.max-complexity={MAX_COMPLEXITY}", "--output-format", "json", *files],
        cwd=root, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    by_line = {(f.path, f.line): f.name for f in functions(root, paths)}
    found: set[tuple[str, str]] = set()
    for item in json.loads(proc.stdout):
        rel = Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix()
        found.add((rel, by_line[(rel, item["location"]["row"])]))
    return found


def exempted_files(pyproject: Path) -> set[str]:
    """Files that pyproject.toml's ruff configuration exempts from C901."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    ignores = config.get("tool", {}).get("ruff", {}).get("lint", {}).get("per-file-ignores", {})
    return {path for path, rules in ignores.items() if "C901" in rules}


def findings(
    root: Path,
    *,
    paths: Sequence[str] = PATHS,
    length_paths: Sequence[str] = LENGTH_PATHS,
    allowed_long: frozenset[tuple[str, str]] = ALLOWED_LONG,
    allowed_complex: frozenset[tuple[str, str]] = ALLOWED_COMPLEX,
    ruff: str | None = None,
) -> list[str]:
    """Every problem as one line; empty when the tree respects the limits and the lists are exact."""
    ruff = ruff or shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    problems: list[str] = []
    long = {(f.path, f.name): f for f in functions(root, length_paths) if f.lines > MAX_LINES}
    for key in sorted(long.keys() - allowed_long):
        problems.append(f"{key[0]}:{long[key].line}: {key[1]} has {long[key].lines} lines (limit {MAX_LINES})")
    for path, name in sorted(allowed_long - long.keys()):
        problems.append(f"{path}: {name} is in ALLOWED_LONG but is not over {MAX_LINES} lines: remove the entry")
    complex_ = complex_functions(root, paths, ruff)
    for path, name in sorted(complex_ - allowed_complex):
        problems.append(f"{path}: {name} is more complex than {MAX_COMPLEXITY} (ruff C901)")
    for path, name in sorted(allowed_complex - complex_):
        problems.append(f"{path}: {name} is in ALLOWED_COMPLEX but is not over {MAX_COMPLEXITY}: remove the entry")
    pyproject = root / "pyproject.toml"
    if pyproject.exists():
        listed = {path for path, _ in allowed_complex}
        exempted = exempted_files(pyproject)
        for path in sorted(exempted - listed):
            problems.append(f"pyproject.toml exempts {path} from C901 but ALLOWED_COMPLEX names none of it")
        for path in sorted(listed - exempted):
            problems.append(f"pyproject.toml should exempt {path} from C901 while ALLOWED_COMPLEX names it")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    problems = findings(args.root)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
