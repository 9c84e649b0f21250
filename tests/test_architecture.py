"""The shape of ``pxehook/``, held by a test: layers, no cycles, no hidden imports, small files.

The import graph is read with ``ast`` (nothing is imported), so a violation is found even in
code no other test runs. Every failure message says what to do.

Rules:
(a) no import cycle between units (a unit is a package such as ``boot/`` or a top-level module
    such as ``arch``), nor between two modules of one package;
(b) imports run downwards in ``LAYERS`` (an import within one layer is allowed unless the layer
    is marked independent);
(c) every import of a pxehook module sits at the top level of its module -- not in a function,
    a class body, an ``if``/``try`` block (``TYPE_CHECKING`` included). Optional third-party
    imports (psycopg) may stay lazy. The only dynamic imports allowed are the two registries in
    ``DYNAMIC_IMPORTS``: a fixed, literal list of the package's own submodules, checked here;
(d) no module in pxehook/ is longer than ``MAX_LINES`` lines;
(e) docs/architecture.md's "Modules" table names every unit and module in pxehook/ (and
    nothing else), each with the layer this file gives it.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pxehook"
ARCH_DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 450
THIS = "tests/test_architecture.py"


@dataclass(frozen=True)
class Layer:
    """A rung of the layer ladder: units here may import units of lower layers only."""

    name: str
    units: tuple[str, ...]
    #: False: the units of this layer may not import each other (they are peers).
    siblings_may_import: bool = True


#: Registries whose submodule names are the daemon registry's names, not a literal here.
DAEMON_REGISTRY = "pxehook.daemons.NAMES"


#: The layer table, lowest first. A unit is a top-level module (``arch``, ``wiring``) or a
#: package (``boot``); ``__init__`` is ``pxehook/__init__.py`` (the version). A new top-level
#: module or package must be added here *and* to the table in docs/architecture.md.
LAYERS: tuple[Layer, ...] = (
    # The ground: records, rules and identities everyone shares; no I/O beyond files.
    Layer(
        "ground",
        (
            "__init__",
            "errors",
            "models",
            "mac",
            "textsafe",
            "arch",
            "archsource",
            "config",
            "daemons",
            "fswatch",
            "children",
            "counters",
            "servicestatus",
            "fsmodes",
        ),
    ),
    Layer("store", ("store",)),
    # What a process holds (settings + store), API tokens, the Jinja environment.
    Layer("context", ("context", "tokens", "templating", "fleet")),
    Layer("boot", ("boot",)),
    Layer("lifecycle", ("lifecycle",)),
    Layer("capture", ("capture",)),
    # Two producers that feed the store / the DHCP daemons; peers, not each other's users.
    Layer("producers", ("inventory", "gen"), siblings_may_import=False),
    Layer("wiring", ("wiring", "bootfiles", "explain")),
    Layer("edges", ("services", "tftp", "web")),
    Layer("cli", ("cli", "__main__")),
)

#: Modules that load their own package's submodules by name, with the constant listing them.
#: Allowed because the list is a literal tuple of that package's submodules (checked below)
#: and each loaded module registers itself with its package (a blueprint, a click group).
DYNAMIC_IMPORTS: dict[str, str] = {
    "pxehook.web": "BLUEPRINTS",
    "pxehook.cli.root": "COMMAND_MODULES",
    # one module per registered DHCP daemon, found by the daemon's name (pxehook/daemons.py)
    "pxehook.gen": DAEMON_REGISTRY,
    "pxehook.capture.readers": DAEMON_REGISTRY,
}


# --- reading the tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import of a pxehook module found in the source."""

    source: str  # importing module, dotted
    target: str  # imported module, dotted
    path: str  # file of ``source``, relative to the repository
    line: int
    top_level: bool  # a direct statement of the module body


