"""Find an interpreter of the Lambda runtime's Python on this machine, without a hard-coded path.

``make`` creates ``.venv`` with it, so the tests and ``signal9 local`` run the handlers on the
Python Lambda runs (``signal9.runtime``); the layer builder compiles byte code with it. Looked for,
in order: ``python3.13`` on PATH (a pyenv shim that is not active for this directory fails to run
and is skipped), an interpreter uv already knows (its own managed ones; uv downloads nothing here),
and pyenv's installed versions (``pyenv root``). Standard library only: it runs before any
dependency is installed (``python3 -m signal9_tools.interpreter``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from signal9 import runtime

PROBE = "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"


def _probe(executable: str, version: str) -> str | None:
    """The interpreter's real path when it runs and is ``version``, else None."""
    try:
        done = subprocess.run([executable, "-c", PROBE], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    lines = done.stdout.split()
    return lines[0] if done.returncode == 0 and len(lines) == 2 and lines[1] == version else None


def _patch_level(path: Path) -> tuple[int, ...]:
    """(3, 13, 2) for .../versions/3.13.2/bin/python3.13; pre-releases sort first."""
    return tuple(int(part) if part.isdigit() else -1 for part in path.parent.parent.name.split("."))


def _candidates(version: str, uv: str | None) -> list[str]:
    found = [path for path in (shutil.which(f"python{version}"),) if path]
    if uv:
        done = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", "--no-project", version],
            capture_output=True,
            text=True,
            check=False,
        )
        found += done.stdout.split()[:1] if done.returncode == 0 else []
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
        if root:
            installed = Path(root, "versions").glob(f"{version}.*/bin/python{version}")
            found += [str(path) for path in sorted(installed, key=_patch_level, reverse=True)]
    return found


def find(version: str | None = None, uv: str | None = None) -> str | None:
    """An interpreter of ``version`` (default: the Lambda runtime's), or None when this machine has none."""
    version = version or runtime.declared().python_version
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    for candidate in _candidates(version, uv):
        path = _probe(candidate, version)
        if path:
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    """Print the interpreter's path; with none, say so on stderr in one line and print nothing."""
    arguments = sys.argv[1:] if argv is None else argv
    uv = arguments[0] if arguments else None
    declared = runtime.declared()
    path = find(declared.python_version, uv)
    if path is None:
        print(
            f"signal9: no Python {declared.python_version} interpreter found (Lambda runs {declared.runtime}): "
            f"the handlers run on this machine's Python {sys.version_info.major}.{sys.version_info.minor} instead",
            file=sys.stderr,
        )
        return 0
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
