"""The package's structure: every module imports, no import cycle among synthmed modules, and the
layers of the design (docs: DESIGN "Package map"): GANs know nothing of classifiers.

Imports are read with `ast`, at module level and inside functions alike (a lazy import is still a
dependency; it only hides a cycle until the function runs). Imports under `if TYPE_CHECKING:` are
left out: they never run.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import synthmed

PACKAGE_DIR = Path(synthmed.__file__).parent


def module_names() -> dict[str, Path]:
    """Every synthmed module (packages by their __init__) -> its file."""
    names = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ["synthmed", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _resolve(name: str) -> str | None:
    """The synthmed module that importing ``name`` names: itself, or its nearest enclosing module."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """The synthmed modules ``module`` imports, anywhere in its file."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` names the module a.b when b is one, else a itself
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        for name in names:
            target = _resolve(name) if name.split(".")[0] == "synthmed" else None
            if target is not None and target != module:
                targets.add(target)
    return targets


def import_graph() -> dict[str, set[str]]:
    return {module: imports_of(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search, white/grey/black)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith(".__main__")))  # __main__ runs the CLI
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_no_import_cycle_among_synthmed_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_gan_never_imports_classify() -> None:
    leaks = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith("synthmed.gan")
        for target in targets
        if target == "synthmed.classify" or target.startswith("synthmed.classify.")
    }
    assert not leaks, f"synthmed.gan imports synthmed.classify: {sorted(leaks)}"


def test_diffusion_never_imports_classify_or_experiments() -> None:
    """Like the GANs, the diffusion model takes its Fréchet features from the caller."""
    above = ("synthmed.classify", "synthmed.experiments", "synthmed.features", "synthmed.generators")
    leaks = {
        (module, target)
        for module, targets in import_graph().items()
        if module == "synthmed.diffusion" or module.startswith("synthmed.diffusion.")
        for target in targets
        if any(target == a or target.startswith(a + ".") for a in above)
    }
    assert not leaks, f"synthmed.diffusion imports modules above it: {sorted(leaks)}"


def test_the_checks_see_lazy_imports_and_cycles() -> None:
    """The checks themselves: a function-level import is an edge, and a two-module loop is found."""
    assert "synthmed.gan.checkpoint" in imports_of("synthmed.gan.sample")
    assert "synthmed.classify.train" in imports_of("synthmed.features")  # imported inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_data_imports_nothing_above_it() -> None:
    """synthmed.data knows nothing of GANs, classifiers, experiments or the book."""
    allowed = ("synthmed.data", "synthmed.cache", "synthmed.config")
    leaks = {
        (module, target)
        for module, targets in import_graph().items()
        if module == "synthmed.data" or module.startswith("synthmed.data.")
        for target in targets
        if not any(target == a or target.startswith(a + ".") for a in allowed)
    }
    assert not leaks, f"synthmed.data imports modules above it: {sorted(leaks)}"


PROFILE_NAMES = {"tiny", "cpu", "paper"}


def _profile_branches(tree: ast.AST) -> list[int]:
    """Lines that branch on a profile's name: a dict keyed by two or more profile names, or a comparison
    of something called `profile` with a profile name (or a tuple of them)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if len(keys & PROFILE_NAMES) >= 2:
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = any(isinstance(s, ast.Name) and "profile" in s.id for s in sides)
            constants = {c.value for s in sides for c in ast.walk(s) if isinstance(c, ast.Constant)}
            if named and constants & PROFILE_NAMES:
                lines.append(node.lineno)
    return lines


def test_only_the_profiles_module_branches_on_a_profile_s_name() -> None:
    found = {
        name: lines
        for name, path in MODULES.items()
        if name != "synthmed.profiles" and (lines := _profile_branches(ast.parse(path.read_text())))
    }
    assert not found, f"profile-specific values outside synthmed.profiles (module: lines): {found}"
    # The check sees what it looks for: the profiles module itself holds a dict keyed by every profile.
    assert _profile_branches(ast.parse('PROFILES = {"tiny": 1, "cpu": 2}\nif profile == "paper": pass'))


def test_the_torch_helpers_are_a_leaf() -> None:
    assert imports_of("synthmed.torch_utils") == set()