def modules_of(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``package``."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def unit_of(module: str) -> str:
    """``pxehook.boot.decide`` -> ``boot``; ``pxehook`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, known: dict[str, Path], root: Path) -> list[Import]:
    """Every import of a module in ``known`` made by ``module`` (at any depth of its body)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = {id(stmt) for stmt in tree.body}
    rel = str(path.relative_to(root))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        for target in targets:
            # ``import pxehook.a.b`` needs pxehook.a.b; keep the longest known prefix.
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts:
                found.append(Import(module, ".".join(parts), rel, node.lineno, id(node) in top))
    return found


def import_graph(package: Path = PACKAGE) -> tuple[dict[str, Path], list[Import]]:
    """All modules of ``package`` and every import between them."""
    known = modules_of(package)
    edges = []
    for module, path in known.items():
        edges += imports_of(module, path, known, package.parent)
    return known, edges


# --- the checks (each returns messages; empty means fine) --------------------------------------


def _layer_index(layers: tuple[Layer, ...]) -> dict[str, int]:
    return {unit: i for i, layer in enumerate(layers) for unit in layer.units}


def check_units_known(known: dict[str, Path], layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    """(b) Every unit of the tree has a layer."""
    index = _layer_index(layers)
    missing = sorted({unit_of(m) for m in known} - set(index))
    return [
        f"pxehook/{unit} is in no layer: add {unit!r} to the right Layer in LAYERS in {THIS} "
        f"(lowest layer it may sit on) and a row for it in the Modules table of "
        f"docs/architecture.md"
        for unit in missing
    ]


def check_layers(edges: list[Import], layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    """(b) Imports between units run downwards (or sideways where the layer allows it)."""
    index = _layer_index(layers)
    problems = []
    for e in edges:
        src, dst = unit_of(e.source), unit_of(e.target)
        if src == dst or src not in index or dst not in index:
            continue
        here, there = index[src], index[dst]
        if there > here:
            problems.append(
                f"{e.path}:{e.line}: {e.source} imports {e.target}, an upward import "
                f"({src} is in layer {here + 1} '{layers[here].name}', {dst} in layer "
                f"{there + 1} '{layers[there].name}'). Move what is needed down into {src}'s "
                f"layer or below, or invert it: a protocol in the lower layer, implemented "
                f"above and passed in by pxehook/wiring.py"
            )
        elif there == here and not layers[here].siblings_may_import:
            problems.append(
                f"{e.path}:{e.line}: {e.source} imports {e.target}, but {src} and {dst} are "
                f"peers in layer {here + 1} '{layers[here].name}' and may not import each "
                f"other. Move the shared code down to a lower layer (the ground or store)"
            )
    return problems


def _cycles(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in order:
            visit(node)
    return found


def check_cycles(known: dict[str, Path], edges: list[Import]) -> list[str]:
    """(a) No cycle between units, none between the modules of one package."""
    problems = []
    unit_edges: dict[str, set[str]] = {}
    module_edges: dict[str, set[str]] = {}
    witness: dict[tuple[str, str], Import] = {}
    for e in edges:
        src, dst = unit_of(e.source), unit_of(e.target)
        if src != dst:
            unit_edges.setdefault(src, set()).add(dst)
            witness.setdefault((src, dst), e)
        elif e.source != e.target:
            module_edges.setdefault(e.source, set()).add(e.target)
            witness.setdefault((e.source, e.target), e)
    for kind, nodes, graph in (
        ("units", {unit_of(m) for m in known}, unit_edges),
        ("modules", set(known), module_edges),
    ):
        for component in _cycles(nodes, graph):
            members = set(component)
            links = [
                f"{w.path}:{w.line} ({a} -> {b})"
                for (a, b), w in sorted(witness.items())
                if a in members and b in members and b in graph.get(a, ())
            ]
            problems.append(
                f"import cycle between {kind} {', '.join(component)}: "
                + "; ".join(links)
                + ". Break it: move the shared code down, or pass the upper part in "
                "(a protocol with a default, wired in pxehook/wiring.py)"
            )
    return problems


def check_top_level(edges: list[Import]) -> list[str]:
    """(c) Imports of pxehook modules sit at the top level of their module."""
    return [
        f"{e.path}:{e.line}: {e.source} imports {e.target} inside a function, class or "
        f"if/try block. Move the import to the top of the module; if it was there to dodge "
        f"an import cycle, break the cycle instead (see docs/architecture.md)"
        for e in edges
        if not e.top_level
    ]


def _literal(tree: ast.Module, name: str) -> object:
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(stmt.value)  # type: ignore[arg-type]
    return None


def daemon_names(root: Path = ROOT) -> tuple[str, ...]:
    """The names in pxehook/daemons.py's registry (each ``Daemon(name=...)`` record)."""
    path = root / "pxehook" / "daemons.py"
    if not path.exists():
        return ()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return tuple(
        kw.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Daemon"
        for kw in node.keywords
        if kw.arg == "name" and isinstance(kw.value, ast.Constant)
    )


def check_dynamic_imports(known: dict[str, Path], root: Path = ROOT) -> list[str]:
    """(c) ``importlib.import_module``/``__import__`` only in the registries, and only of the
    registry's own package's submodules."""
    problems = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(root)
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("__import__", "import_module")
                )
            )
        ]
        if not calls:
            continue
        if module not in DYNAMIC_IMPORTS:
            problems += [
                f"{rel}:{c.lineno}: a dynamic import. Import the module at the top instead; a "
                f"registry of the package's own submodules may be added to DYNAMIC_IMPORTS in "
                f"{THIS} with the constant listing them"
                for c in calls
            ]
            continue
        constant = DYNAMIC_IMPORTS[module]
        names = daemon_names(root) if constant == DAEMON_REGISTRY else _literal(tree, constant)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        if not isinstance(names, tuple) or not names:
            problems.append(f"{rel}: {constant} must be a literal tuple of submodule names")
            continue
        problems += [
            f"{rel}: {constant} names {name!r}, but {package}.{name} does not exist; "
            f"create it or remove the name"
            for name in names
            if f"{package}.{name}" not in known
        ]
    return problems


def check_sizes(known: dict[str, Path], limit: int = MAX_LINES, root: Path = ROOT) -> list[str]:
    """(d) No module over ``limit`` lines."""
    problems = []
    for path in known.values():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            problems.append(
                f"{path.relative_to(root)} has {lines} lines (limit {limit}): split it by job "
                f"into modules (or a package) and name them in docs/architecture.md"
            )
    return problems


# --- the documented map ----------------------------------------------------------------------


def doc_table(text: str) -> list[tuple[str, str, str]]:
    """Rows ``(layer, place, job)`` of the table under "## Modules" in docs/architecture.md."""
    section = text.split("\n## Modules", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and not set(cells[0]) <= {"-", ":"}:
            rows.append((cells[0], cells[1], cells[2]))
    return rows[1:]  # drop the header


def check_doc(
    known: dict[str, Path],
    text: str,
    layers: tuple[Layer, ...] = LAYERS,
    package: Path = PACKAGE,
) -> list[str]:
    """(e) The Modules table of docs/architecture.md matches the tree and the layers."""
    index = _layer_index(layers)
    problems = []
    doc = "docs/architecture.md"
    rows: dict[str, tuple[str, str]] = {}
    for layer, place, job in doc_table(text):
        match = re.fullmatch(r"`([\w.]+?)(/|\.py)`", place)
        if not match:
            problems.append(f"{doc}: the place {place!r} should read `name.py` or `name/`")
            continue
        unit = match.group(1)
        rows[unit] = (layer, job)
        is_package = match.group(2) == "/"
        path = package / unit if is_package else package / f"{unit}.py"
        if not path.exists():
            problems.append(
                f"{doc}: the Modules table names {place}, which is not in pxehook/: remove "
                f"the row or fix the name"
            )
            continue
        if unit in index and layer != str(index[unit] + 1):
            problems.append(
                f"{doc}: {place} is in layer {layer} in the Modules table but in layer "
                f"{index[unit] + 1} ('{layers[index[unit]].name}') in LAYERS in {THIS}: "
                f"make them agree"
            )
        if is_package:
            named = set(re.findall(r"`(\w+)\.py`", job))
            present = {p.stem for p in path.glob("*.py") if p.name != "__init__.py"}
            problems += [
                f"{doc}: the row of {place} does not name `{name}.py`: add it to the job "
                f"column with what it does"
                for name in sorted(present - named)
            ]
            problems += [
                f"{doc}: the row of {place} names `{name}.py`, which is not in "
                f"pxehook/{unit}/: remove or fix it"
                for name in sorted(named - present)
            ]
    for unit in sorted({unit_of(m) for m in known} - set(rows)):
        place = f"`{unit}/`" if (package / unit).is_dir() else f"`{unit}.py`"
        problems.append(
            f"{doc}: pxehook's {place} has no row in the Modules table: add "
            f"'| <layer> | {place} | <its job> |'"
        )
    return problems


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Path], list[Import]]:
    return import_graph()


