"""Generated sections of the docs, derived from the catalog (and the policy check per stack).

docs/architecture.md, docs/security-review.md, docs/deploy.md and docs/contract.md are hand-written around blocks marked
``<!-- BEGIN GENERATED: <name> -->`` ... ``<!-- END GENERATED: <name> -->``. Rewrite them with
``python -m signal9_tools.docgen``; tests/test_docs.py fails when a committed block is stale.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from functions.shared.events import DETAIL_MODELS
from signal9 import aws_reference, bootstrap_policies, catalog, config, deploy_policy, fsbp, policy_rules
from signal9.naming import Naming
from signal9_tools import deploytime

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
SECURITY_REVIEW = ROOT / "docs" / "security-review.md"
DEPLOY = ROOT / "docs" / "deploy.md"
CONTRACT = ROOT / "docs" / "contract.md"
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
STACK = "<stack>"


def _id(name: str) -> str:
    return re.sub(r"\W", "_", name)


def architecture_diagram() -> str:
    """A mermaid flowchart of schedules, functions, tables, events, secrets and failure paths."""
    naming = Naming("&lt;stack&gt;")  # mermaid labels are HTML: escape the placeholder
    lines = ["```mermaid", "flowchart LR"]
    lines.append('  subgraph scheduler["EventBridge Scheduler (America/New_York, Mon-Sat)"]')
    for function in catalog.scheduled_functions():
        trigger = catalog.schedule_trigger(function)
        lines.append(f'    sch_{_id(trigger.schedule)}(["{trigger.schedule}<br/>{trigger.expression}"])')
    lines.append("  end")
    lines.append(f'  bus{{{{"event bus {naming.event_bus}<br/>source {catalog.EVENT_SOURCE}<br/>+ archive"}}}}')
    lines.append('  subgraph lambda["Lambda functions (arm64, one role + DLQ + log group each)"]')
    lines += [f'    fn_{f.name}["{f.name}"]' for f in catalog.FUNCTIONS]
    lines.append("  end")
    lines.append('  subgraph dynamodb["DynamoDB (on demand, PITR, encrypted)"]')
    lines += [f'    tbl_{t.name}[("{t.name}")]' for t in catalog.TABLES]
    lines.append("  end")
    lines.append('  subgraph secrets["Secrets Manager"]')
    lines += [f'    sec_{s.name}[/"{naming.secret(s.name)}"/]' for s in catalog.SECRETS]
    lines.append("  end")
    lines.append('  dlq[["dead-letter queue per function<br/>signal9-&lt;stack&gt;-&lt;Function&gt;-dlq"]]')
    lines.append('  obs["CloudWatch: log groups, dashboard,<br/>alarms → SNS, saved queries"]')
    for function in catalog.scheduled_functions():
        lines.append(f"  sch_{_id(catalog.schedule_trigger(function).schedule)} --> fn_{function.name}")
    for event in catalog.EVENTS:
        lines.append(f"  bus -- {event.detail_type} --> fn_{event.consumer}")
    for function in catalog.FUNCTIONS:
        for detail_type in function.emits:
            lines.append(f"  fn_{function.name} -. {detail_type} .-> bus")
        for table in function.tables:
            arrow = "<-->" if table in function.reads and table in function.writes else "-->"
            if table in function.reads and table not in function.writes:
                lines.append(f"  tbl_{table} -.-> fn_{function.name}")
            else:
                lines.append(f"  fn_{function.name} {arrow} tbl_{table}")
        if function.secret:
            lines.append(f"  sec_{function.secret} -.-> fn_{function.name}")
    lines.append("  lambda -. failed async invocations, schedule and rule deliveries .-> dlq")
    lines.append("  lambda -. JSON logs, metrics .-> obs")
    lines.append("```")
    return "\n".join(lines)


def iam_matrix() -> str:
    """Exactly what each function's role may do (docs/contract.md: least privilege), from the catalog."""
    naming = Naming(STACK)
    lines = [
        "| function | read (GetItem, BatchGetItem, Query; table + its indexes) "
        "| write (PutItem, UpdateItem, DeleteItem, BatchWriteItem) | secretsmanager:GetSecretValue "
        "| events:PutEvents | sqs:SendMessage | logs:CreateLogStream, PutLogEvents |",
        "|---|---|---|---|---|---|---|",
    ]
    for function in catalog.FUNCTIONS:
        reads = ", ".join(f"`{naming.table(t)}`" for t in function.reads) or "-"
        writes = ", ".join(f"`{naming.table(t)}`" for t in function.writes) or "-"
        secret = f"`{naming.secret(function.secret)}`" if function.secret else "-"
        bus = f"`{naming.event_bus}` ({', '.join(function.emits)})" if function.emits else "-"
        lines.append(
            f"| {function.name} | {reads} | {writes} | {secret} | {bus} "
            f"| `{naming.dead_letter_queue(function.name)}` | `{naming.log_group(function.name)}` |"
        )
    return "\n".join(lines)


