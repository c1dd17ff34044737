"""ruff, mypy, the function size check (scripts/check_function_size.py) and the import layers contract
(pyproject.toml) run as part of the tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_is_clean():
    proc = subprocess.run(
        [str(BIN / "ruff"), "check", "chartcoder", "tests", "benchmarks", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean():
    proc = subprocess.run([str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _size_check():
    """scripts/check_function_size.py, loaded from its file (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("check_function_size", ROOT / "scripts" / "check_function_size.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_no_function_is_over_80_lines_or_complexity_15_beyond_the_shrinking_allow_lists():
    proc = subprocess.run(
        [sys.executable, "scripts/check_function_size.py"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_size_check_catches_a_long_function_and_a_complex_method(tmp_path):
    check = _size_check()
    body = "".join(f"    x{i} = {i}\n" for i in range(80))
    _write(tmp_path / "pkg" / "long.py", f"def long_one():\n{body}\n\ndef short_one():\n    return 1\n")
    branches = "".join(f"        if n == {i}:\n            return {i}\n" for i in range(16))
    _write(tmp_path / "pkg" / "branchy.py", f"class Router:\n    def pick(self, n):\n{branches}        return -1\n")
    _write(tmp_path / "pkg" / "migrations" / "versions" / "0001.py", f"def upgrade():\n{body}")

    problems = check.findings(tmp_path, paths=["pkg"], length_paths=["pkg"], allowed_long=frozenset(),
                              allowed_complex=frozenset())  # fmt: skip

    assert problems == [
        "pkg/long.py:1: long_one has 81 lines (limit 80)",
        "pkg/branchy.py: Router.pick is more complex than 15 (ruff C901)",
    ]


def test_the_size_check_passes_allow_listed_offenders_and_fails_on_stale_entries(tmp_path):
    check = _size_check()
    body = "".join(f"    x{i} = {i}\n" for i in range(80))
    _write(tmp_path / "pkg" / "long.py", f"def long_one():\n{body}\n\ndef short_one():\n    return 1\n")
    _write(tmp_path / "pyproject.toml", '[tool.ruff.lint.per-file-ignores]\n"pkg/gone.py" = ["C901"]\n')

    listed = check.findings(tmp_path, paths=["pkg"], length_paths=["pkg"],
                            allowed_long=frozenset({("pkg/long.py", "long_one")}),
                            allowed_complex=frozenset({("pkg/gone.py", "fn")}))  # fmt: skip

    assert listed == [
        "pkg/gone.py: fn is in ALLOWED_COMPLEX but is not over 15: remove the entry",
    ]
    stale = check.findings(tmp_path, paths=["pkg"], length_paths=["pkg"],
                           allowed_long=frozenset({("pkg/long.py", "long_one"), ("pkg/long.py", "short_one")}),
                           allowed_complex=frozenset())  # fmt: skip
    assert stale == [
        "pkg/long.py: short_one is in ALLOWED_LONG but is not over 80 lines: remove the entry",
        "pyproject.toml exempts pkg/gone.py from C901 but ALLOWED_COMPLEX names none of it",
    ]


def test_import_layers_are_kept():
    """The layers contract in pyproject.toml ([tool.importlinter]): no package imports one above it."""
    proc = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