def _fail_on(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


def test_every_unit_has_a_layer(graph):
    _fail_on(check_units_known(graph[0]))


def test_no_import_cycles(graph):
    _fail_on(check_cycles(*graph))


def test_imports_run_downwards(graph):
    _fail_on(check_layers(graph[1]))


def test_pxehook_imports_sit_at_module_top_level(graph):
    _fail_on(check_top_level(graph[1]))


def test_dynamic_imports_are_the_two_registries_only(graph):
    _fail_on(check_dynamic_imports(graph[0]))


def test_no_module_over_the_size_limit(graph):
    _fail_on(check_sizes(graph[0]))


def test_modules_table_in_docs_matches_the_tree(graph):
    _fail_on(check_doc(graph[0], ARCH_DOC.read_text(encoding="utf-8")))


def test_every_package_ships_in_the_wheel(graph):
    """pyproject lists packages one by one: a new package left out works from the source tree
    but is missing from the installed wheel."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    packages = {m for m, path in graph[0].items() if path.name == "__init__.py"}
    missing = sorted(packages - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_layer_table_names_each_unit_once():
    units = [unit for layer in LAYERS for unit in layer.units]
    assert len(units) == len(set(units)), f"a unit is in two layers of LAYERS in {THIS}"


# --- the checker finds what it should (a tiny fake package per case) ---------------------------

FAKE_LAYERS = (
    Layer("ground", ("__init__", "errors", "arch")),
    Layer("store", ("store",)),
    Layer("producers", ("inventory", "gen"), siblings_may_import=False),
)


def _fake(tmp_path: Path, files: dict[str, str]) -> tuple[dict[str, Path], list[Import]]:
    package = tmp_path / "pxehook"
    for name, body in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return import_graph(package)


def test_checker_sees_an_upward_import(tmp_path):
    _, edges = _fake(
        tmp_path,
        {
            "errors.py": "from pxehook.store import base\n",
            "store/__init__.py": "",
            "store/base.py": "",
        },
    )
    problems = check_layers(edges, FAKE_LAYERS)
    assert len(problems) == 1 and "pxehook/errors.py:1" in problems[0]
    assert "upward" in problems[0]


def test_checker_sees_peers_importing_each_other(tmp_path):
    _, edges = _fake(
        tmp_path,
        {
            "gen/__init__.py": "from ..inventory import parse\n",
            "inventory/__init__.py": "",
            "inventory/parse.py": "",
        },
    )
    problems = check_layers(edges, FAKE_LAYERS)
    assert len(problems) == 1 and "peers" in problems[0]


def test_checker_sees_a_cycle_and_a_hidden_import(tmp_path):
    known, edges = _fake(
        tmp_path,
        {
            "errors.py": "import pxehook.arch\n",
            "arch.py": "def f():\n    from pxehook import errors\n",
        },
    )
    assert "between units arch, errors" in " ".join(check_cycles(known, edges))
    hidden = check_top_level(edges)
    assert len(hidden) == 1 and "pxehook/arch.py:2" in hidden[0]


def test_checker_sees_a_module_cycle_inside_a_package(tmp_path):
    known, edges = _fake(
        tmp_path,
        {
            "store/__init__.py": "",
            "store/a.py": "from . import b\n",
            "store/b.py": "from .a import x\n",
        },
    )
    assert "between modules pxehook.store.a, pxehook.store.b" in " ".join(
        check_cycles(known, edges)
    )


def test_checker_sees_an_unknown_unit_a_long_module_and_a_dynamic_import(tmp_path):
    known, _ = _fake(
        tmp_path,
        {"newthing.py": "import importlib\nimportlib.import_module('pxehook.arch')\n" + "\n" * 9},
    )
    assert "add 'newthing' to the right Layer" in " ".join(check_units_known(known, FAKE_LAYERS))
    assert "newthing.py has 11 lines (limit 10)" in " ".join(check_sizes(known, 10, tmp_path))
    assert "a dynamic import" in " ".join(check_dynamic_imports(known, tmp_path))


def test_checker_reads_relative_and_absolute_imports_alike(tmp_path):
    _, edges = _fake(
        tmp_path,
        {
            "store/__init__.py": "from .base import Store\n",
            "store/base.py": "from .. import errors\nfrom pxehook.arch import TABLE\n",
            "errors.py": "",
            "arch.py": "",
        },
    )
    pairs = {(e.source, e.target) for e in edges}
    assert pairs == {
        ("pxehook.store", "pxehook.store.base"),
        ("pxehook.store.base", "pxehook.errors"),
        ("pxehook.store.base", "pxehook.arch"),
    }


def test_checker_holds_the_docs_table_to_the_tree(tmp_path):
    known, _ = _fake(tmp_path, {"errors.py": "", "store/__init__.py": "", "store/base.py": ""})
    doc = (
        "# A\n\n## Modules\n\n| layer | place | job |\n|---|---|---|\n"
        "| 1 | `__init__.py` | version |\n| 2 | `errors.py` | errors |\n"
        "| 2 | `store/` | `base.py` and `gone.py` |\n| 3 | `arch.py` | gone |\n\n## Next\n"
    )
    problems = " ".join(check_doc(known, doc, FAKE_LAYERS, tmp_path / "pxehook"))
    assert "`errors.py` is in layer 2 in the Modules table but in layer 1" in problems
    assert "names `gone.py`, which is not in pxehook/store/" in problems
    assert "names `arch.py`, which is not in pxehook/" in problems
    assert (
        len(check_doc(known, doc.replace(" and `gone.py`", ""), FAKE_LAYERS, tmp_path / "pxehook"))
        == 2
    )