def policy_results(results: Mapping[str, Mapping[str, int]]) -> str:
    """Rules x stacks: ``results[stack][rule]`` = violations found by ``signal9 check``."""
    stacks = list(results)
    rules = list(next(iter(results.values()))) if results else []
    lines = ["| rule | " + " | ".join(stacks) + " |", "|---|" + "---|" * len(stacks)]
    for rule in rules:
        cells = ["pass" if results[s][rule] == 0 else f"**FAIL ({results[s][rule]})**" for s in stacks]
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fsbp_table() -> str:
    """Every Security Hub control for our services: met by which rule, not applicable, or waived (why)."""
    lines = [
        "| control | standard | title | status | how (met) / why (not applicable, waived) |",
        "|---|---|---|---|---|",
    ]
    for control in fsbp.CONTROLS:
        if control.status == "met":
            detail = f"{control.how}; enforced by {', '.join(f'`{rule}`' for rule in control.rules)}"
        elif control.status == "waived":
            detail = f"{control.reason} **Risk:** {control.risk} **Revisit when:** {control.revisit}"
        else:
            detail = control.reason
        lines.append(f"| {control.id} | {control.standard} | {control.title} | {control.status} | {detail} |")
    return "\n".join(lines)


def create_times_table() -> str:
    """The deploy-time model's per-type create times with how each was derived and its source."""
    times = deploytime.create_times()
    lines = ["| resource type | seconds | basis | source |", "|---|---:|---|---|"]
    rows = [*sorted(times.types.items()), ("(any other type)", times.default)]
    for typ, figure in rows:
        sources = ", ".join(
            f"<{url.strip()}>" if url.strip().startswith("https://") else url for url in figure.source.split(";")
        )
        lines.append(f"| `{typ}` | {figure.seconds:g} | {figure.basis} | {sources} |")
    return "\n".join(lines)


def check_results() -> dict[str, dict[str, int]]:
    from signal9_tools.check import check_stack, rule_names

    results = {}
    for stack in catalog.STACKS:
        result = check_stack(stack)
        results[stack] = {rule: result.failed(rule) for rule in rule_names()}
    return results


def block(name: str, content: str) -> str:
    return f"<!-- BEGIN GENERATED: {name} -->\n{content}\n<!-- END GENERATED: {name} -->"


def current_block(text: str, name: str) -> str:
    match = re.search(rf"<!-- BEGIN GENERATED: {name} -->\n(.*?)<!-- END GENERATED: {name} -->", text, re.S)
    if match is None:
        raise ValueError(f"no generated block {name!r}")
    return match[1].removesuffix("\n")


def replace_block(text: str, name: str, content: str) -> str:
    current_block(text, name)  # the markers must exist
    pattern = rf"<!-- BEGIN GENERATED: {name} -->\n.*?<!-- END GENERATED: {name} -->"
    return re.sub(pattern, lambda _: block(name, content), text, count=1, flags=re.S)


def deploy_grants() -> str:
    """The deploy role's table: per resource type, the provider's calls and where they may act."""
    placeholders = {"partition": "aws", "region": "<region>", "account": "<account>", "prefix": "signal9-<stack>"}
    placeholders |= {"project": catalog.PROJECT, "stack": "<stack>"}
    lines = ["| resource type | provider source | actions | on |", "|---|---|---|---|"]
    for resource_type, entry in sorted(deploy_policy.TYPE_GRANTS.items()):
        actions = sorted({a for g in entry.grants for a in g.actions} | set(entry.unscoped) | set(entry.conditioned))
        scopes = sorted({s for g in entry.grants for s in g.scopes})
        where = [f"`{deploy_policy.SCOPES[s].template().format(**placeholders)}`" for s in scopes]
        where += ['`"*"`'] if entry.unscoped else []
        where += ["conditioned (below)"] if entry.conditioned else []
        lines.append(
            f"| `{resource_type}` | [{entry.source}]({deploy_policy.PROVIDER_SOURCE}{entry.source}) "
            f"| {', '.join(actions) or '(none)'} | {', '.join(where) or '-'} |"
        )
    reference = f"[Service Authorization Reference]({deploy_policy.AUTHORIZATION_REFERENCE})"
    lines += ["", f'| action on `Resource: "*"` | why AWS offers nothing narrower ({reference}) |', "|---|---|"]
    lines += [f"| {action} | {reason} |" for action, reason in sorted(deploy_policy.UNSCOPABLE.items())]
    return "\n".join(lines)


def _key(key: catalog.Key) -> str:
    return f"`{key.name}` ({key.type})"


def contract_tables() -> str:
    """Every table with its keys and indexes (catalog.TABLES)."""
    lines = ["| table | group | partition key | sort key | global secondary indexes (partition, sort; ALL) |"]
    lines.append("|---|---|---|---|---|")
    for table in catalog.TABLES:
        indexes = "; ".join(f"`{i.name}`: {_key(i.partition)}, {_key(i.sort)}" for i in table.indexes) or "-"
        lines.append(
            f"| `{Naming(STACK).table(table.name)}` | {table.group} | {_key(table.partition)} | {_key(table.sort)} | {indexes} |"
        )
    return "\n".join(lines)


