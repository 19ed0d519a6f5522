"""Every KMS call a deploy makes on a key, judged against that key's own policy for the principal
that makes it: the bootstrap's administrator for the bootstrap keys, the deploy role for a stack key.

AWS KMS authorises a call on a key by the key policy first (an IAM policy counts only where the
key policy delegates to the account); moto evaluates no key policy, and the Service Authorization
Reference check judges identity policies only, so neither sees a key policy that refuses the deploy.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from signal9 import bootstrap_policies, deploy_policy, keys
from signal9.stackfile import BOOTSTRAP_PROJECT
from signal9_tools import preflight
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun, run_program
from signal9_tools.policy_check import KeyCaller, key_call_problems, key_policy_refusal

ADMINISTRATOR = KeyCaller("the administrator", ACCOUNT_ID)
DEPLOY_ROLE = KeyCaller("the deploy role", ACCOUNT_ID, f"arn:aws:iam::{ACCOUNT_ID}:role/signal9-deploy-dev")
EVERY_KEY_CALL = deploy_policy.key_calls({"aws:kms/key:Key", "aws:kms/alias:Alias"}, service_use=True)


@pytest.fixture(scope="module")
def bootstrap() -> ProgramRun:
    return run_program("main", project=BOOTSTRAP_PROJECT)


def test_the_administrator_may_make_every_call_of_the_bootstrap_on_its_keys(bootstrap: ProgramRun) -> None:
    """`pulumi up` in bootstrap/ creates both keys and their aliases: CreateAlias needs the key policy."""
    keys_ = bootstrap.of_type("aws:kms/key:Key")
    assert {k.name for k in keys_} == {"state-key", "secrets-key"}
    assert preflight.key_problems(bootstrap) == []
    calls = deploy_policy.key_calls({r.type for r in bootstrap.resources}, service_use=False)
    assert {"kms:CreateAlias", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion"} <= set(calls)


def test_bootstrap_keys_delegate_administration_never_data_use() -> None:
    policy = json.loads(bootstrap_policies.key_policy(ACCOUNT_ID, {}))
    assert key_policy_refusal(policy, ADMINISTRATOR, "kms:CreateAlias") is None
    for data_use in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"):
        assert key_policy_refusal(policy, ADMINISTRATOR, data_use) is not None


def test_a_key_policy_without_an_alias_action_is_named() -> None:
    policy = json.loads(bootstrap_policies.key_policy(ACCOUNT_ID, {}))
    policy["Statement"][0]["Action"].remove("kms:CreateAlias")
    assert [str(p) for p in key_call_problems(policy, "state-key", ADMINISTRATOR, ["kms:CreateAlias"])] == [
        "state-key: the administrator may not kms:CreateAlias on this key: no statement allows it "
        "to the caller, nor delegates it to the account's IAM policies"
    ]


def narrowed(policy: dict[str, Any], removed: str) -> dict[str, Any]:
    """The stack key policy with the account's statement narrowed to every key call but ``removed``."""
    statements = policy["Statement"]
    statements[0] = {**statements[0], "Action": [a for a in EVERY_KEY_CALL if a != removed]}
    return policy


def test_every_stack_key_lets_its_deploy_role_make_every_call(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        assert preflight.key_problems(run) == [], stack


def test_a_stack_key_policy_that_drops_an_action_the_deploy_role_uses_fails_preflight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = keys.key_policy
    monkeypatch.setattr(keys, "key_policy", lambda *args: narrowed(original(*args), "kms:PutKeyPolicy"))
    result = preflight.preflight("dev")
    assert [str(p) for p in result.problems] == [
        "stack-key (aws:kms/key:Key): the deploy role signal9-deploy-dev may not kms:PutKeyPolicy "
        "on this key: no statement allows it to the caller, nor delegates it to the account's IAM policies"
    ]


def test_conditions_a_direct_call_cannot_meet_do_not_allow_it() -> None:
    via_service = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
            }
        ]
    }
    assert key_policy_refusal(via_service, DEPLOY_ROLE, "kms:CreateAlias") is not None
    by_arn = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": ["kms:Create*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/signal9-deploy-*"}},
            },
            {"Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"},
        ]
    }
    assert key_policy_refusal(by_arn, DEPLOY_ROLE, "kms:CreateAlias") is None
    assert key_policy_refusal(by_arn, ADMINISTRATOR, "kms:CreateAlias") is not None  # its ARN is not known
    assert key_policy_refusal(by_arn, DEPLOY_ROLE, "kms:ScheduleKeyDeletion") == "statement 1 denies it"
