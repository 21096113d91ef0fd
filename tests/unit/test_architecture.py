"""The layering of docs/DESIGN.md, checked on the source: data flows transport → core → db.

Every module under kizuna/ is parsed with `ast` (nothing is imported or executed) and each import
it makes is resolved to an absolute module name: top-level and function-level imports alike,
relative imports resolved against the importing module, `from pkg import name` counted as an import
of `pkg.name` when that is a module. Imports inside an `if TYPE_CHECKING:` block are not counted
(they never run). Then:

1. `kizuna.core` imports none of the transports or the top of the house (`kizuna.api`,
   `kizuna.realtime`, `kizuna.runtime`, `kizuna.services`, `kizuna.server`, `kizuna.cli`) nor
   aiohttp;
2. `kizuna.realtime` does not import `kizuna.api`;
3. `kizuna.wire` (Nakama's JSON conventions, shared by REST, the socket and nk) imports none of
   `kizuna.core`, `kizuna.api`, `kizuna.realtime`, `kizuna.runtime` nor aiohttp;
4. the top-level units — each subpackage of kizuna and each top-level module — import each other
   without cycles.

The layering these rules protect, bottom to top: `kizuna.errors` and `kizuna.config`; `kizuna.wire`;
`kizuna.core`; `kizuna.realtime` and `kizuna.runtime` (neither imports the other); `kizuna.api`;
`kizuna.services`, `kizuna.server`, `kizuna.cli`.

Run it as a script for a quick report of every violation (exit status 1 if any):

    .venv/bin/python tests/unit/test_architecture.py
"""

from __future__ import annotations

import ast
import functools
import itertools
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "kizuna"

# (importing package, forbidden imports, why): a module matches a name when it is that module or
# inside it (`kizuna.api` matches `kizuna.api.storage`, not `kizuna.apiary`).
RULES: list[tuple[str, tuple[str, ...], str]] = [
    ("kizuna.core",
     ("kizuna.api", "kizuna.realtime", "kizuna.runtime", "kizuna.services", "kizuna.server",
      "kizuna.cli", "aiohttp"),
     "core/ owns the rules and the SQL; it knows no transport, no runtime and no HTTP"),
    ("kizuna.realtime", ("kizuna.api",),
     "the socket does not go through the REST transport; both call core/"),
    ("kizuna.wire",
     ("kizuna.core", "kizuna.api", "kizuna.realtime", "kizuna.runtime", "aiohttp"),
     "wire/ is the JSON conventions under every transport and core/; it depends on none of them"),
]


@dataclass(frozen=True)
class Import:
    importer: str  # absolute module name of the importing module
    target: str  # absolute module name imported
    path: Path  # file of the importing module
    line: int
    statement: str  # the import statement as written

    def __str__(self) -> str:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{where}:{self.line}: {self.importer} imports {self.target}  [{self.statement}]"


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(package_dir: Path) -> dict[str, Path]:
    """Absolute module name -> file, for every module of the package."""
    root = package_dir.parent
    return {module_name(p, root): p for p in sorted(package_dir.rglob("*.py"))
            if "__pycache__" not in p.parts}


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: anywhere, except in `if TYPE_CHECKING:` bodies."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)  # the `else:` of `if TYPE_CHECKING:` runs
            continue
        stack.extend(ast.iter_child_nodes(node))


def resolve(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool,
            known: set[str]) -> list[str]:
    """The absolute module names an import statement imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        parts = importer.split(".") if is_package else importer.split(".")[:-1]
        if node.level - 1 > len(parts) - 1:
            raise ValueError(f"relative import beyond the top-level package in {importer}")
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        targets.append(sub if alias.name != "*" and sub in known else base)
    return list(dict.fromkeys(targets))


def scan(package_dir: Path | None = None) -> list[Import]:
    """Every runtime import made by every module of the package."""
    modules = discover(package_dir or ROOT / PACKAGE)
    known = set(modules)
    found: list[Import] = []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            raise AssertionError(f"{path}:{exc.lineno}: cannot parse: {exc.msg}") from None
        is_package = path.name == "__init__.py"
        lines = source.splitlines(keepends=True)
        for node in _import_nodes(tree):
            # The statement's own lines (ast.get_source_segment splits the whole file per call).
            text = "".join(lines[node.lineno - 1:node.end_lineno or node.lineno])
            statement = " ".join(text.split()) or ast.unparse(node)
            for target in resolve(node, name, is_package, known):
                found.append(Import(name, target, path, node.lineno, statement))
    return sorted(found, key=lambda i: (str(i.path), i.line, i.target))


def rule_violations(imports: list[Import]) -> list[str]:
    out = []
    for package, forbidden, why in RULES:
        bad = [i for i in imports
               if within(i.importer, package) and any(within(i.target, f) for f in forbidden)]
        if bad:
            out.append(f"{package} must not import {', '.join(forbidden)} ({why}):")
            out.extend(f"  {i}" for i in bad)
    return out


def unit_of(module: str) -> str | None:
    """`kizuna.core.storage` -> `kizuna.core`; None outside the package. The package's own
    `__init__` is the unit `kizuna`."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return ".".join(parts[:2])


