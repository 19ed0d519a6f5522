"""Lambda execution environments in the emulator: each function loaded from its deployed archive plus the layer.

Lambda starts a function from what was deployed, not from the source tree: ``/var/task`` (the
function's archive), then ``/opt/python`` (its layers), then the standard library. The emulator does
the same, in-process:

- **Static**: every import in every module of the archive (lazy ones inside functions included;
  ``if TYPE_CHECKING:`` blocks excluded, they never run) must resolve inside the archive, to a
  top-level package of the layer, or to the standard library. A module missing from one archive
  fails the deploy check, naming the function and the module, even if no run reaches that import.
- **Dynamic**: a function's modules (``functions.*``) are imported from its extracted archive, in
  an environment of its own: ``sys.modules`` holds that function's copies while it runs and the
  tooling's own copies otherwise. A warm environment keeps its modules (and their cached clients)
  between invocations, as Lambda's does; a new one starts cold.

Third-party packages come from the interpreter running the emulator, which ``make`` syncs from the
same uv.lock the layer is built from; ``check_layer_parity`` compares the two, file by file, so the
emulator's packages are the layer's. Invocations are serialised: one environment at a time (the
emulator's HTTP server may call in from several threads).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import io
import logging
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from signal9_tools.layer import EXCLUDED_TOP_LEVEL

LOG = logging.getLogger(__name__)
PACKAGE = "functions"  # the handlers' top-level package, in every archive
LAYER_ROOT = "python/"  # where Lambda finds a layer's Python packages (/opt/python)


def _is_handler_module(name: str) -> bool:
    return name == PACKAGE or name.startswith(f"{PACKAGE}.")


def layer_top_level(layer_archive: bytes) -> frozenset[str]:
    """The importable top-level names a layer archive provides under ``python/``."""
    names = set()
    with zipfile.ZipFile(io.BytesIO(layer_archive)) as archive:
        for entry in archive.namelist():
            if not entry.startswith(LAYER_ROOT):
                continue
            first = entry.removeprefix(LAYER_ROOT).split("/", 1)[0]
            if first.endswith(".dist-info") or first == "__pycache__" or not first.split(".", 1)[0]:
                continue
            names.add(first.split(".", 1)[0])
    return frozenset(names)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[int, str, Sequence[str]]]:
    """(level, module, imported names) of each import that can run, ``if TYPE_CHECKING:`` bodies skipped."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node.test):
            yield from (item for child in node.orelse for item in _imports(ast.Module(body=[child], type_ignores=[])))
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", tuple(alias.name for alias in node.names)
        yield from _imports(node)


ImportLine = tuple[int, str, tuple[str, ...]]


@functools.lru_cache(maxsize=2048)
def _imports_of(source: bytes, filename: str) -> tuple[ImportLine, ...]:
    """``_imports`` of one module's source. Cached: every deploy in a process ships the same modules
    in seven archives, and parsing them is most of this check's time."""
    return tuple((level, name, tuple(names)) for level, name, names in _imports(ast.parse(source, filename)))


def _module_exists(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def missing_imports(root: Path, layer: frozenset[str]) -> list[str]:
    """``module: imported name`` for each import in the archive under ``root`` that Lambda could not resolve."""
    allowed = layer | frozenset(sys.stdlib_module_names) | {"__future__"}
    missing = []
    for source in sorted(root.rglob("*.py")):
        relative = source.relative_to(root).with_suffix("")
        module = ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)
        package = module if relative.name == "__init__" else module.rpartition(".")[0]
        for level, name, imported in _imports_of(source.read_bytes(), str(relative.with_suffix(".py"))):
            if level:
                base = package.rsplit(".", level - 1)[0] if level > 1 else package
                name = f"{base}.{name}" if name else base
            top = name.split(".", 1)[0]
            if top != PACKAGE:
                if top not in allowed:
                    missing.append(f"{module}: {name}")
                continue
            if not _module_exists(root, name):
                missing.append(f"{module}: {name}")
                continue
            # `from functions.shared import retry`: each name is a submodule or defined in the package.
            missing += [
                f"{module}: {name}.{item}"
                for item in imported
                if (root.joinpath(*name.split(".")) / "__init__.py").is_file()
                and not _module_exists(root, f"{name}.{item}")
                and not _defines(root.joinpath(*name.split(".")) / "__init__.py", item)
            ]
    return missing


def _defines(init: Path, name: str) -> bool:
    return name in _top_level_names(init.read_bytes())


@functools.lru_cache(maxsize=256)
def _top_level_names(source: bytes) -> frozenset[str]:
    """The names a module's own statements bind at its top level (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    return frozenset(names)


class _ArchiveFinder(importlib.abc.MetaPathFinder):
    """Resolves the top-level ``functions`` package to one function's extracted archive only."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != PACKAGE:
            return None  # submodules follow the package's __path__, which is inside the archive
        spec = importlib.machinery.PathFinder.find_spec(fullname, [str(self.root)])
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} in the deployed archive", name=fullname)
        return spec


@dataclass
class Environment:
    """One function's execution environment: its archive on disk and the modules it has loaded."""

    function: str
    root: Path
    modules: dict[str, ModuleType] = field(default_factory=dict)


