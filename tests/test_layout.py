"""The package's shape: imports go one way (no cycle), and no module imports another of
ours inside a function (the old way of holding a cycle together)."""

import ast
from pathlib import Path

import pytest

import gon

ROOT = Path(gon.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    names = [f"{target}.{alias.name}" for alias in node.names]
    return [target, *names]


def _imports(type_checking: bool = False) -> tuple[dict[str, set[str]], list[str]]:
    """module -> the gon modules it imports at import time (and, with `type_checking`, under
    `if TYPE_CHECKING:`); and every import of ours inside a function."""
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    inside: list[str] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                targets = _resolve(name, path.name == "__init__.py", node)
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            ours = [t for t in targets if t in modules]
            if not ours:
                continue
            if _in_function(tree, node):
                inside.append(f"{name}: {ast.unparse(node)}")
            elif type_checking or not _under_type_checking(tree, node):
                graph[name].update(t for t in ours if t != name)
    return graph, inside


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _in_function(tree: ast.AST, node: ast.AST) -> bool:
    parents = _parents(tree)
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
    return False


def _under_type_checking(tree: ast.AST, node: ast.AST) -> bool:
    parents = _parents(tree)
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


@pytest.mark.parametrize("type_checking", [False, True], ids=["at-import", "with-type-checking"])
def test_the_import_graph_has_no_cycle(type_checking):
    # an import only for type checking still ties two modules: a cycle hidden behind
    # TYPE_CHECKING is a circle at call time (a loader calling the registry calling a builder)
    graph, _ = _imports(type_checking)
    # a package imports its own modules (its __init__ re-exports them): that is not a cycle
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycle.extend(path[path.index(target) :] + [node, target] if target in path else [node, target])
                return True
            if state.get(target) is None and visit(target, path + [node]):
                return True
        state[node] = 2
        return False

    assert not any(state.get(m) is None and visit(m, []) for m in sorted(edges)), " -> ".join(cycle)


def test_no_module_of_ours_is_imported_inside_a_function():
    # one exception, on purpose: `main` loads the commands (and torch) only once a command
    # is named, so that `gon --help` answers at once
    _, inside = _imports()
    assert [line for line in inside if not line.startswith("gon.cli: ")] == []


def test_the_package_is_the_library():
    # the benchmarks sit beside the package (benchmarks/) and own the committed results in
    # docs/: an installed gon neither imports them nor reads the repository's docs
    benchmark_imports, docs_paths = [], []
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                benchmark_imports += [
                    f"{path.name}: {a.name}" for a in node.names if a.name.split(".")[0] == "benchmarks"
                ]
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("benchmarks"):
                benchmark_imports.append(f"{path.name}: {node.module}")
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        docs_paths += [
            f"{path.name}:{n.lineno}: {n.value!r}"
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and id(n) not in docstrings
            and (n.value == "docs" or n.value.startswith("docs/"))
        ]
    assert not (ROOT / "paper").exists()
    assert benchmark_imports == [] and docs_paths == []


def test_the_data_layer_does_not_import_the_model_config():
    # the config reads data-level facts (sample rates, fits); the data sources know no model
    graph, _ = _imports(type_checking=True)
    data = [m for m in graph if m == "gon.data" or m.startswith("gon.data.")]
    assert data and not [f"{m} -> {t}" for m in data for t in graph[m] if t.split(".")[:2] == ["gon", "config"]]


# the modules of the sound signal itself; the config nests each signal's settings under the
# signal's name (ModelConfig.sound), the one other place a signal is named in code
SOUND_MODULES = {"gon/signals/sound.py", "gon/data/sound.py", "gon/audio.py", "gon/models/sound.py"}
NESTED_SETTINGS = {"gon/config.py": {"sound", "SoundSettings"}}


def _code_words(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, word) of every name, attribute, argument and string in code: docstrings, comments,
    imports (a module registering its signal's parts) and __all__ (their public names) left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
            isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)
        ):
            skipped.update(id(child) for child in ast.walk(node))
    words = []
    for node in ast.walk(tree):
        if id(node) in skipped or id(node) in docstrings:
            continue
        for word in (
            getattr(node, "id", None),
            getattr(node, "attr", None),
            getattr(node, "arg", None),
            node.name if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else None,
            node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None,
        ):
            if isinstance(word, str):
                words.append((getattr(node, "lineno", 0), word))
    return words


def test_no_module_outside_the_sound_signal_names_sound_in_code():
    # a signal is a part, not a flag: evaluation, figures, reports, commands and the run ask the
    # signal (gon/signals) what to do, so only the sound signal's own modules say "sound"
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT.parent).as_posix()
        if name in SOUND_MODULES:
            continue
        allowed = NESTED_SETTINGS.get(name, set())
        found += [
            f"{name}:{line}: {word!r}"
            for line, word in _code_words(ast.parse(path.read_text()))
            if "sound" in word.lower() and word not in allowed
        ]
    assert not found, "\n".join(found)
