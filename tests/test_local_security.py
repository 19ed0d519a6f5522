"""`signal9 local up --stack staging`: the customer managed key deployed, judged and enforced in moto.

The staging run also takes the given-endpoints path (`--alpaca-url/--alpaca-data-url/
--alphavantage-url`, keys from the environment), pointed at a second instance of the fakes:
a stack that is not dev, against endpoints it was given, as a staging environment runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from signal9.naming import Naming
from signal9_tools.emulator.cli import LocalRun, deploy_and_smoke
from signal9_tools.emulator.collection import given_endpoints
from signal9_tools.emulator.snapshot import DeploySnapshot
from signal9_tools.fakes.alpaca import AlpacaFake
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.server import FakeServer, serving
from signal9_tools.mockrun import ProgramRun
from tests.local_support import SMALL_UNIVERSE

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)

SECURITY_CHECKS = (
    "verify: stack key",  # signal9 verify's check, run on the emulated stack
    "roles use only the stack key",
    "role credentials cannot decrypt with an ungranted key",
)


@dataclass(frozen=True)
class GivenRun:
    run: LocalRun
    alpaca: AlpacaFake
    alpaca_server: FakeServer
    alphavantage_server: FakeServer
    served: set[str]


# The staging stack as shipped (its customer managed key), deployed once for this file's two runs.
STAGING_AS_SHIPPED = DeploySnapshot()


@pytest.fixture(scope="module")
def given_run() -> Iterator[GivenRun]:
    # A second instance of the fakes, on other ports, with another universe size: never a real API.
    alpaca, alphavantage = AlpacaFake(size=SMALL_UNIVERSE), AlphaVantageFake(SMALL_UNIVERSE)
    with serving(alpaca) as alpaca_server, serving(alphavantage) as alphavantage_server:
        environ = {
            "SIGNAL9_ALPACA_KEY_ID": alpaca.key_id,
            "SIGNAL9_ALPACA_SECRET_KEY": alpaca.secret_key,
            "SIGNAL9_ALPHAVANTAGE_API_KEY": alphavantage.api_key,
        }
        endpoints = given_endpoints(alpaca_server.url, alpaca_server.url, alphavantage_server.url, environ)
        # Given endpoints are paced in real time (they may be the real APIs); these fakes enforce no rate.
        run = deploy_and_smoke("staging", endpoints=endpoints, compressed_pacing=True, snapshot=STAGING_AS_SHIPPED)
        served = {r.path for r in alpaca_server.requests} | {r.path for r in alphavantage_server.requests}
        yield GivenRun(run, alpaca, alpaca_server, alphavantage_server, served)


@pytest.fixture(scope="module")
def staging_run(given_run: GivenRun) -> LocalRun:
    return given_run.run


def test_staging_with_the_customer_managed_key_passes_every_check(staging_run: LocalRun) -> None:
    assert staging_run.report.failed == [], staging_run.text()
    details = {check.name: check.detail for check in staging_run.report.checks}
    # The data stores on the stack key: verify's checks compare each key with the plan's.
    for check in ("tables", "functions", "schedules", "queues and topic", "log groups", "secrets"):
        assert details[f"verify: {check}"].endswith("as the plan, catalog and stack config say")
    assert "on the stack key allowed" in details[SECURITY_CHECKS[1]]
    assert "ungranted key denied by moto; with the stack key allowed" in details[SECURITY_CHECKS[2]]


def test_a_decrypt_grant_on_every_key_and_a_key_without_rotation_are_caught() -> None:
    naming = Naming("staging")

    def weaken(plan: ProgramRun) -> None:
        boto3.client("iam", region_name=plan.region).put_role_policy(
            RoleName=naming.role("SyncAssets"),
            PolicyName="decrypt-anything",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}
            ),
        )
        kms = boto3.client("kms", region_name=plan.region)
        kms.disable_key_rotation(KeyId=kms.describe_key(KeyId=f"alias/{naming.prefix}")["KeyMetadata"]["KeyId"])

    # Nothing to invoke: the configuration checks only.
    run = deploy_and_smoke("staging", on_deployed=weaken, scope="configuration", snapshot=STAGING_AS_SHIPPED)
    failed = {check.name: check.detail for check in run.report.failed}
    assert set(failed) == set(SECURITY_CHECKS), run.text()
    assert not any(check.name.endswith(" fired") or check.name.startswith("collected") for check in run.report.checks)
    assert "stack key rotates alias/signal9-staging: expected True, found False" in failed[SECURITY_CHECKS[0]]
    assert "signal9-staging-SyncAssets may kms:Decrypt with a key it was not granted" in failed[SECURITY_CHECKS[1]]
    assert "SyncAssets's role decrypted with a key it was not granted" in failed[SECURITY_CHECKS[2]]


def test_local_up_against_given_endpoints_asserts_invariants(given_run: GivenRun) -> None:
    checks = {check.name: check.detail for check in given_run.run.report.checks}
    alpaca, alphavantage = given_run.alpaca_server.url, given_run.alphavantage_server.url
    assert checks["credentials stored"] == (
        f"both secrets point at the given endpoints: alpaca {alpaca} (data {alpaca}), alphavantage {alphavantage}"
    )
    active = len(given_run.alpaca.active_symbols())
    assert checks["collected: assets"] == f"assets: {active} active, {active} with volume, each once in both indexes"
    assert "failing collector run ends in its DLQ" not in checks  # a given endpoint cannot be told to fail
    assert {"/v2/assets", "/v2/stocks/bars", "/query"} <= given_run.served
