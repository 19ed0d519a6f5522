"""What runs in Lambda is what was tested: one declared runtime, one layer built from uv.lock.

The runtime is declared once (pyproject.toml ``[tool.signal9.lambda]`` and the ``lambda`` group,
resolved by uv.lock; ``signal9.runtime``). These tests hold the layer ``make layer`` built, the
interpreter running the suite, the program's functions and the emulator's loading to it.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from components import packaging
from signal9 import catalog, config, runtime
from signal9.naming import Naming
from signal9_tools import interpreter
from signal9_tools.emulator.cli import deploy_and_smoke
from signal9_tools.emulator.execution import ExecutionEnvironments, layer_parity, layer_top_level, missing_imports
from signal9_tools.mockrun import ProgramRun
from tests.local_support import SMALL_UNIVERSE

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)

FUNCTION = "aws:lambda/function:Function"
LAYER_VERSION = "aws:lambda/layerVersion:LayerVersion"


@pytest.fixture(scope="module")
def layer() -> runtime.LayerBuild:
    return runtime.built_layer()


def test_the_layer_holds_the_versions_this_suite_runs_on(layer: runtime.LayerBuild) -> None:
    """Each distribution in the layer is installed here at the same version, and nothing the handlers need is missing."""
    here = {name: runtime.installed_version(name) for name in layer.packages}
    assert here == layer.packages, "the layer and the interpreter running the tests disagree: run make install"
    assert set(runtime.handler_versions()) <= set(layer.packages)
    for name, version in runtime.handler_versions().items():
        assert layer.packages[name] == version == importlib.metadata.version(name)


def test_the_layer_files_are_the_files_the_handlers_run_on(layer: runtime.LayerBuild) -> None:
    parity = layer_parity(layer.archive.read_bytes())
    assert parity.identical, (parity.missing, parity.differing[:5])
    assert parity.compared_files > 500  # Powertools, pydantic, boto3 and botocore: hundreds of modules
    assert parity.distributions == len(layer.packages)


def test_a_layer_that_differs_from_the_interpreter_is_named(layer: runtime.LayerBuild) -> None:
    """Moving one side: a layer whose Powertools is another release, or whose module was edited, fails parity."""
    source = zipfile.ZipFile(layer.archive)
    renamed = io.BytesIO()
    with zipfile.ZipFile(renamed, "w") as target:
        for entry in source.infolist():
            name = entry.filename.replace(
                "aws_lambda_powertools-3.37.0.dist-info", "aws_lambda_powertools-3.36.0.dist-info"
            )
            data = source.read(entry)
            if entry.filename == "python/aws_lambda_powertools/__init__.py":
                data += b"\n# edited\n"
            target.writestr(name, data)
    parity = layer_parity(renamed.getvalue())
    assert not parity.identical
    assert any(m.startswith("aws_lambda_powertools 3.36.0 (here: 3.37.0)") for m in parity.missing), parity.missing
    assert "pydantic" not in " ".join(parity.missing)


def test_the_lock_and_the_pins_must_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    locked = dict(runtime.locked_versions())
    locked["aws-lambda-powertools"] = ("3.36.0",)
    monkeypatch.setattr(runtime, "locked_versions", lambda: locked)
    with pytest.raises(runtime.RuntimeDeclarationError, match=r"aws-lambda-powertools==3\.37\.0.*uv\.lock has"):
        runtime.handler_versions()


def test_a_stale_or_missing_layer_stops_the_program_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "LAYER_DIRECTORY", tmp_path)
    with pytest.raises(runtime.LayerNotBuiltError, match=r"is not built: run `make layer`"):
        runtime.built_layer()
    archive, manifest = runtime.layer_paths()
    archive.write_bytes(b"zip")
    built = {"runtime": "python3.13", "architecture": "arm64", "lock": "0" * 64}
    manifest.write_text(json.dumps({**built, "packages": {}, "archiveSha256": "", "bytecode": True}))
    with pytest.raises(runtime.LayerNotBuiltError, match=r"built for another lock: run `make layer`"):
        runtime.built_layer()


def test_every_function_runs_the_declared_runtime_with_the_stacks_layer(plans: dict[str, ProgramRun]) -> None:
    declared = runtime.declared()
    assert (declared.runtime, declared.architecture) == ("python3.13", "arm64")
    for stack, run in plans.items():
        (layer,) = run.of_type(LAYER_VERSION)
        inputs = layer.plain_inputs
        assert inputs["layerName"] == Naming(stack).handler_layer
        assert inputs["compatibleRuntimes"] == [declared.runtime]
        assert inputs["compatibleArchitectures"] == [declared.architecture]
        assert Path(inputs["code"].path).resolve() == runtime.layer_paths()[0]
        functions = run.to_json()["functions"]
        assert len(functions) == len(catalog.FUNCTIONS)
        for name, described in functions.items():
            assert described["runtime"] == declared.runtime, name
            assert described["architecture"] == declared.architecture, name
            assert described["layers"] == [f"arn:aws:lambda:{run.region}:123456789012:layer:{inputs['layerName']}:1"]
            assert described["powertoolsVersion"] == runtime.handler_versions()["aws-lambda-powertools"]
            assert described["sdkVersion"] == runtime.handler_versions()["boto3"]


def test_a_stack_cannot_select_a_layer_or_runtime() -> None:
    for key, value in (("powertoolsLayerVersion", 31), ("runtime", "python3.12"), ("layers", ["arn:x"])):
        with pytest.raises(config.ConfigError) as raised:
            config.parse({key: value}, "Pulumi.dev.yaml")
        assert str(raised.value).startswith(f"Pulumi.dev.yaml: signal9:{key} = ")
    with pytest.raises(config.ConfigError, match="no longer a setting: every stack runs the handlers' layer built"):
        config.parse({"powertoolsLayerVersion": 31}, "Pulumi.dev.yaml")


def _archive_tree(tmp_path: Path, function: catalog.Function) -> Path:
    root = tmp_path / function.package
    with zipfile.ZipFile(io.BytesIO(packaging.zip_bytes(function))) as bundle:
        bundle.extractall(root)
    return root


@pytest.fixture(scope="module")
def provided(layer: runtime.LayerBuild) -> frozenset[str]:
    return layer_top_level(layer.archive.read_bytes())


def test_every_archive_resolves_every_import(tmp_path: Path, provided: frozenset[str]) -> None:
    assert {"aws_lambda_powertools", "pydantic", "pydantic_core", "boto3", "botocore", "aws_xray_sdk"} <= provided
    for function in catalog.FUNCTIONS:
        assert missing_imports(_archive_tree(tmp_path, function), provided) == [], function.name


def test_a_module_missing_from_an_archive_is_named_lazy_imports_included(
    tmp_path: Path, provided: frozenset[str]
) -> None:
    root = _archive_tree(tmp_path, catalog.function("PollenateAsset"))
    (root / "functions" / "shared" / "retry.py").unlink()
    lazy = root / "functions" / "pollenate_asset" / "lazy.py"
    lazy.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import mypy_boto3_dynamodb\n"
        "def later():\n    import requests\n    from . import nowhere\n    from functions.shared import env, gone\n"
    )
    missing = missing_imports(root, provided)
    assert "functions.pollenate_asset.lazy: requests" in missing
    assert "functions.pollenate_asset.lazy: functions.pollenate_asset.nowhere" in missing
    assert "functions.pollenate_asset.lazy: functions.shared.gone" in missing
    assert any(m.endswith(": functions.shared.retry") for m in missing), missing
    assert not any("mypy_boto3" in m or m.endswith("functions.shared.env") for m in missing), missing


def test_handlers_load_from_their_archive_not_the_source_tree(tmp_path: Path) -> None:
    """A function's modules come from its archive, in its own environment; the tooling's copies are untouched."""
    import functions.shared.retry as tooling_retry

    function = catalog.function("MarkEarningsProcessed")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, path in packaging.archive_files(function).items():
            if name != "functions/shared/retry.py":
                bundle.writestr(name, path.read_bytes())
    environments = ExecutionEnvironments()
    try:
        environment = environments.environment("signal9-dev-MarkEarningsProcessed", archive.getvalue())
        with environments.entered(environment) as load:
            handler = load(packaging.handler(function))
            assert handler.__module__ == "functions.mark_earnings_processed.handler"
            assert str(sys.modules["functions"].__file__).startswith(str(environment.root))
            with pytest.raises(
                ModuleNotFoundError, match=r"signal9-dev-MarkEarningsProcessed: functions\.shared\.retry"
            ):
                load("functions.shared.retry.pause")
        assert sys.modules["functions.shared.retry"] is tooling_retry
        assert str(environment.modules["functions"].__file__).startswith(str(environment.root))
    finally:
        environments.close()


def test_make_local_fails_naming_the_function_and_the_module_missing_from_its_archive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive_files = packaging.archive_files

    def without_retry(function: catalog.Function, root: Path = packaging.ROOT) -> dict[str, Path]:
        files = archive_files(function, root)
        if function.name == "SyncNewsSentiment":
            files.pop("functions/shared/retry.py")
        return files

    monkeypatch.setattr(packaging, "archive_files", without_retry)
    run = deploy_and_smoke("dev", scope="configuration", universe=SMALL_UNIVERSE)
    failed = {check.name: check.detail for check in run.report.failed}
    assert list(failed) == ["functions load from their archives and the layer"], failed
    detail = failed["functions load from their archives and the layer"]
    assert "SyncNewsSentiment: its deployed archive and layer lack" in detail
    assert "functions.shared.retry" in detail


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_the_lambda_python_is_found_on_path_or_through_pyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No hard-coded path: a runnable python3.X on PATH wins; a broken shim is skipped for pyenv's installs."""
    bin_dir, pyenv_root = tmp_path / "bin", tmp_path / "pyenv"
    bin_dir.mkdir()
    real = pyenv_root / "versions" / "3.99.2" / "bin" / "python3.99"
    real.parent.mkdir(parents=True)
    _executable(real, f"#!/bin/sh\necho {real}; echo 3.99\n")
    _executable(bin_dir / "python3.99", "#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2; exit 127\n")
    _executable(bin_dir / "pyenv", f"#!/bin/sh\necho {pyenv_root}\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert interpreter.find("3.99") == str(real)
    os.remove(bin_dir / "pyenv")
    assert interpreter.find("3.99") is None
    _executable(bin_dir / "python3.99", f"#!/bin/sh\necho {bin_dir}/python3.99; echo 3.99\n")
    assert interpreter.find("3.99") == f"{bin_dir}/python3.99"


def test_the_suite_says_what_it_runs_on() -> None:
    summary = runtime.running_summary()
    versions = runtime.handler_versions()
    assert all(f"{name} {version}" in summary for name, version in versions.items())
    if f"{sys.version_info.major}.{sys.version_info.minor}" == runtime.declared().python_version:
        assert "(Lambda: python3.13 arm64)" in summary
    else:  # this machine has no Python 3.13: said, never pretended
        assert "NOT Lambda's python3.13" in summary
