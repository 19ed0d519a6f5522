"""`signal9 local up --stack staging`: the customer managed key deployed, judged and enforced in moto."""

from __future__ import annotations

import json

import boto3
import pytest

from signal9.naming import Naming
from signal9_tools.emulator.cli import LocalRun, deploy_and_smoke
from signal9_tools.mockrun import ProgramRun
from tests.local_support import SMALL_UNIVERSE

SECURITY_CHECKS = (
    "encryption and tracing as configured",
    "roles use only the stack key",
    "role credentials cannot decrypt with an ungranted key",
)


@pytest.fixture(scope="module")
def staging_run() -> LocalRun:
    return deploy_and_smoke("staging", universe=SMALL_UNIVERSE)


def test_staging_with_the_customer_managed_key_passes_every_check(staging_run: LocalRun) -> None:
    assert staging_run.report.failed == [], staging_run.text()
    details = {check.name: check.detail for check in staging_run.report.checks}
    assert "on the stack key;" in details[SECURITY_CHECKS[0]]
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

    run = deploy_and_smoke("staging", on_deployed=weaken, scope="configuration")  # nothing to invoke
    failed = {check.name: check.detail for check in run.report.failed}
    assert set(failed) == set(SECURITY_CHECKS), run.text()
    assert not any(check.name.endswith(" fired") or check.name.startswith("collected") for check in run.report.checks)
    assert "the stack key does not rotate" in failed[SECURITY_CHECKS[0]]
    assert "signal9-staging-SyncAssets may kms:Decrypt with a key it was not granted" in failed[SECURITY_CHECKS[1]]
    assert "SyncAssets's role decrypted with a key it was not granted" in failed[SECURITY_CHECKS[2]]
