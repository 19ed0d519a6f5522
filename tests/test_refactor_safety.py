"""Refactors keep every stateful resource: its URN is frozen here, and a change needs an alias.

Pulumi knows a resource by its URN (stack, project, the parent's type chain, its type and
logical name). Renaming a component, moving a resource to another parent or renaming its
logical name gives it a new URN, and ``pulumi up`` deletes the old resource and creates a new
one: a table, a dead-letter queue, a secret or the event archive loses what it holds. So the
URN of each stateful resource (``signal9_tools.diff.STATEFUL``) is written down below. A
change to one fails this test until the resource declares the old URN as an alias
(``opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(...)])``, which makes it the same
resource), or the list below is edited on purpose (a resource really added or retired).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from pulumi.runtime.proto import alias_pb2, resource_pb2

from signal9 import catalog
from signal9.stackfile import BOOTSTRAP_PROJECT
from signal9_tools.diff import STATEFUL
from signal9_tools.mockrun import AwsLikeMocks, ProgramRun, RecordingMonitor, Resource, run_program

MAIN = "urn:pulumi:{stack}::signal9::"
TABLES = [f"signal9:index:Tables$aws:dynamodb/table:Table::{t.name}-table" for t in catalog.TABLES]
# Written out, not derived from the catalog: a renamed catalog entry must show up here.
FUNCTIONS = (
    "MarkEarningsProcessed",
    "PollenateAsset",
    "SyncAssets",
    "SyncEarningsCalendar",
    "SyncNewsSentiment",
    "TriggerEarningsPollenation",
    "TriggerRegularPollenation",
)
FROZEN_MAIN = (
    "signal9:index:EventBus$aws:cloudwatch/eventArchive:EventArchive::signal9-event-archive",
    *(f"signal9:index:FunctionLogs$aws:cloudwatch/logGroup:LogGroup::{name}-log-group" for name in FUNCTIONS),
    *(
        f"signal9:index:Tables$aws:dynamodb/table:Table::{name}-table"
        for name in (
            "assets",
            "balanceSheet",
            "cashFlow",
            "companyOverview",
            "earnings",
            "earningsCalendar",
            "incomeStatement",
            "newsSentiment",
        )
    ),
    "signal9:index:StackKey$aws:kms/alias:Alias::stack-key-alias",
    "signal9:index:StackKey$aws:kms/key:Key::stack-key",
    "signal9:index:Secrets$aws:secretsmanager/secret:Secret::alpaca-secret",
    "signal9:index:Secrets$aws:secretsmanager/secret:Secret::alphavantage-secret",
    "signal9:index:Observability$aws:sns/topic:Topic::alarms-topic",
    *(f"signal9:index:FunctionFleet$aws:sqs/queue:Queue::{name}-dlq" for name in FUNCTIONS),
)
BOOTSTRAP_STACK = "main"
FROZEN_BOOTSTRAP = (
    "aws:kms/alias:Alias::secrets-key-alias",
    "aws:kms/alias:Alias::state-key-alias",
    "aws:kms/key:Key::secrets-key",
    "aws:kms/key:Key::state-key",
    "signal9:bootstrap:HardenedBucket$aws:s3/bucket:Bucket::audit-bucket",
    "signal9:bootstrap:HardenedBucket$aws:s3/bucket:Bucket::state-bucket",
)


def stateful(run: ProgramRun) -> list[Resource]:
    return [r for r in run.resources if r.type in STATEFUL]


def drift(frozen: Iterable[str], resources: Iterable[Resource]) -> list[str]:
    """What breaks the frozen list: a frozen URN nothing answers to, a stateful resource not in it."""
    frozen = set(frozen)
    resources = list(resources)
    answered = {r.urn for r in resources} | {alias for r in resources for alias in r.aliases}
    problems = [
        f"{urn}: no resource has this URN or an alias of it; `pulumi up` would DELETE it and create its "
        "successor empty. Add aliases=[pulumi.Alias(...)] naming this URN to the resource's options"
        for urn in sorted(frozen - answered)
    ]
    problems += [
        f"{r.urn}: a stateful resource not in the frozen list; add it to tests/test_refactor_safety.py "
        "(or, if it replaces one listed, alias that one)"
        for r in sorted(resources, key=lambda r: r.urn)
        if r.urn not in frozen and not frozen & set(r.aliases)
    ]
    return problems


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_every_stateful_resource_keeps_its_frozen_urn(plans: dict[str, ProgramRun], stack: str) -> None:
    frozen = [MAIN.format(stack=stack) + urn for urn in FROZEN_MAIN]
    assert drift(frozen, stateful(plans[stack])) == []


def test_the_bootstraps_buckets_and_keys_keep_their_frozen_urns() -> None:
    run = run_program(BOOTSTRAP_STACK, project=BOOTSTRAP_PROJECT)
    frozen = [f"urn:pulumi:{BOOTSTRAP_STACK}::{BOOTSTRAP_PROJECT}::{urn}" for urn in FROZEN_BOOTSTRAP]
    assert drift(frozen, stateful(run)) == []


def test_the_frozen_list_covers_the_catalogs_tables() -> None:
    """The list is written out by hand; it must still name each catalog table (and nothing else)."""
    assert {u for u in FROZEN_MAIN if ":dynamodb/" in u} == set(TABLES)


def test_a_moved_table_without_an_alias_is_refused_and_with_one_accepted(dev: ProgramRun) -> None:
    """The check itself: a table moved to another component breaks it until it aliases its old URN."""
    frozen = [MAIN.format(stack="dev") + urn for urn in FROZEN_MAIN]
    table = dev.named("assets-table")
    moved_urn = table.urn.replace("signal9:index:Tables$", "signal9:index:Storage$")
    moved = [r for r in stateful(dev) if r is not table]
    moved.append(Resource(**{**vars(table), "urn": moved_urn}))
    problems = drift(frozen, moved)
    assert len(problems) == 2
    assert problems[0].startswith(f"{table.urn}: no resource has this URN") and "DELETE" in problems[0]
    assert problems[1].startswith(f"{moved_urn}: a stateful resource not in the frozen list")
    moved[-1] = Resource(**{**vars(table), "urn": moved_urn, "aliases": (table.urn,)})
    assert drift(frozen, moved) == []


def test_alias_specs_resolve_to_the_urns_the_engine_would_match() -> None:
    """An alias given as a spec (what the SDK sends) is recorded as the old URN it stands for."""
    run = ProgramRun(stack="dev", region="us-east-1")
    monitor = RecordingMonitor(AwsLikeMocks("us-east-1"), run)
    storage = "urn:pulumi:dev::signal9::signal9:index:Storage::storage"
    tables = "urn:pulumi:dev::signal9::signal9:index:Tables::tables"
    request = resource_pb2.RegisterResourceRequest(
        type="aws:dynamodb/table:Table",
        name="assets-table",
        parent=storage,
        aliases=[
            alias_pb2.Alias(spec=alias_pb2.Alias.Spec(parentUrn=tables)),  # moved from Tables
            alias_pb2.Alias(spec=alias_pb2.Alias.Spec(name="assetList-table")),  # renamed in place
            alias_pb2.Alias(spec=alias_pb2.Alias.Spec(noParent=True)),  # was at the top level
            alias_pb2.Alias(urn="urn:pulumi:dev::signal9::x:y:Z::given"),
        ],
    )
    assert monitor.make_urn(storage, request.type, request.name) == (
        "urn:pulumi:dev::signal9::signal9:index:Storage$aws:dynamodb/table:Table::assets-table"
    )
    assert monitor.alias_urns(request) == (
        "urn:pulumi:dev::signal9::signal9:index:Tables$aws:dynamodb/table:Table::assets-table",
        "urn:pulumi:dev::signal9::signal9:index:Storage$aws:dynamodb/table:Table::assetList-table",
        "urn:pulumi:dev::signal9::aws:dynamodb/table:Table::assets-table",
        "urn:pulumi:dev::signal9::x:y:Z::given",
    )
