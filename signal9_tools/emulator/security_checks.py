"""The smoke's security checks: keys, tracing and the bus policy as deployed, and KMS under IAM.

- ``encryption and tracing as configured``: read back from moto, every data store names the
  stack key exactly when the stack selects ``customer-managed`` (else none), the key rotates,
  every function traces actively and the bus has a resource policy naming only producer roles.
- ``roles use only the stack key``: each deployed role policy (and the Scheduler role's),
  judged by moto's IAM policy evaluator: kms:Decrypt/GenerateDataKey allowed on the stack key
  exactly when the stack encrypts its data with it, denied on any other key and on "*", and no
  other kms action. moto's evaluator ignores conditions, so the ``kms:ViaService`` limit is
  judged by the policy rules and tests/test_encryption.py, not here.
- ``role credentials cannot decrypt with an ungranted key``: with each function role's own
  credentials and moto's request-time IAM enforcement, Decrypt with a key no role was granted
  is denied, and Decrypt with the stack key succeeds only where the role was granted it. moto
  authorises KMS requests against ``*``; while this check runs the emulator makes it authorise
  them against the key's ARN, as AWS does.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication
from moto.kms.responses import KmsResponse

from signal9 import catalog, keys

# Module import: smoke.py imports this module too.
from signal9_tools.emulator import smoke as base

KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
# kms actions no role may have on any key.
FORBIDDEN_KEY_ACTIONS = ("kms:Encrypt", "kms:CreateGrant", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy")


def stack_key_arn(smoke: base.Smoke) -> str:
    arn: str = smoke.client("kms").describe_key(KeyId=f"alias/{smoke.naming.prefix}")["KeyMetadata"]["Arn"]
    return arn


def role_names(smoke: base.Smoke) -> list[str]:
    return [smoke.naming.role(name) for name in (*catalog.FUNCTION_NAMES, keys.SCHEDULER_ROLE)]


@contextlib.contextmanager
def kms_authorised_by_key_arn() -> Iterator[None]:
    """Make moto authorise KMS requests against the key's ARN (it uses "*"), as AWS does."""

    def determine_resource(self: KmsResponse) -> str:
        key_id = self._get_param("KeyId")
        if not key_id:
            return "*"
        return str(self.kms_backend.describe_key(key_id).arn)

    KmsResponse._determine_resource = determine_resource  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del KmsResponse._determine_resource  # type: ignore[attr-defined]


