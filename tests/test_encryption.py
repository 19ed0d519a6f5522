"""The stack KMS key: selected per stack, used by every data store, named exactly in its policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signal9 import catalog, config, iam, keys
from signal9.naming import Naming
from signal9.policy_rules import KEY_INPUTS, TOPIC
from signal9_tools.mockrun import ProgramRun

REGION = "us-east-1"
ACCOUNT = "123456789012"


def key_policy(run: ProgramRun) -> dict[str, Any]:
    (key,) = run.of_type("aws:kms/key:Key")
    document: dict[str, Any] = json.loads(key.plain_inputs["policy"])
    return document


def key_inputs(run: ProgramRun) -> list[tuple[str, Any]]:
    """(resource name, the KMS key it names) for every data store in the plan."""
    found = []
    for kind, path in KEY_INPUTS.items():
        for resource in run.of_type(kind):
            value: Any = resource.plain_inputs
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            found.append((resource.name, value))
    return found


def test_staging_and_prod_default_to_the_customer_managed_key() -> None:
    assert config.parse({}, "Pulumi.staging.yaml").customer_managed_key
    assert config.parse({}, "Pulumi.prod.yaml").customer_managed_key
    assert not config.parse({}, "Pulumi.dev.yaml").customer_managed_key
    assert config.parse({"encryption": "customer-managed"}, "Pulumi.dev.yaml").customer_managed_key


def test_staging_and_prod_refuse_aws_owned_keys() -> None:
    with pytest.raises(config.ConfigError) as error:
        config.parse({"encryption": "aws-owned"}, "Pulumi.prod.yaml")
    assert str(error.value) == (
        "Pulumi.prod.yaml: signal9:encryption = 'aws-owned': must be 'customer-managed' on this stack "
        "(FSBP review: customer managed key outside dev)"
    )


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_data_store_uses_the_one_stack_key(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    (key,) = run.of_type("aws:kms/key:Key")
    stores = key_inputs(run)
    arns = {value for _, value in stores}
    assert len(arns) == 1 and next(iter(arns)).startswith(f"arn:aws:kms:{REGION}:"), stores
    # 8 tables, 7 DLQs, 2 secrets, 7 log groups, 7 functions, 5 schedules, the topic.
    assert len(stores) == 8 + 7 + 2 + 7 + 7 + 5 + 1
    assert key.plain_inputs["enableKeyRotation"] is True
    assert all(r.plain_inputs["serverSideEncryption"]["enabled"] for r in run.of_type("aws:dynamodb/table:Table"))
    assert not any(r.plain_inputs.get("sqsManagedSseEnabled") for r in run.of_type("aws:sqs/queue:Queue"))


def test_dev_keeps_aws_owned_keys_except_for_the_alarm_topic(dev: ProgramRun) -> None:
    named = {name: value for name, value in key_inputs(dev)}
    (topic,) = dev.of_type(TOPIC)
    assert named.pop(topic.name, "").startswith("arn:aws:kms:")
    assert set(named.values()) == {None}
    assert all(
        r.plain_inputs["serverSideEncryption"] == {"enabled": False} for r in dev.of_type("aws:dynamodb/table:Table")
    )
    assert all(r.plain_inputs["sqsManagedSseEnabled"] is True for r in dev.of_type("aws:sqs/queue:Queue"))
    sids = [s["Sid"] for s in key_policy(dev)["Statement"]]
    assert sids == ["AccountAdministersKey", "CloudWatchAlarmsPublish"]


def test_key_policy_names_exactly_the_stack_roles_and_services(prod: ProgramRun) -> None:
    statements = {s["Sid"]: s for s in key_policy(prod)["Statement"]}
    roles = statements["Signal9RolesUseKeyViaServices"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    deployed_roles = {
        f"arn:aws:iam::{ACCOUNT}:role/{r.plain_inputs['name']}" for r in prod.of_type("aws:iam/role:Role")
    }
    assert set(roles) == deployed_roles  # every role the program makes, no other
    assert statements["Signal9RolesUseKeyViaServices"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    # The key policy admits exactly the services the role policies use it through.
    via = statements["Signal9RolesUseKeyViaServices"]["Condition"]["StringEquals"]["kms:ViaService"]
    used = {s for f in catalog.FUNCTIONS for s in iam.function_key_services(f)} | set(iam.SCHEDULER_KEY_SERVICES)
    assert sorted(via) == sorted(f"{s}.{REGION}.amazonaws.com" for s in used)
    logs = statements["CloudWatchLogsEncryptFunctionLogs"]
    assert logs["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].endswith(
        ":log-group:/aws/lambda/signal9-prod-*"
    )
    events = statements["EventBridgeRulesDeadLetter"]["Condition"]["ArnLike"]["aws:SourceArn"]
    assert events == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/signal9-prod/*"


def role_policy(run: ProgramRun, name: str) -> dict[str, Any]:
    (policy,) = [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == name]
    document: dict[str, Any] = json.loads(policy.plain_inputs["policy"])
    return document


@pytest.mark.parametrize("function", catalog.FUNCTIONS, ids=catalog.FUNCTION_NAMES)
def test_roles_use_the_key_only_through_their_services(
    prod: ProgramRun, dev: ProgramRun, function: catalog.Function
) -> None:
    (statement,) = [
        s
        for s in role_policy(prod, f"{function.name}-role-policy")["Statement"]
        if s["Sid"] == "UseStackKeyViaServices"
    ]
    assert statement["Action"] == list(iam.ROLE_KEY_ACTIONS)
    assert len(statement["Resource"]) == 1 and ":kms:" in statement["Resource"][0]
    services = set(statement["Condition"]["StringEquals"]["kms:ViaService"])
    expected = (
        {"lambda", "sqs"}
        | ({"dynamodb"} if function.tables else set())
        | ({"secretsmanager"} if function.secret else set())
    )
    assert services == {f"{s}.{REGION}.amazonaws.com" for s in expected}
    assert not [
        s for s in role_policy(dev, f"{function.name}-role-policy")["Statement"] if "kms:Decrypt" in s["Action"]
    ]


def test_scheduler_role_uses_the_key_through_scheduler_and_sqs(prod: ProgramRun) -> None:
    (statement,) = [
        s for s in role_policy(prod, "scheduler-role-policy")["Statement"] if s.get("Sid") == "UseStackKeyViaServices"
    ]
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"{s}.{REGION}.amazonaws.com" for s in iam.SCHEDULER_KEY_SERVICES
    ]


def test_key_principals_are_the_roles_naming_derives() -> None:
    scope = keys.KeyScope(Naming("prod"), ACCOUNT, "aws", REGION)
    assert keys.key_principals(scope)[-1] == f"arn:aws:iam::{ACCOUNT}:role/signal9-prod-scheduler"
    assert len(keys.key_principals(scope)) == len(catalog.FUNCTIONS) + 1
