"""The package layers: the program's model, the program, the handlers and the tooling.

- ``signal9/`` (the model) imports only itself and the handlers' contracts in ``functions/``;
- the program (``__main__.py``, ``bootstrap/__main__.py``, ``components/``) and the CrossGuard
  pack (``policy/``) import only the model, each other and ``functions.shared``;
- ``functions/`` imports none of the others (its archives hold nothing else);
- the fakes (``signal9_tools/fakes/``) import only themselves: a fake built from the handlers'
  own field lists or rules would share their mistakes instead of catching them;
- the rest of ``signal9_tools/`` may import anything.

Every import counts, including those inside functions (the CLI's lazy subcommand imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("signal9", "signal9_tools", "components", "functions", "tests")

# layer: (its files, the first-party modules it may import)
LAYERS: dict[str, tuple[list[Path], tuple[str, ...]]] = {
    "model": (sorted((ROOT / "signal9").rglob("*.py")), ("signal9", "functions")),
    "program": (
        [ROOT / "__main__.py", ROOT / "bootstrap" / "__main__.py", *sorted((ROOT / "components").rglob("*.py"))],
        ("signal9", "components", "functions.shared"),
    ),
    "policy pack": (sorted((ROOT / "policy").rglob("*.py")), ("signal9",)),
    "handlers": (sorted((ROOT / "functions").rglob("*.py")), ("functions",)),
    "fakes": (sorted((ROOT / "signal9_tools" / "fakes").rglob("*.py")), ("signal9_tools.fakes",)),
}


def first_party_imports(path: Path) -> set[str]:
    """The first-party modules ``path`` imports, wherever the import statement is."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        modules |= {name for name in names if name.split(".")[0] in FIRST_PARTY}
    return modules


def allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    # ``from functions import shared`` is recorded as both "functions" and "functions.shared":
    # a bare package name is allowed when some allowed prefix lies inside it.
    return any(module == p or module.startswith(p + ".") or p.startswith(module + ".") for p in prefixes)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    files, prefixes = LAYERS[layer]
    assert files, f"no files found for the {layer} layer"
    breaches = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in first_party_imports(path)
        if not allowed(module, prefixes)
    }
    assert not breaches, f"the {layer} layer may import only {prefixes}: " + "; ".join(sorted(breaches))


def test_the_import_scan_sees_lazy_and_from_imports(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text("import os\nfrom signal9 import catalog\n\ndef later():\n    import signal9_tools.plan\n")
    assert first_party_imports(module) == {"signal9", "signal9.catalog", "signal9_tools.plan"}
