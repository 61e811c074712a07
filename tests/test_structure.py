"""The package's structure: no import cycle inside ``fastnn/``, and no private name
imported from another module (a module's private names are its own business).

Read from the sources with :mod:`ast`, imports inside functions included: a cycle
hidden in a function still ties two modules together.
"""

import ast
import pathlib

import fastnn

ROOT = pathlib.Path(fastnn.__file__).parent


def _modules():
    """``{dotted name: path}`` of every module of the package."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(name, path, modules):
    """``(module, imported name or None)`` for each fastnn import in ``path``."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base not in modules:
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    yield submodule, None
                else:
                    yield base, alias.name


def _graph():
    modules = _modules()
    graph, private = {}, []
    for name, path in modules.items():
        graph[name] = set()
        for module, imported in _imports(name, path, modules):
            if module != name:
                graph[name].add(module)
            if imported and imported.startswith("_") and not imported.startswith("__"):
                private.append(f"{name} imports {imported} from {module}")
    return graph, private


def _cycles(graph):
    """Every module that can reach itself, with one path back to it."""
    found = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    found.append(" -> ".join(path + [start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    return found


def test_no_import_cycle():
    graph, _ = _graph()
    assert "fastnn.kernels.epoch" in graph and "fastnn.kernels.split" in graph
    assert _cycles(graph) == []


def test_the_cycle_check_finds_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert sorted(_cycles(graph)) == ["a -> b -> c -> a", "b -> c -> a -> b", "c -> a -> b -> c"]


def test_no_private_name_is_imported_from_another_module():
    _, private = _graph()
    assert private == []


def test_the_epoch_schemes_are_peers():
    # Neither scheme imports the other: both build on the hand-over (kernels/handover.py).
    graph, _ = _graph()
    assert "fastnn.kernels.split" not in graph["fastnn.kernels.epoch"]
    assert "fastnn.kernels.epoch" not in graph["fastnn.kernels.split"]
    assert "fastnn.kernels.handover" in graph["fastnn.kernels.epoch"]
    assert "fastnn.kernels.handover" in graph["fastnn.kernels.split"]
    # The kernels do not depend on Python's threads: the drivers do (fastnn/_workers.py).
    kernels = [name for name in graph if name.startswith("fastnn.kernels")]
    assert all("fastnn._workers" not in graph[name] for name in kernels)
