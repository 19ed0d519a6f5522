"""Deployment archives for the handlers in ``functions/``: one per function, deterministic.

A function's archive holds ``functions/__init__.py``, ``functions/shared/**`` and its own
``functions/<package>/**`` and nothing else, with the ``functions/`` prefix kept so the
handler string ``functions.<package>.handler.handler`` resolves inside Lambda. Changing one
handler therefore changes only that function's archive (and so only that function is
redeployed); changing shared code changes all of them, as it should.

Powertools for AWS Lambda, pydantic and boto3 are not bundled: the project's handler layer
(``components.handler_layer``, built from uv.lock) provides them to every function, which keeps
each archive a few kilobytes.
Byte-code caches are left out: they differ per machine and would make archives churn.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pulumi

from signal9 import catalog

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = "functions"
SHARED_PACKAGE = "shared"
EXCLUDED_DIRECTORIES = frozenset({"__pycache__"})
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})
# A fixed timestamp for zip entries (the zip epoch), so identical sources give identical bytes.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def handler(function: catalog.Function) -> str:
    """Lambda's handler string for ``function``: module path plus the ``handler`` callable."""
    return f"{SOURCE_DIR}.{function.package}.handler.handler"


def handler_path(function: catalog.Function) -> str:
    """Where the handler module sits inside the archive."""
    return f"{SOURCE_DIR}/{function.package}/handler.py"


def _included(path: Path, base: Path) -> bool:
    return (
        path.is_file()
        and not EXCLUDED_DIRECTORIES.intersection(path.relative_to(base).parts)
        and path.suffix not in EXCLUDED_SUFFIXES
    )


def archive_files(function: catalog.Function, root: Path = ROOT) -> dict[str, Path]:
    """Archive path -> source file for ``function``, sorted by archive path."""
    source = root / SOURCE_DIR
    package = source / function.package
    if not (package / "handler.py").is_file():
        raise FileNotFoundError(f"{function.name}: handler module {package / 'handler.py'} does not exist")
    files = {f"{SOURCE_DIR}/__init__.py": source / "__init__.py"}
    for directory in (source / SHARED_PACKAGE, package):
        for path in directory.rglob("*"):
            if _included(path, source):
                files[path.relative_to(root).as_posix()] = path
    return dict(sorted(files.items()))


def _asset_path(path: Path) -> str:
    # Relative to the working directory: `pulumi up` runs the program from the project root, so
    # state records "functions/..." whatever the checkout's location (no diff between machines).
    return os.path.relpath(path)


def archive(function: catalog.Function, root: Path = ROOT) -> pulumi.AssetArchive:
    """The Pulumi archive Lambda deploys for ``function``."""
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(_asset_path(path)) for name, path in archive_files(function, root).items()}
    )


def content_hash(function: catalog.Function, root: Path = ROOT) -> str:
    """SHA-256 over every archive path and file content: equal hashes mean an identical archive."""
    digest = hashlib.sha256()
    for name, path in archive_files(function, root).items():
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def zip_bytes(function: catalog.Function, root: Path = ROOT) -> bytes:
    """``function``'s archive as a deterministic zip (what the benchmark measures)."""
    return zip_files(archive_files(function, root))


def zip_files(files: Mapping[str, Path]) -> bytes:
    """A deterministic zip of archive path -> source file (also how the local emulator deploys)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, path in sorted(files.items()):
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, path.read_bytes())
    return buffer.getvalue()
