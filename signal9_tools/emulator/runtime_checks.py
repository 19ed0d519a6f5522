"""Checks that the deployed functions run what the tests ran: runtime, layer and archives, as Lambda loads them."""

from __future__ import annotations

import functools
from typing import Any

from moto.awslambda.models import lambda_backends

from signal9 import catalog, runtime
from signal9_tools.emulator.execution import layer_parity, layer_top_level, missing_imports
from signal9_tools.emulator.report import expect
from signal9_tools.emulator.smoke import Smoke, function_environment


def _layer_bytes(smoke: Smoke, arn: str) -> bytes:
    """The layer version's archive as moto holds it (what the provisioner published)."""
    name, version = arn.split(":layer:", 1)[1].rsplit(":", 1)
    account = arn.split(":")[4]
    return bytes(lambda_backends[account][smoke.region].get_layer_version(name, version).code_bytes)


def check_runtime(smoke: Smoke) -> None:
    """Runtime, architecture and layer as declared; each function importable from its archive plus the layer."""
    declared = runtime.declared()
    configurations: dict[str, dict[str, Any]] = {
        f.name: smoke.configuration(smoke.naming.function(f.name)) for f in catalog.FUNCTIONS
    }

    def declared_runtime() -> str:
        for name, deployed in configurations.items():
            found = (deployed["Runtime"], deployed["Architectures"], [layer["Arn"] for layer in deployed["Layers"]])
            expect(
                found[:2] == (declared.runtime, [declared.architecture]) and len(found[2]) == 1,
                f"{name} runs {found[0]} on {found[1]} with layers {found[2]}; declared: {declared.runtime} on "
                f"{declared.architecture} with the stack's handler layer only",
            )
        layers = {deployed["Layers"][0]["Arn"] for deployed in configurations.values()}
        expect(len(layers) == 1, f"the functions list different layers: {sorted(layers)}")
        (layer,) = layers
        expect(f":layer:{smoke.naming.handler_layer}:" in layer, f"the functions' layer {layer} is not the stack's")
        return (
            f"{len(configurations)} functions: {declared.runtime} on {declared.architecture}, one layer "
            f"{layer.split(':layer:')[1]} (pyproject.toml [tool.signal9.lambda])"
        )

    @functools.cache  # read from moto once for both checks
    def deployed_layer() -> bytes:
        return _layer_bytes(smoke, next(iter(configurations.values()))["Layers"][0]["Arn"])

    def loads_as_lambda() -> str:
        provided = layer_top_level(deployed_layer())
        modules = 0
        for name, deployed in configurations.items():
            physical = deployed["FunctionName"]
            environment = smoke.environments.environment(physical, smoke.deployed_archive(physical))
            missing = missing_imports(environment.root, provided)
            expect(not missing, f"{name}: its deployed archive and layer lack {'; '.join(missing)}")
            with (
                function_environment(deployed["Environment"]["Variables"]),
                smoke.environments.entered(environment) as load,
            ):
                load(deployed["Handler"])
            modules += sum(1 for _ in environment.root.rglob("*.py"))
        return (
            f"{len(configurations)} handlers imported from their deployed archives (moto's copies) plus the layer; "
            f"every import in their {modules} modules, lazy ones included, resolves to the archive, the layer "
            f"({len(provided)} packages) or the standard library"
        )

    def layer_matches_tested() -> str:
        layer = deployed_layer()
        parity = layer_parity(layer)
        expect(not parity.missing, f"the layer's packages differ from those the handlers run on here: {parity.missing}")
        expect(
            parity.identical,
            f"{len(parity.differing)} of the layer's Python files differ from this interpreter's: {parity.differing[:3]}",
        )
        versions = ", ".join(f"{name} {version}" for name, version in runtime.handler_versions().items())
        return (
            f"{versions} and the rest of the deployed layer's {parity.distributions} distributions: the versions "
            f"and the {parity.compared_files} Python files the handlers ran on here (built from uv.lock; binary "
            f"extensions are built for {declared.platform} there)"
        )

    smoke.report.run("functions run the declared runtime", declared_runtime)
    smoke.report.run("functions load from their archives and the layer", loads_as_lambda)
    smoke.report.run("the layer holds what the handlers ran on", layer_matches_tested)
