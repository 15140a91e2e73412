"""The layering is a contract: no import circle, no module importing a layer above it, no Textual in the engine.

Read from the source (every import, including those inside functions), so an
import hidden in a function to dodge a circle is still seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stars_engine", "stars_tui")

# Top to bottom: a module may import its own layer or one below, never one above.
LAYERS = (
    ("stars_tui",),
    ("stars_engine.compare",),  # strategies side by side: runs them and asks the bench's judges
    ("stars_engine.bench",),
    ("stars_engine.store",),
    ("stars_engine.engine",),
    ("stars_engine.backends",),
    ("stars_engine.weights",),
    ("stars_engine.decoding",),
    ("stars_engine.policy", "stars_engine.reward", "stars_engine.run_state"),
    ("stars_engine.events", "stars_engine.params", "stars_engine.display"),
    ("stars_engine.errors", "stars_engine.bounded_read", "stars_engine"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules (and outside top-level packages) ``name`` imports, wherever in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:  # ``from pkg import module`` imports the module
                found.add(f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def layer(name: str) -> int:
    """The index of the most specific layer that holds ``name``."""
    best, index = -1, len(LAYERS)
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, index = len(prefix), i
    return index


def test_no_import_circle():
    edges = {name: {t for t in targets if t in modules()} - {name} for name, targets in graph().items()}
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                circles.append(trail[trail.index(target):] + [node, target] if target in trail else [node, target])
            elif target not in state:
                visit(target, [*trail, node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not circles, f"import circles: {circles}"


def test_no_module_imports_a_layer_above_it():
    upward = [
        f"{name} -> {target}"
        for name, targets in graph().items()
        for target in targets
        if target.startswith(PACKAGES) and layer(target) < layer(name)
    ]
    assert not upward, "imports of a layer above: " + ", ".join(sorted(upward))


def test_the_engine_never_imports_the_tui_or_textual():
    found = [
        f"{name} -> {target}"
        for name, targets in graph().items()
        if name.startswith("stars_engine")
        for target in targets
        if target.split(".")[0] in ("stars_tui", "textual", "rich")
    ]
    assert not found, found


def test_the_root_of_the_engine_holds_at_most_six_modules():
    root = sorted(p.name for p in (ROOT / "stars_engine").glob("*.py") if p.name != "__init__.py")
    assert len(root) <= 6, root