def contract_functions() -> str:
    """Every function: trigger, default memory and timeout, exactly the access it is granted."""
    lines = ["| function | trigger | memory MB | timeout s | reads | writes | secret | emits |"]
    lines.append("|---|---|---:|---:|---|---|---|---|")
    for f in catalog.FUNCTIONS:
        trigger = (
            f"schedule `{f.trigger.schedule}`: `{f.trigger.expression}`"
            if isinstance(f.trigger, catalog.ScheduleTrigger)
            else f"event `{f.trigger.detail_type}`"
        )
        cells = [", ".join(f"`{t}`" for t in names) or "-" for names in (f.reads, f.writes, f.emits)]
        lines.append(
            f"| {f.name} | {trigger} | {f.memory_mb} | {f.timeout_seconds} | {cells[0]} | {cells[1]} | "
            f"{f'`{f.secret}`' if f.secret else '-'} | {cells[2]} |"
        )
    return "\n".join(lines)


def contract_secrets_and_events() -> str:
    """The secrets' fields and the custom events' routes."""
    naming = Naming(STACK)
    lines = ["| secret | fields | defaults when unset |", "|---|---|---|"]
    for secret in catalog.SECRETS:
        defaults = ", ".join(f"`{k}` = {v}" for k, v in secret.defaults) or "-"
        lines.append(f"| `{naming.secret(secret.name)}` | {', '.join(f'`{f}`' for f in secret.fields)} | {defaults} |")
    lines += [
        "",
        "| event (source `"
        + catalog.EVENT_SOURCE
        + "`) | consumer | emitted by | detail (the shared model's fields) |",
        "|---|---|---|---|",
    ]
    for event in catalog.EVENTS:
        emitters = ", ".join(f.name for f in catalog.FUNCTIONS if event.detail_type in f.emits)
        lines.append(f"| `{event.detail_type}` | {event.consumer} | {emitters} | {detail_fields(event.detail_type)} |")
    return "\n".join(lines)


def detail_fields(detail_type: str) -> str:
    """The event model's fields (functions/shared/events.py), optional ones marked."""
    fields = DETAIL_MODELS[detail_type].model_fields
    return ", ".join(f"`{name}`" + ("" if field.is_required() else " (optional)") for name, field in fields.items())


def contract_stack_rules() -> str:
    """What the config contract requires of the named stacks (signal9/config.py)."""
    lines = ["| stack | table protection | encryption at rest |", "|---|---|---|"]
    for stack in catalog.STACKS:
        protection = config.REQUIRED_PROTECTION.get(stack)
        required = ", ".join(k for k, v in protection.model_dump().items() if v) if protection else "free choice"
        encryption = config.REQUIRED_ENCRYPTION.get(stack, "free choice (default aws-owned)")
        lines.append(f"| {stack} | {required} | {encryption} |")
    lines += [
        "",
        f"- Timezone: `{catalog.DEFAULT_TIMEZONE}`, the only value `signal9:timezone` accepts.",
        f"- Lambda asynchronous invocation: {catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS} retries, events older than "
        f"{catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s go to the function's dead-letter queue.",
        f"- Log retention (days) one of: {', '.join(map(str, config.LOG_RETENTION_DAYS))}.",
    ]
    return "\n".join(lines)


def contract_policy_rules() -> str:
    """The rules `signal9 check` and the CrossGuard pack hold every plan to (all mandatory)."""
    lines = ["| rule | what it requires |", "|---|---|"]
    lines += [f"| `{rule.name}` | {rule.description} |" for rule in policy_rules.RULES]
    return "\n".join(lines)


def generated_blocks(
    policy: Callable[[], Mapping[str, Mapping[str, int]]] = check_results,
) -> dict[Path, dict[str, str]]:
    return {
        ARCHITECTURE: {"diagram": architecture_diagram()},
        SECURITY_REVIEW: {
            "iam-matrix": iam_matrix(),
            "fsbp-controls": fsbp_table(),
            "policy-results": policy_results(policy()),
            "deploy-grants": deploy_grants(),
        },
        DEPLOY: {"create-times": create_times_table()},
        CONTRACT: {
            "contract-tables": contract_tables(),
            "contract-functions": contract_functions(),
            "contract-secrets-events": contract_secrets_and_events(),
            "contract-stack-rules": contract_stack_rules(),
            "contract-policy-rules": contract_policy_rules(),
        },
    }


def reference_slice_json() -> str:
    """The committed slice of AWS's reference the deploy policy generator reads (signal9.aws_reference)."""
    actions, resource_types = bootstrap_policies.reference_needs()
    return json.dumps(aws_reference.extract(actions, resource_types).to_json(), indent=2) + "\n"


def main() -> int:
    current = reference_slice_json()
    if aws_reference.SLICE.exists() and aws_reference.SLICE.read_text() == current:
        print(f"{aws_reference.SLICE.relative_to(ROOT)} is current")
    else:
        aws_reference.SLICE.write_text(current)
        print(f"updated {aws_reference.SLICE.relative_to(ROOT)}")
    for path, blocks in generated_blocks().items():
        old = text = path.read_text()
        for name, content in blocks.items():
            text = replace_block(text, name, content)
        if text == old:
            print(f"{path.relative_to(ROOT)} is current")
        else:
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
