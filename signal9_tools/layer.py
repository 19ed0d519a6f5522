"""Build the handlers' Lambda layer from uv.lock: the same package versions the tests run on.

``make layer`` (and ``make install``) runs ``python -m signal9_tools.layer``:

1. ``uv export --only-group lambda`` gives the locked closure of the handlers' packages, with hashes;
2. ``uv pip install --target`` installs exactly those wheels for the declared platform and Python
   (``[tool.signal9.lambda]``, e.g. aarch64 manylinux, CPython 3.13), binary wheels only;
3. with an interpreter of the runtime's Python at hand, the files are compiled to byte code with
   ``unchecked-hash`` invalidation and ``/opt/python`` as their recorded path (Lambda mounts a
   layer read-only under /opt, so without it every cold start compiles Powertools, pydantic and
   botocore again: about 0.5 s here);
4. everything goes into a deterministic zip (sorted entries, fixed timestamps and modes) under
   ``python/``, the directory Lambda puts on ``sys.path``, with a manifest beside it.

The same lock always gives the same bytes, so ``pulumi up`` from any machine publishes a new layer
version only when the lock changes. When uv.lock changes but the layer's closure does not, only the
manifest is stamped with the new lock.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from components.packaging import zip_files
from signal9 import runtime
from signal9_tools import interpreter

# Bumped whenever this builder's output changes for the same requirements, so old archives are rebuilt.
BUILD_FORMAT = 2
# Lambda's limit for a layer uploaded directly (PublishLayerVersion's ZipFile; larger needs S3).
DIRECT_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
# Where Lambda extracts a layer; the byte code records its sources there.
LAYER_MOUNT = "/opt/python"
# Console scripts carry the build machine's interpreter path and no handler runs them; uv's own
# lock file of the install directory is not part of any package.
EXCLUDED_TOP_LEVEL = frozenset({"bin", ".lock"})


class LayerBuildError(RuntimeError):
    """uv could not export or install the handlers' packages, or the result breaks a Lambda limit."""


def find_uv() -> str:
    """The project's uv (``make`` bootstraps it into .tools/) or one on PATH."""
    local = runtime.ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.is_file() else shutil.which("uv")
    if not found:
        raise LayerBuildError("uv not found: run `make install` (it bootstraps uv into .tools/)")
    return found


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, cwd=runtime.ROOT, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise LayerBuildError(f"`{' '.join(command[:3])} ...` failed: {last}")
    return done.stdout


def export_requirements(uv: str) -> str:
    """The ``lambda`` group's locked closure as a hashed requirements file."""
    group = runtime.LAYER_GROUP
    return _run([uv, "export", "--frozen", "--only-group", group, "--no-emit-project", "--no-header"])


def _distributions(site: Path) -> dict[str, str]:
    """Normalised name -> version of every ``*.dist-info`` in ``site``."""
    found: dict[str, str] = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        found[runtime.normalise_name(name)] = version
    return dict(sorted(found.items()))


def _compile(site: Path, python: str) -> None:
    invalidation = ["--invalidation-mode", "unchecked-hash"]
    _run([python, "-m", "compileall", "-q", "-j", "0", *invalidation, "-s", str(site), "-p", LAYER_MOUNT, str(site)])


def _archive_files(site: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in site.rglob("*"):
        relative = path.relative_to(site)
        if path.is_file() and relative.parts[0] not in EXCLUDED_TOP_LEVEL:
            files[f"python/{relative.as_posix()}"] = path
    return files


def build(uv: str | None = None, *, out: Path | None = None) -> runtime.LayerBuild:
    """Build (or re-stamp) the declared runtime's layer; returns what was built."""
    uv = uv or find_uv()
    declared = runtime.declared()
    archive, manifest_path = runtime.layer_paths(declared) if out is None else (out / "layer.zip", out / "layer.json")
    requirements = export_requirements(uv)
    requirements_sha = hashlib.sha256(requirements.encode()).hexdigest()
    python = interpreter.find(declared.python_version)
    previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() and archive.is_file() else {}
    unchanged = {"requirementsSha256": requirements_sha, "bytecode": python is not None, "format": BUILD_FORMAT}
    if all(previous.get(key) == value for key, value in unchanged.items()):
        previous["lock"] = runtime.lock_digest()
        manifest_path.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
        return runtime.LayerBuild(archive, previous["packages"], previous["archiveSha256"], previous["bytecode"])

    with tempfile.TemporaryDirectory(prefix="signal9-layer-") as scratch:
        requirements_file = Path(scratch) / "requirements.txt"
        requirements_file.write_text(requirements)
        site = Path(scratch) / "python"
        target = ["--python-platform", declared.platform, "--python-version", declared.python_version]
        exact = ["--no-deps", "--require-hashes", "--only-binary", ":all:", "--no-compile"]
        _run([uv, "pip", "install", "--quiet", "--target", str(site), *target, *exact, "-r", str(requirements_file)])
        for cache in site.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        if python is not None:
            _compile(site, python)
        data = zip_files(_archive_files(site))
        packages = _distributions(site)
    if len(data) > DIRECT_UPLOAD_LIMIT_BYTES:
        raise LayerBuildError(
            f"the layer is {len(data) / 2**20:.1f} MiB zipped, over Lambda's {DIRECT_UPLOAD_LIMIT_BYTES // 2**20} MiB "
            "for a direct upload"
        )
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    manifest = {
        "runtime": declared.runtime,
        "architecture": declared.architecture,
        "platform": declared.platform,
        "lock": runtime.lock_digest(),
        "requirementsSha256": requirements_sha,
        "packages": packages,
        "archiveSha256": digest,
        "archiveBytes": len(data),
        "bytecode": python is not None,
        "format": BUILD_FORMAT,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return runtime.LayerBuild(archive, packages, digest, python is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signal9_tools.layer", description=__doc__.splitlines()[0])
    parser.add_argument("--uv", help="the uv executable (default: .tools/bin/uv, else uv on PATH)")
    arguments = parser.parse_args(argv)
    try:
        built = build(arguments.uv)
    except (LayerBuildError, runtime.RuntimeDeclarationError) as error:
        print(f"signal9 layer: {error}", file=sys.stderr)
        return 2
    declared = runtime.declared()
    versions = ", ".join(f"{name} {built.packages[name]}" for name in runtime.layer_requirements())
    compiled = "with byte code" if built.bytecode else f"WITHOUT byte code (no Python {declared.python_version} here)"
    print(
        f"signal9 layer: {built.archive.relative_to(runtime.ROOT)} for {declared.runtime}/{declared.architecture}: "
        f"{versions} ({len(built.packages)} distributions, {built.archive.stat().st_size / 2**20:.1f} MiB, {compiled})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