def unit_graph(imports: list[Import]) -> dict[str, dict[str, list[Import]]]:
    """unit -> imported unit -> the imports that make that edge."""
    graph: dict[str, dict[str, list[Import]]] = defaultdict(lambda: defaultdict(list))
    for i in imports:
        a, b = unit_of(i.importer), unit_of(i.target)
        if a and b and a != b:
            graph[a][b].append(i)
    return graph


def strongly_connected(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one unit (each holds a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    nodes = sorted(set(graph) | {b for edges in graph.values() for b in edges})

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return sorted(components)


def cycles(graph: dict[str, dict[str, list[Import]]], limit: int = 50) -> list[list[str]]:
    """Elementary cycles (each listed once, from its smallest unit), shortest first."""
    found: list[list[str]] = []
    for component in strongly_connected(graph):
        members = set(component)
        for start in component:
            # cycles through `start` over units greater than it: each cycle found exactly once
            def walk(path: list[str], start: str = start, members: set[str] = members) -> None:
                for w in sorted(graph.get(path[-1], {})):
                    if w == start:
                        found.append([*path, start])
                    elif w in members and w > start and w not in path and len(found) < limit:
                        walk([*path, w])

            walk([start])
    return sorted(found, key=lambda c: (len(c), c))[:limit]


def cycle_violations(imports: list[Import]) -> list[str]:
    graph = unit_graph(imports)
    components = strongly_connected(graph)
    if not components:
        return []
    out = [f"top-level units import each other in a cycle ({len(components)} group(s)):"]
    for component in components:
        out.append(f"  units in one cycle group: {', '.join(component)}")
    for cycle in cycles(graph):
        out.append("  cycle: " + " -> ".join(cycle))
        for a, b in itertools.pairwise(cycle):
            edge = graph[a][b]
            out.append(f"    {a} -> {b}: {edge[0]}"
                       + (f" (and {len(edge) - 1} more)" if len(edge) > 1 else ""))
    return out


# -- the tests -------------------------------------------------------------------------------


@functools.cache
def _package() -> tuple[Import, ...]:
    """The scan of kizuna/ itself, made once for the tests that read it."""
    return tuple(scan())


def _fail_with(lines: list[str]) -> None:
    if lines:
        import pytest

        pytest.fail("\n".join(lines), pytrace=False)


def test_the_scan_sees_the_package() -> None:
    imports = _package()
    assert any(i.importer.startswith("kizuna.") for i in imports)
    assert {"kizuna.config", "kizuna.core"} <= {unit_of(i.importer) for i in imports}


def test_relative_and_type_checking_imports_are_resolved_as_python_would(tmp_path: Path) -> None:
    pkg = tmp_path / "kizuna"
    (pkg / "core").mkdir(parents=True)
    (pkg / "api").mkdir()
    for f in ("__init__.py", "core/__init__.py", "core/storage.py", "api/__init__.py",
              "api/errors.py", "config.py"):
        (pkg / f).write_text("")
    (pkg / "core" / "storage.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from .. import config\n"
        "from . import storage as _self\n"
        "from ..api.errors import E\n"
        "if TYPE_CHECKING:\n"
        "    import aiohttp\n"
        "else:\n"
        "    import json\n"
        "def late():\n"
        "    from kizuna.api import errors\n")
    (pkg / "core" / "__init__.py").write_text("from .storage import x\n")
    got = {(i.importer, i.target, i.line) for i in scan(pkg)}
    assert got == {
        ("kizuna.core.storage", "typing", 1),
        ("kizuna.core.storage", "kizuna.config", 2),
        ("kizuna.core.storage", "kizuna.core.storage", 3),
        ("kizuna.core.storage", "kizuna.api.errors", 4),
        ("kizuna.core.storage", "json", 8),
        ("kizuna.core.storage", "kizuna.api.errors", 10),
        ("kizuna.core", "kizuna.core.storage", 1),
    }
    assert len(rule_violations(scan(pkg))) == 3  # header + the two imports of kizuna.api


def test_a_cycle_between_units_is_found_and_printed(tmp_path: Path) -> None:
    pkg = tmp_path / "kizuna"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("def f():\n    from kizuna import b\n")
    (pkg / "b.py").write_text("import kizuna.c\n")
    (pkg / "c.py").write_text("from kizuna.a.x import f\n")
    (pkg / "d.py").write_text("import kizuna.c\n")
    report = cycle_violations(scan(pkg))
    assert "  cycle: kizuna.a -> kizuna.b -> kizuna.c -> kizuna.a" in report
    assert "  units in one cycle group: kizuna.a, kizuna.b, kizuna.c" in report


def test_core_imports_no_transport_runtime_or_aiohttp() -> None:
    _fail_with(rule_violations([i for i in _package() if within(i.importer, "kizuna.core")]))


def test_realtime_does_not_import_api() -> None:
    _fail_with(rule_violations([i for i in _package() if within(i.importer, "kizuna.realtime")]))


def test_wire_imports_nothing_above_it() -> None:
    _fail_with(rule_violations([i for i in _package() if within(i.importer, "kizuna.wire")]))


def test_top_level_units_have_no_import_cycles() -> None:
    _fail_with(cycle_violations(list(_package())))


def main() -> int:
    imports = scan()
    problems = rule_violations(imports) + cycle_violations(imports)
    print("\n".join(problems) if problems else
          f"architecture: OK ({len(discover(ROOT / PACKAGE))} modules, {len(imports)} imports)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
