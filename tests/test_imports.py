"""The import graph of flubber: no private module used outside its package, no cycle.

A private module (``flubber.kvstore._exceptions``) is the business of its
package (``flubber.kvstore`` and the packages inside it); any other module
imports the names its package exports. Module-level imports between flubber
modules form no cycle. Both are read from the source with :mod:`ast`,
without importing anything.
"""
import ast
import importlib
import inspect
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "flubber"


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _package_of(module):
    """The package a module's relative imports start from."""
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module, top_level_only=False):
    """Yield ``(line, imported module)`` for each flubber module *module* imports.

    ``from a.b import c`` counts as an import of ``a.b.c`` when that is a
    module, else of ``a.b``. With *top_level_only*, imports inside
    functions and classes are left out (they run later, so they make no
    cycle at import time); ``if TYPE_CHECKING:`` blocks are left out too.
    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module).split(".")
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                full = base + "." + alias.name
                yield node.lineno, full if full in MODULES else base


def _top_level(body):
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(node.orelse)
            yield from _top_level(node.finalbody)


def _private_owner(imported):
    """The package that owns *imported* when a part of its name is private (``_x``), else None."""
    parts = imported.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def test_the_walk_finds_the_packages():
    assert {"flubber", "flubber.io", "flubber.kvstore", "flubber.node", "flubber._config"} <= set(MODULES)


def test_no_private_module_is_imported_from_outside_its_package():
    offences = []
    for module in MODULES:
        for line, imported in sorted(set(_imports(module))):
            if not imported.startswith("flubber"):
                continue
            owner = _private_owner(imported)
            if owner is not None and module != owner and not module.startswith(owner + "."):
                offences.append("%s line %d imports %s (private to %s)" % (module, line, imported, owner))
    assert not offences, "import the names the package exports instead:\n" + "\n".join(offences)


def _cycles(graph):
    """Return the strongly connected components of *graph* that hold more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _graph():
    graph = {}
    for module in MODULES:
        targets = set()
        for _line, imported in _imports(module, top_level_only=True):
            # importing a.b.c runs a and a.b first, but a package's __init__ importing its own
            # submodules is the usual layout, not a cycle: count the module named, not its parents
            if imported in MODULES and imported != module:
                targets.add(imported)
        graph[module] = targets
    return graph


def test_module_level_imports_between_flubber_modules_form_no_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (move the shared part to a module both import):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected


def test_the_private_rule_reads_owners():
    assert _private_owner("flubber.kvstore._exceptions") == "flubber.kvstore"
    assert _private_owner("flubber._config") == "flubber"
    assert _private_owner("flubber.kvstore.config") is None


_WITHOUT_PIKA = """
import sys

class NoPika:
    def find_spec(self, name, path=None, target=None):
        if name == "pika" or name.startswith("pika."):
            raise ModuleNotFoundError("No module named %r" % name, name=name)

sys.meta_path.insert(0, NoPika())
from flubber.kvstore import *
import flubber.kvstore
assert "AMQPService" not in flubber.kvstore.__all__
try:
    flubber.kvstore.AMQPService
except ImportError as exc:
    print(exc)
"""


def test_star_import_of_kvstore_works_without_pika():
    result = subprocess.run([sys.executable, "-c", _WITHOUT_PIKA], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(ROOT.parent)))
    assert result.returncode == 0, result.stderr
    assert "pip install 'flubber[amqp]'" in result.stdout


def test_star_import_of_kvstore_names_the_amqp_classes_when_pika_is_there():
    pytest.importorskip("pika", reason="the amqp extra is not installed")
    import flubber.kvstore

    namespace = {}
    exec("from flubber.kvstore import *", namespace)
    assert {"AMQPService", "AMQPKVClient", "serve_amqp"} <= set(namespace)
    assert set(flubber.kvstore.__all__) <= set(namespace)


def _doc_references(module):
    return set(re.findall(r":mod:`~?([\w.]+)`", module.__doc__ or ""))


def _public_names(name):
    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [attribute for attribute, value in vars(module).items()
                 if not attribute.startswith("_") and getattr(value, "__module__", None) == name
                 and (inspect.isclass(value) or inspect.isfunction(value))]
    return module, names


def test_every_public_name_is_within_two_hops_of_the_flubber_docstring():
    """flubber's docstring names a module (one hop), which exports the name or names its module (two)."""
    import flubber

    first = {name: importlib.import_module(name) for name in _doc_references(flubber) | {"flubber"}}
    second = set(first)
    exported = set()
    for module in first.values():
        second |= _doc_references(module)
        exported |= {id(getattr(module, attribute)) for attribute in dir(module)}
    assert {"flubber.node", "flubber.plot", "flubber.instruments", "flubber.io", "flubber.sockets",
            "flubber.kvstore", "flubber.loggers", "flubber.dump", "flubber.cli"} <= set(first)
    far = []
    for name in MODULES:
        if name in second or _private_owner(name) is not None:
            continue
        module, names = _public_names(name)
        far += ["%s.%s" % (name, attribute) for attribute in names if id(getattr(module, attribute)) not in exported]
    assert not far, "export these from a package, or name their module in its docstring:\n" + "\n".join(far)
