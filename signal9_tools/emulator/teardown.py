"""``signal9 local down``: the counterpart of ``signal9 local up --keep``.

``up --keep`` records what its provisioner created, in creation order, with the Pulumi options
that decide a destroy (``.signal9/local-<stack>.json``: ids and the few inputs a delete needs, never
a secret value). ``down`` deletes every resource in reverse order through the same provisioner
(``MotoProvisioner.destroy``: each type as the provider deletes it), every call judged by the
deploy audit (the stack's deploy policy, and each key's own policy for the key calls), then lists
what the stack's names still match in the emulator: nothing, but what AWS keeps by design (a key
pending deletion, a secret in its recovery window). As ``pulumi destroy`` does, it refuses while a
resource is protected (``--unprotect`` stands for ``pulumi state unprotect``) and leaves a resource
marked retain-on-delete in place. Then it stops the kept emulator.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from signal9.errors import OperatorError
from signal9.naming import Naming
from signal9.stackfile import ROOT
from signal9_tools.emulator.deploy_audit import DeployAudit
from signal9_tools.emulator.provisioner import Created, MotoProvisioner
from signal9_tools.mockrun import ProgramRun

RECORDS = ROOT / ".signal9"
KEY = "aws:kms/key:Key"


@dataclass(frozen=True)
class Recorded:
    """A created resource and the options `pulumi destroy` reads."""

    resource: Created
    protect: bool
    retain: bool


@dataclass(frozen=True)
class KeptStack:
    stack: str
    region: str
    account_id: str
    endpoint: str
    pid: int | None
    resources: tuple[Recorded, ...]


def record_path(stack: str) -> Path:
    return RECORDS / f"local-{stack}.json"


def record(stack: KeptStack) -> Path:
    path = record_path(stack.stack)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(asdict(stack), indent=1))
    return path


def recorded(plan: ProgramRun, created: list[Created]) -> tuple[Recorded, ...]:
    options = {(r.type, r.name): r for r in plan.resources}
    return tuple(
        Recorded(c, options[c.type, c.name].protect, options[c.type, c.name].retain_on_delete) for c in created
    )


def read_record(stack: str) -> KeptStack:
    path = record_path(stack)
    if not path.exists():
        raise OperatorError(
            f"no kept emulator for stack {stack!r} ({path.relative_to(ROOT)} is missing): "
            f"start one with `signal9 local up --stack {stack} --keep`"
        )
    data = json.loads(path.read_text())
    resources = tuple(Recorded(Created(**r["resource"]), r["protect"], r["retain"]) for r in data.pop("resources"))
    return KeptStack(**data, resources=resources)


@dataclass
class Teardown:
    deleted: list[str] = field(default_factory=list)
    kept_by_aws: list[str] = field(default_factory=list)  # pending deletion / recovery window
    retained: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # deletes AWS refused (deletion protection)
    left: list[str] = field(default_factory=list)
    audit: str = ""
    audit_passed: bool = True

    @property
    def complete(self) -> bool:
        return not self.refused and not self.failed and not self.left and self.audit_passed


def _label(resource: Created) -> str:
    return f"{resource.type.removeprefix('aws:')} {resource.id}"


def tear_down(kept: KeptStack, unprotect: bool = False) -> Teardown:
    """Delete the recorded resources in reverse order (the emulator must be reachable: AWS_ENDPOINT_URL)."""
    result = Teardown()
    protected = [r for r in kept.resources if r.protect]
    if protected and not unprotect:
        result.refused = [_label(r.resource) for r in protected]
        return result
    provisioner = MotoProvisioner(kept.region)
    audit = provisioner.audit = DeployAudit.for_stack(kept.stack, kept.account_id, kept.region)
    audit.key_policies.update(
        {r.resource.id: json.loads(r.resource.fields["policy"]) for r in kept.resources if r.resource.type == KEY}
    )
    for entry in reversed(kept.resources):
        if entry.retain:
            result.retained.append(_label(entry.resource))
            continue
        try:
            note = provisioner.destroy(entry.resource)
        except ClientError as error:  # as `pulumi destroy` reports a delete AWS refuses
            result.failed.append(f"{_label(entry.resource)}: {error.response['Error'].get('Message', error)}")
            continue
        result.deleted.append(_label(entry.resource))
        if note:
            result.kept_by_aws.append(f"{_label(entry.resource)}: {note}")
    result.audit, result.audit_passed = audit.summary(), audit.passed
    retained = {r.resource.id for r in kept.resources if r.retain}
    result.left = [what for what, ident in remaining(provisioner, Naming(kept.stack)) if ident not in retained]
    return result


def remaining(p: MotoProvisioner, naming: Naming) -> Iterator[tuple[str, str]]:
    """(what, id) of everything in the emulator that still carries the stack's names, but what AWS
    keeps by design (a key pending deletion, a secret in its recovery window)."""
    prefix = naming.prefix
    for table in p.client("dynamodb").list_tables()["TableNames"]:
        if table.startswith(f"{prefix}-"):
            yield f"table {table}", table
    for function in p.client("lambda").list_functions()["Functions"]:
        if function["FunctionName"].startswith(f"{prefix}-"):
            yield f"function {function['FunctionName']}", function["FunctionName"]
    for url in p.client("sqs").list_queues(QueueNamePrefix=f"{prefix}-").get("QueueUrls", []):
        yield f"queue {url.rsplit('/', 1)[-1]}", url
    for group in p.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}-")["logGroups"]:
        yield f"log group {group['logGroupName']}", group["logGroupName"]
    for role in p.client("iam").list_roles()["Roles"]:
        if role["RoleName"].startswith(f"{prefix}-"):
            yield f"role {role['RoleName']}", role["RoleName"]
    events = p.client("events")
    for bus in events.list_event_buses(NamePrefix=prefix)["EventBuses"]:
        yield f"event bus {bus['Name']}", bus["Name"]
    for archive in events.list_archives(NamePrefix=prefix)["Archives"]:
        yield f"event archive {archive['ArchiveName']}", archive["ArchiveName"]
    scheduler = p.client("scheduler")
    for group in scheduler.list_schedule_groups(NamePrefix=prefix)["ScheduleGroups"]:
        yield f"schedule group {group['Name']}", group["Name"]
    for schedule in scheduler.list_schedules(NamePrefix=prefix)["Schedules"]:
        yield f"schedule {schedule['Name']}", schedule["Name"]
    for secret in p.client("secretsmanager").list_secrets()["SecretList"]:
        if secret["Name"].startswith(f"{naming.secret('')}") and "DeletedDate" not in secret:
            yield f"secret {secret['Name']}", secret["ARN"]
    kms = p.client("kms")
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] in (f"alias/{prefix}",) or alias["AliasName"].startswith(f"alias/{prefix}-"):
            yield f"key alias {alias['AliasName']}", alias["AliasName"]
    for topic in p.client("sns").list_topics()["Topics"]:
        if topic["TopicArn"].rsplit(":", 1)[-1].startswith(f"{prefix}-"):
            yield f"topic {topic['TopicArn']}", topic["TopicArn"]
    cloudwatch = p.client("cloudwatch")
    for alarm in cloudwatch.describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]:
        yield f"alarm {alarm['AlarmName']}", alarm["AlarmName"]
    for dashboard in cloudwatch.list_dashboards(DashboardNamePrefix=prefix)["DashboardEntries"]:
        yield f"dashboard {dashboard['DashboardName']}", dashboard["DashboardName"]
    for key in kms.list_keys()["Keys"]:
        metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
        if tags.get("Environment") == naming.stack and metadata["KeyState"] != "PendingDeletion":
            yield f"key {key['KeyId']} ({metadata['KeyState']})", key["KeyId"]


def render(kept: KeptStack, result: Teardown) -> str:
    if result.refused:
        return (
            f"signal9 local down: refusing to delete protected resources of stack {kept.stack!r}, as `pulumi destroy` "
            f"does: {', '.join(result.refused)}. Unprotect first (a real stack: signal9:protection.retainOnDelete "
            "false and `pulumi up`, or `pulumi state unprotect`; here: --unprotect). Nothing was deleted."
        )
    lines = [
        f"signal9 local down: stack {kept.stack!r}: {len(result.deleted)} resources deleted in reverse creation "
        "order through the provisioner"
    ]
    lines.append(f"deploy audit: {result.audit}")
    lines += [f"retained (retain on delete, as pulumi destroy leaves it): {what}" for what in result.retained]
    lines += [f"kept by AWS by design: {what}" for what in result.kept_by_aws]
    lines += [f"AWS REFUSED: {what}" for what in result.failed]
    lines += [f"LEFT: {what}" for what in result.left]
    lines.append(
        "nothing of the stack is left in the emulator"
        if not result.left
        else f"{len(result.left)} resources of the stack are left (listed above)"
    )
    return "\n".join(lines)


def stop(kept: KeptStack) -> str:
    """Stop the `local up --keep` process (it waits for SIGTERM) and forget the record."""
    record_path(kept.stack).unlink(missing_ok=True)
    if kept.pid is None:
        return "no emulator process recorded"
    try:
        os.kill(kept.pid, signal.SIGTERM)
    except ProcessLookupError:
        return f"the emulator process {kept.pid} had already stopped"
    return f"the emulator at {kept.endpoint} (process {kept.pid}) stopped"
