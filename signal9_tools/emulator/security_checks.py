"""The smoke's security checks: the access matrix and IAM, keys, tracing and the bus policy as deployed.

- ``roles allow exactly the access matrix``: every deployed role policy, judged by moto's IAM
  policy evaluator on the real ARNs, allows exactly the catalog's access matrix.
- ``IAM enforced on role credentials``: with each function role's own credentials, moto's
  request-time enforcement lets it send to its own DLQ and not to another function's.
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
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.kms.responses import KmsResponse

from signal9 import catalog, iam, keys
from signal9_tools.emulator.report import SmokeCheckError, expect
from signal9_tools.emulator.smoke import Smoke


def denied_by_iam(error: ClientError) -> bool:
    """Whether moto's IAM enforcement refused the call: HTTP 403 AccessDenied (any other error is real)."""
    return error.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and "AccessDenied" in str(error)


def role_policies(iam_client: Any, role: str) -> list[IAMPolicy]:
    """A deployed role's inline policies, read back, as moto's IAM evaluator judges them."""
    return [
        IAMPolicy(json.dumps(iam_client.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
        for name in iam_client.list_role_policies(RoleName=role)["PolicyNames"]
    ]


def permitted(policies: list[IAMPolicy], action: str, resource: str) -> bool:
    """Allowed by some statement and denied by none (moto's evaluator)."""
    results = [policy.is_action_permitted(action, resource) for policy in policies]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


def check_access(smoke: Smoke) -> None:
    """Each deployed role's policies, read back from moto, judged by moto's IAM policy engine.

    moto enforces IAM on requests only against resource "*", which denies every
    resource-scoped grant; so the smoke evaluates the deployed policies itself with moto's
    evaluator and the real ARNs, over the whole matrix: every action of the contract's families (plus a
    few never granted) on every table, index, secret, bus, dead-letter queue and log group.
    """
    iam_client, dynamodb, logs = smoke.client("iam"), smoke.client("dynamodb"), smoke.client("logs")
    tables = {
        t.name: dynamodb.describe_table(TableName=smoke.naming.table(t.name))["Table"]["TableArn"]
        for t in catalog.TABLES
    }
    indexes = {f"{tables[t.name]}/index/{i.name}": t.name for t in catalog.TABLES for i in t.indexes}
    secrets = {
        smoke.client("secretsmanager").describe_secret(SecretId=smoke.naming.secret(s.name))["ARN"]: s.name
        for s in catalog.SECRETS
    }
    bus_arn = smoke.client("events").describe_event_bus(Name=smoke.naming.event_bus)["Arn"]
    default_bus = smoke.client("events").describe_event_bus(Name="default")["Arn"]
    queues = {smoke.queue_arn(smoke.naming.dead_letter_queue(f.name)): f.name for f in catalog.FUNCTIONS}
    # Log writes are authorised on log streams only (Service Authorization Reference): a stream
    # in the function's own group is allowed; the bare group ARN is judged too, and denied.
    groups: list[str] = []
    streams: dict[str, str] = {}
    for function in catalog.FUNCTIONS:
        (group,) = logs.describe_log_groups(logGroupNamePrefix=smoke.naming.log_group(function.name))["logGroups"]
        arn = group["arn"].removesuffix(":*")
        groups.append(arn)
        streams[f"{arn}:log-stream:local"] = function.name

    def allowed(function: catalog.Function, action: str, resource: str) -> bool:
        """The access matrix (from the catalog): may ``function`` do ``action`` on ``resource``?"""
        if action in iam.READ_ACTIONS:
            return any(tables[t] == resource for t in function.reads) or indexes.get(resource) in function.reads
        if action in iam.WRITE_ACTIONS:
            return any(tables[t] == resource for t in function.writes)
        if action in iam.SECRET_ACTIONS:
            return secrets.get(resource) == function.secret
        if action in iam.EVENT_ACTIONS:
            return resource == bus_arn and bool(function.emits)
        if action in iam.DEAD_LETTER_ACTIONS:
            return queues.get(resource) == function.name
        if action in iam.LOG_ACTIONS:
            return streams.get(resource) == function.name
        return False  # outside every family: never granted

    # (actions, resources) per service: the contract's families plus actions no role may ever have.
    matrix = [
        (
            (*iam.READ_ACTIONS, *iam.WRITE_ACTIONS, "dynamodb:Scan", "dynamodb:DeleteTable"),
            [*tables.values(), *indexes],
        ),
        ((*iam.SECRET_ACTIONS, "secretsmanager:PutSecretValue"), list(secrets)),
        ((*iam.EVENT_ACTIONS, "events:PutRule"), [bus_arn, default_bus]),
        ((*iam.DEAD_LETTER_ACTIONS, "sqs:ReceiveMessage"), list(queues)),
        ((*iam.LOG_ACTIONS, "logs:DeleteLogGroup"), [*groups, *streams]),
    ]

    def evaluate() -> str:
        judged = granted = 0
        for function in catalog.FUNCTIONS:
            policies = role_policies(iam_client, smoke.naming.role(function.name))
            for actions, resources in matrix:
                for action in actions:
                    for resource in resources:
                        expected = allowed(function, action, resource)
                        decided = permitted(policies, action, resource)
                        expect(decided or not expected, f"{function.name} may not {action} on {resource}")
                        expect(expected or not decided, f"{function.name} may {action} on {resource}")
                        judged += 1
                        granted += expected
        return (
            f"{judged} role x action x resource decisions by moto's IAM evaluator on the deployed policies (every "
            f"action family on every table, index, secret, bus, DLQ and log group): the {granted} of the access "
            "matrix allowed, all others denied"
        )

    def enforced() -> str:
        # SQS is where moto's request-time IAM enforcement honours resource ARNs: send with each
        # function role's own credentials to its DLQ (allowed) and to another's (denied).
        sqs = smoke.client("sqs")
        urls = {
            f.name: sqs.get_queue_url(QueueName=smoke.naming.dead_letter_queue(f.name))["QueueUrl"]
            for f in catalog.FUNCTIONS
        }
        sessions = {f.name: smoke.function_role_client(f.name, "sqs") for f in catalog.FUNCTIONS}
        names = list(urls)
        with enable_iam_authentication():
            for index, name in enumerate(names):
                other = names[(index + 1) % len(names)]
                sessions[name].send_message(QueueUrl=urls[name], MessageBody="{}")
                try:
                    sessions[name].send_message(QueueUrl=urls[other], MessageBody="{}")
                except ClientError as error:
                    expect(denied_by_iam(error), f"{name} -> {other}: {error}")
                else:
                    raise SmokeCheckError(f"{name}'s role could send to {other}'s DLQ")
        for url in urls.values():  # runs before anything real is parked in the DLQs
            sqs.purge_queue(QueueUrl=url)
        return f"{len(names)} roles' own credentials: own DLQ allowed, another function's DLQ denied by moto"

    smoke.report.run("roles allow exactly the access matrix", evaluate)
    smoke.report.run("IAM enforced on role credentials", enforced)


KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
# kms actions no role may have on any key.
FORBIDDEN_KEY_ACTIONS = ("kms:Encrypt", "kms:CreateGrant", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy")


def stack_key_arn(smoke: Smoke) -> str:
    arn: str = smoke.client("kms").describe_key(KeyId=f"alias/{smoke.naming.prefix}")["KeyMetadata"]["Arn"]
    return arn


def role_names(smoke: Smoke) -> list[str]:
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


def check_key_grants(smoke: Smoke, foreign_key: str) -> str:
    iam = smoke.client("iam")
    key = stack_key_arn(smoke)
    granted = smoke.config.customer_managed_key
    checked = 0
    for role in role_names(smoke):
        policies = role_policies(iam, role)
        for action in KEY_ACTIONS:
            expect(permitted(policies, action, key) == granted, f"{role}: {action} on the stack key is {not granted}")
            expect(not permitted(policies, action, foreign_key), f"{role} may {action} with a key it was not granted")
            expect(not permitted(policies, action, "*"), f"{role} may {action} on every key")
        for action in FORBIDDEN_KEY_ACTIONS:
            expect(not permitted(policies, action, key), f"{role} may {action} on the stack key")
        checked += 3 * len(KEY_ACTIONS) + len(FORBIDDEN_KEY_ACTIONS)
    use = "allowed" if granted else "denied (aws-owned stack)"
    return (
        f"{checked} kms calls judged on {len(role_names(smoke))} deployed role policies: Decrypt/GenerateDataKey on "
        f"the stack key {use}; any other key, '*' and every other kms action denied (kms:ViaService not evaluated by moto)"
    )


def check_decrypt_with_role_credentials(smoke: Smoke, foreign_key: str) -> str:
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
            if not denied_by_iam(error):
                raise
            return True
        return False

    with kms_authorised_by_key_arn(), enable_iam_authentication():
        for name, client in clients.items():
            expect(denied(client, foreign_blob, foreign_key), f"{name}'s role decrypted with a key it was not granted")
            expect(denied(client, stack_blob, key) != granted, f"{name}'s role: stack key decrypt is not {granted}")
    stack = "allowed" if granted else "denied"
    return f"{len(clients)} roles' own credentials: Decrypt with an ungranted key denied by moto; with the stack key {stack}"


def check_security(smoke: Smoke) -> None:
    # A key no Signal9 role is granted: what another workload in the account would own.
    foreign_key = smoke.client("kms").create_key(Description="signal9 local: a key no Signal9 role was granted")[
        "KeyMetadata"
    ]["Arn"]
    smoke.report.run("roles use only the stack key", lambda: check_key_grants(smoke, foreign_key))
    smoke.report.run(
        "role credentials cannot decrypt with an ungranted key",
        lambda: check_decrypt_with_role_credentials(smoke, foreign_key),
    )