@dataclass
class ExecutionEnvironments:
    """Every function's environment in one emulator run (``close`` removes their files)."""

    _scratch: tempfile.TemporaryDirectory[str] = field(
        default_factory=lambda: tempfile.TemporaryDirectory(prefix="signal9-lambda-")
    )
    _environments: dict[str, Environment] = field(default_factory=dict)
    # (module, attribute) -> value set in each environment's copy while it runs (the emulator's
    # instrumentation: recorded backoffs, the compressed pacing clock).
    _patches: dict[tuple[str, str], Any] = field(default_factory=dict)
    # One invocation at a time (sys.modules is the process's); _state guards the two below.
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _state: threading.Lock = field(default_factory=threading.Lock)
    _depth: int = 0  # nesting of `entered` in the thread that holds _lock
    _deferred: list[Callable[[], object]] = field(default_factory=list)

    def environment(self, function: str, archive: bytes) -> Environment:
        """``function``'s warm environment, or a new (cold) one when there is none or its code changed."""
        digest = hashlib.sha256(archive).hexdigest()[:16]
        found = self._environments.get(function)
        if found is not None and found.root.name == digest:
            return found
        root = Path(self._scratch.name) / function / digest
        root.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            bundle.extractall(root)
        self._environments[function] = Environment(function, root)
        return self._environments[function]

    @contextlib.contextmanager
    def patched(self, module: str, attribute: str, value: Any) -> Iterator[None]:
        """Set ``module.attribute`` in every environment's copy of ``module`` while the context lasts."""
        self._patches[(module, attribute)] = value
        try:
            yield
        finally:
            del self._patches[(module, attribute)]

    def _apply_patches(self) -> None:
        for (module, attribute), value in self._patches.items():
            loaded = sys.modules.get(module)
            if loaded is not None:
                setattr(loaded, attribute, value)

    def run_when_idle(self, work: Callable[[], object]) -> None:
        """Run ``work`` (an invocation) now, or, while a function runs in another thread, right after it ends.

        A function's PutEvents reaches the emulator's server in another thread while the function still
        runs and holds the environments; EventBridge invokes the rule's target asynchronously anyway, so
        the delivery waits for that invocation to end instead of for the lock it holds (a deadlock).
        """
        with self._state:
            if self._depth:
                self._deferred.append(work)
                return
        work()

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        with self._lock:
            with self._state:
                self._depth += 1
            try:
                yield
            finally:
                while True:  # at the outermost level, what was deferred meanwhile runs before letting go
                    with self._state:
                        pending = self._deferred if self._depth == 1 else []
                        self._deferred = [] if pending else self._deferred
                        if not pending:
                            self._depth -= 1
                            break
                    for work in pending:
                        try:
                            work()
                        except Exception:  # accepted asynchronously: its failure is logged, as Lambda's
                            LOG.exception("a deferred invocation failed")

    @contextlib.contextmanager
    def entered(self, environment: Environment) -> Iterator[Any]:
        """Run inside ``environment``: yields ``load(handler string) -> handler callable``."""
        with self._held():
            tooling = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_handler_module(name)}
            sys.modules.update(environment.modules)
            finder = _ArchiveFinder(environment.root)
            sys.meta_path.insert(0, finder)
            importlib.invalidate_caches()

            def load(handler: str) -> Any:
                module_name, attribute = handler.rsplit(".", 1)
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError as missing:
                    raise ModuleNotFoundError(
                        f"{environment.function}: {missing.name or module_name} is not in its deployed archive "
                        f"nor its layer ({missing})",
                        name=missing.name,
                    ) from None
                self._apply_patches()
                return getattr(module, attribute)

            try:
                yield load
            finally:
                sys.meta_path.remove(finder)
                environment.modules = {
                    name: sys.modules.pop(name) for name in list(sys.modules) if _is_handler_module(name)
                }
                sys.modules.update(tooling)

    def restart(self) -> None:
        """Every function starts cold at its next invocation: nothing cached survives (clients, secret values)."""
        with self._lock:
            self._environments.clear()

    def close(self) -> None:
        self.restart()
        self._scratch.cleanup()


@dataclass(frozen=True)
class LayerParity:
    """How the packages the handlers run on here compare with the layer archive's."""

    distributions: int
    compared_files: int
    differing: tuple[str, ...]  # Python files whose bytes differ between the layer and this interpreter
    missing: tuple[str, ...]  # distributions of the layer this interpreter lacks or has at another version

    @property
    def identical(self) -> bool:
        return self.compared_files > 0 and not self.differing and not self.missing


@functools.cache
def layer_parity(layer_archive: bytes) -> LayerParity:
    """Compare each distribution in the layer with this interpreter's: version, then every ``.py`` file's bytes.

    Binary extensions (pydantic-core) are built per platform and not compared; their Python files are.
    Cached: one emulator process deploys several stacks from one layer.
    """
    missing, differing, compared = [], [], 0
    with zipfile.ZipFile(io.BytesIO(layer_archive)) as archive:
        infos = [n for n in archive.namelist() if n.startswith(LAYER_ROOT) and n.endswith(".dist-info/METADATA")]
        for metadata in sorted(infos):
            dist_info = metadata.removesuffix("/METADATA")
            name, _, version = dist_info.removeprefix(LAYER_ROOT).removesuffix(".dist-info").rpartition("-")
            try:
                installed = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                missing.append(f"{name} {version} (not installed here)")
                continue
            if installed.version != version:
                missing.append(f"{name} {version} (here: {installed.version})")
                continue
            for line in archive.read(f"{dist_info}/RECORD").decode().splitlines():
                path = line.split(",", 1)[0]
                if not path.endswith(".py") or path.split("/", 1)[0] in EXCLUDED_TOP_LEVEL:
                    continue
                compared += 1
                local = Path(str(installed.locate_file(path)))
                if not local.is_file() or local.read_bytes() != archive.read(f"{LAYER_ROOT}{path}"):
                    differing.append(path)
    return LayerParity(len(infos), compared, tuple(differing), tuple(missing))