def check_configuration(smoke: base.Smoke) -> str:
    customer_managed = smoke.config.customer_managed_key
    key = stack_key_arn(smoke)
    expected = key if customer_managed else None
    kms = smoke.client("kms")
    base.expect(kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"], "the stack key does not rotate")
    found: dict[str, Any] = {}
    dynamodb = smoke.client("dynamodb")
    for table in catalog.TABLES:
        description = dynamodb.describe_table(TableName=smoke.naming.table(table.name))["Table"]
        found[f"table {table.name}"] = description.get("SSEDescription", {}).get("KMSMasterKeyArn")
    sqs = smoke.client("sqs")
    for function in catalog.FUNCTIONS:
        url = sqs.get_queue_url(QueueName=smoke.naming.dead_letter_queue(function.name))["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        found[f"queue {function.name}"] = attributes.get("KmsMasterKeyId")
        if not customer_managed:
            base.expect(attributes.get("SqsManagedSseEnabled") == "true", f"{function.name} DLQ is not encrypted")
    secrets = smoke.client("secretsmanager")
    for secret in catalog.SECRETS:
        found[f"secret {secret.name}"] = secrets.describe_secret(SecretId=smoke.naming.secret(secret.name)).get(
            "KmsKeyId"
        )
    for function in catalog.FUNCTIONS:
        found[f"log group {function.name}"] = smoke.log_group(function.name).get("kmsKeyId")
        deployed = smoke.configuration(smoke.naming.function(function.name))
        found[f"function {function.name}"] = deployed.get("KMSKeyArn")
        base.expect(
            deployed.get("TracingConfig", {}).get("Mode") == "Active", f"{function.name} is not traced actively"
        )
    scheduler = smoke.client("scheduler")
    for function in catalog.scheduled_functions():
        schedule = catalog.schedule_trigger(function).schedule
        found[f"schedule {schedule}"] = scheduler.get_schedule(
            Name=smoke.naming.schedule(schedule), GroupName=smoke.naming.schedule_group
        ).get("KmsKeyArn")
    wrong = {store: value for store, value in found.items() if value != expected}
    base.expect(not wrong, f"expected key {expected}, found {wrong}")
    topic = smoke.client("sns").get_topic_attributes(TopicArn=smoke.plan.outputs["alarmTopicArn"])["Attributes"]
    base.expect(topic.get("KmsMasterKeyId") == key, "the alarm topic does not use the stack key")
    policy = json.loads(smoke.client("events").describe_event_bus(Name=smoke.naming.event_bus)["Policy"])
    allowed = [p for s in policy["Statement"] if s["Effect"] == "Allow" for p in s["Principal"]["AWS"]]
    producers = {smoke.naming.role(f.name) for f in catalog.FUNCTIONS if f.emits}
    base.expect({arn.rsplit("/", 1)[-1] for arn in allowed} == producers, f"bus policy allows {allowed}")
    which = "the stack key" if customer_managed else "AWS owned keys (the stack key only on the alarm topic)"
    return (
        f"{len(found)} data stores on {which}; key rotates; {len(catalog.FUNCTIONS)} functions traced; "
        f"bus policy allows only {', '.join(sorted(producers))}"
    )


def check_key_grants(smoke: base.Smoke, foreign_key: str) -> str:
    iam = smoke.client("iam")
    key = stack_key_arn(smoke)
    granted = smoke.config.customer_managed_key
    checked = 0
    for role in role_names(smoke):
        policies = base.role_policies(iam, role)
        for action in KEY_ACTIONS:
            base.expect(
                base.permitted(policies, action, key) == granted, f"{role}: {action} on the stack key is {not granted}"
            )
            base.expect(
                not base.permitted(policies, action, foreign_key), f"{role} may {action} with a key it was not granted"
            )
            base.expect(not base.permitted(policies, action, "*"), f"{role} may {action} on every key")
        for action in FORBIDDEN_KEY_ACTIONS:
            base.expect(not base.permitted(policies, action, key), f"{role} may {action} on the stack key")
        checked += 3 * len(KEY_ACTIONS) + len(FORBIDDEN_KEY_ACTIONS)
    use = "allowed" if granted else "denied (aws-owned stack)"
    return (
        f"{checked} kms calls judged on {len(role_names(smoke))} deployed role policies: Decrypt/GenerateDataKey on "
        f"the stack key {use}; any other key, '*' and every other kms action denied (kms:ViaService not evaluated by moto)"
    )


def check_decrypt_with_role_credentials(smoke: base.Smoke, foreign_key: str) -> str:
    kms = smoke.client("kms")
    key = stack_key_arn(smoke)
    stack_blob = kms.encrypt(KeyId=key, Plaintext=b"signal9-local-test")["CiphertextBlob"]
    foreign_blob = kms.encrypt(KeyId=foreign_key, Plaintext=b"signal9-local-test")["CiphertextBlob"]
    granted = smoke.config.customer_managed_key
    clients = {f.name: smoke.function_role_client(f.name, "kms") for f in catalog.FUNCTIONS}

    def denied(client: Any, blob: bytes, key_id: str) -> bool:
        try:
            client.decrypt(CiphertextBlob=blob, KeyId=key_id)
        except ClientError as error:
            if not base.denied_by_iam(error):
                raise
            return True
        return False

    with kms_authorised_by_key_arn(), enable_iam_authentication():
        for name, client in clients.items():
            base.expect(
                denied(client, foreign_blob, foreign_key), f"{name}'s role decrypted with a key it was not granted"
            )
            base.expect(
                denied(client, stack_blob, key) != granted, f"{name}'s role: stack key decrypt is not {granted}"
            )
    stack = "allowed" if granted else "denied"
    return f"{len(clients)} roles' own credentials: Decrypt with an ungranted key denied by moto; with the stack key {stack}"


def check_security(smoke: base.Smoke) -> None:
    # A key no Signal9 role is granted: what another workload in the account would own.
    foreign_key = smoke.client("kms").create_key(Description="signal9 local: a key no Signal9 role was granted")[
        "KeyMetadata"
    ]["Arn"]
    smoke.report.run("encryption and tracing as configured", lambda: check_configuration(smoke))
    smoke.report.run("roles use only the stack key", lambda: check_key_grants(smoke, foreign_key))
    smoke.report.run(
        "role credentials cannot decrypt with an ungranted key",
        lambda: check_decrypt_with_role_credentials(smoke, foreign_key),
    )
