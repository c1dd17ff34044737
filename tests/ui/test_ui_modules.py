"""The review page's ES modules (chartcoder/ui), checked without a browser: every module parses and
the import graph links (Node.js), the pure helpers and the store behave (tests/ui/pure_helpers.mjs,
run by Node on the real modules), the graph has no cycles, the state changes only in js/store.js, no
function is over 80 lines, and index.html preloads every module. The browser tests (tests/browser)
drive the page itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chartcoder.api.page import UI_DIR

HERE = Path(__file__).resolve().parent
ENTRY = UI_DIR / "app.js"
MODULES = sorted([ENTRY, *(UI_DIR / "js").glob("*.js")])
MAX_FUNCTION_LINES = 80

IMPORT = re.compile(r'^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)";', re.M | re.S)


def rel(path: Path) -> str:
    return path.relative_to(UI_DIR).as_posix()


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if not found:
        pytest.fail("node is missing: scripts/install-test-deps installs Debian's nodejs (`make test` runs it)")
    return found


@pytest.fixture(scope="module")
def ui_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chartcoder/ui copied beside a package.json that makes Node read its .js files as ES modules
    (the browser knows from <script type="module">)."""
    dest = tmp_path_factory.mktemp("ui") / "ui"
    shutil.copytree(UI_DIR, dest, ignore=shutil.ignore_patterns("*.css", "*.html", "*.md"))
    (dest / "package.json").write_text('{"type": "module"}\n')
    return dest


def run_node(node: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    return subprocess.run([node, *args], capture_output=True, text=True, timeout=120, env=env)


def test_every_module_parses(node, ui_copy):
    failures = []
    for module in MODULES:
        proc = run_node(node, "--check", str(ui_copy / rel(module)))
        if proc.returncode:
            failures.append(f"{rel(module)}:\n{proc.stderr}")
    assert not failures, "\n".join(failures)


def test_the_import_graph_links_and_the_page_does_not_start_without_a_document(node, ui_copy):
    """Importing the entry module loads every module and checks each named import is exported; with no
    document (Node), the page does not start."""
    script = f"await import({(ui_copy / 'app.js').as_uri()!r}); console.log('linked');"
    proc = run_node(node, "--input-type=module", "-e", script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "linked"


def test_pure_helpers_and_the_store(node, ui_copy):
    proc = run_node(node, str(HERE / "pure_helpers.mjs"), str(ui_copy))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^(\d+) of \1 checks passed$", proc.stdout, re.M), proc.stdout


def import_graph() -> dict[str, list[str]]:
    graph = {}
    for module in MODULES:
        targets = IMPORT.findall(module.read_text())
        assert all(t.startswith("./") for t in targets), f"{rel(module)} imports from outside the page: {targets}"
        graph[rel(module)] = [rel((module.parent / t).resolve()) for t in targets]
    return graph


def test_every_module_is_reachable_and_there_are_no_import_cycles():
    graph = import_graph()
    assert all(t in graph for targets in graph.values() for t in targets), graph
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycles.append([*path[path.index(name) :], name])
            return
        if name in done:
            return
        for target in graph[name]:
            visit(target, [*path, name])
        done.add(name)

    visit("app.js", [])
    assert not cycles, cycles
    assert done == set(graph), f"modules nothing imports: {sorted(set(graph) - done)}"


def test_the_state_changes_only_in_the_store():
    """Other modules read `state`; they change it through the store's functions."""
    change = re.compile(
        r"\bstate(?:\.\w+|\[[^\]]+\])+\s*(?:[-+*/|&]?=(?!=)|\+\+|--)"
        r"|\bstate(?:\.\w+)+\.(?:push|pop|shift|unshift|splice|set|add|delete|clear)\("
    )
    found = []
    for module in MODULES:
        if module.name == "store.js":
            continue
        for n, line in enumerate(module.read_text().splitlines(), 1):
            if change.search(line):
                found.append(f"{rel(module)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def top_level_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines) of each top-level function: a declaration or an arrow function assigned at the top
    level, which (as the page's code is formatted) ends at the first line after it that closes at
    column 0."""
    lines = source.splitlines()
    start = re.compile(
        r"^(?:export\s+)?(?:async\s+)?function\*?\s+(\w+)"
        r"|^(?:export\s+)?const\s+(\w+)\s*=\s*(?:async\s+)?\(.*=>\s*\{$"
    )
    found = []
    for i, line in enumerate(lines):
        m = start.match(line)
        if not m or line.rstrip().endswith("}") or line.rstrip().endswith("};"):
            continue
        end = next(j for j in range(i + 1, len(lines)) if re.match(r"^[}\]]", lines[j]))
        found.append((m.group(1) or m.group(2), end - i + 1))
    return found


def test_no_function_is_over_80_lines():
    counted = {rel(m): top_level_functions(m.read_text()) for m in MODULES}
    assert sum(len(f) for f in counted.values()) > 100  # the check sees the page's functions
    long = [f"{name}: {fn} ({n} lines)" for name, fns in counted.items() for fn, n in fns if n > MAX_FUNCTION_LINES]
    assert not long, long


def test_index_loads_the_entry_module_and_preloads_every_module():
    """One module script (the entry); every module it imports is preloaded, so the browser fetches
    them all at once rather than level by level along the import graph."""
    html = (UI_DIR / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="/ui/app.js">']
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/ui/([^"]+)">', html))
    assert preloaded == {rel(m) for m in MODULES if m != ENTRY}
