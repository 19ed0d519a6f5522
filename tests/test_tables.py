"""The Tables component under Pulumi mocks: keys, indexes, billing, recovery, protection, tags."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signal9 import catalog
from signal9.naming import Naming
from signal9_tools.mockrun import ProgramRun

TABLE = "aws:dynamodb/table:Table"


def tables_by_catalog_name(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.name.removesuffix("-table"): r.plain_inputs for r in run.of_type(TABLE)}


def test_every_catalog_table_is_created_once_with_its_physical_name(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        tables = tables_by_catalog_name(run)
        assert sorted(tables) == sorted(catalog.TABLE_NAMES)
        assert len(tables) == 8
        for name, inputs in tables.items():
            assert inputs["name"] == Naming(stack).table(name) == f"signal9-{stack}-{name}"


@pytest.mark.parametrize("table", catalog.TABLES, ids=lambda t: t.name)
def test_keys_and_indexes_match_the_spec(dev: ProgramRun, table: catalog.Table) -> None:
    inputs = tables_by_catalog_name(dev)[table.name]
    assert (inputs["hashKey"], inputs["rangeKey"]) == (table.partition.name, table.sort.name)
    indexes = {
        index["name"]: (index["projectionType"], [(k["attributeName"], k["keyType"]) for k in index["keySchemas"]])
        for index in inputs.get("globalSecondaryIndexes", [])
    }
    assert indexes == {
        index.name: ("ALL", [(index.partition.name, "HASH"), (index.sort.name, "RANGE")]) for index in table.indexes
    }
    # Deprecated per-index hash_key/range_key must not be used alongside key_schemas.
    for index in inputs.get("globalSecondaryIndexes", []):
        assert "hashKey" not in index and "rangeKey" not in index


SPEC_KEYS = {
    # table: (partition, sort, {index: (partition, sort)}) — transcribed from SPEC.md's table.
    "assets": (
        ("symbol", "S"),
        ("lastPollenationDate", "S"),
        {"status-index": ("status", "lastPollenationDate"), "volume-index": ("status", "avgVolume")},
    ),
    "earningsCalendar": (
        ("asset_symbol", "S"),
        ("earnings_date", "S"),
        {"upcoming-earnings-index": ("earnings_date", "asset_symbol")},
    ),
    "newsSentiment": (
        ("news_id", "S"),
        ("time_published", "S"),
        {
            "asset-news-index": ("asset_symbol", "time_published"),
            "sentiment-score-index": ("asset_symbol", "sentiment_score"),
        },
    ),
    "companyOverview": (("symbol", "S"), ("last_updated", "S"), {}),
    "earnings": (("symbol", "S"), ("fiscal_date_ending", "S"), {}),
    "cashFlow": (("symbol", "S"), ("fiscal_date_ending", "S"), {}),
    "balanceSheet": (("symbol", "S"), ("fiscal_date_ending", "S"), {}),
    "incomeStatement": (("symbol", "S"), ("fiscal_date_ending", "S"), {}),
}
NUMERIC_ATTRIBUTES = {"avgVolume", "sentiment_score"}


@pytest.mark.parametrize("name", sorted(SPEC_KEYS))
def test_catalog_matches_the_spec_transcription(dev: ProgramRun, name: str) -> None:
    partition, sort, indexes = SPEC_KEYS[name]
    inputs = tables_by_catalog_name(dev)[name]
    assert inputs["hashKey"] == partition[0] and inputs["rangeKey"] == sort[0]
    got = {
        i["name"]: tuple(k["attributeName"] for k in i["keySchemas"]) for i in inputs.get("globalSecondaryIndexes", [])
    }
    assert got == indexes


@pytest.mark.parametrize("table", catalog.TABLES, ids=lambda t: t.name)
def test_attribute_definitions_are_exactly_the_key_attributes(dev: ProgramRun, table: catalog.Table) -> None:
    inputs = tables_by_catalog_name(dev)[table.name]
    key_names = {table.partition.name, table.sort.name} | {k.name for i in table.indexes for k in (i.partition, i.sort)}
    attributes = {a["name"]: a["type"] for a in inputs["attributes"]}
    assert set(attributes) == key_names  # AWS rejects attribute definitions that are not keys
    assert len(inputs["attributes"]) == len(attributes)  # each once
    for attribute, kind in attributes.items():
        assert kind == ("N" if attribute in NUMERIC_ATTRIBUTES else "S")


def test_billing_recovery_encryption_and_no_ttl_everywhere(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        for inputs in tables_by_catalog_name(run).values():
            assert inputs["billingMode"] == "PAY_PER_REQUEST"
            assert inputs["pointInTimeRecovery"] == {"enabled": True}
            # Encryption keys per stack: tests/test_encryption.py.
            assert "serverSideEncryption" in inputs
            assert "ttl" not in inputs  # indefinite retention
            assert "readCapacity" not in inputs and "writeCapacity" not in inputs


@pytest.mark.parametrize(
    ("stack", "deletion_protection", "protect_and_retain"),
    [("dev", False, False), ("staging", True, False), ("prod", True, True)],
)
def test_protection_per_stack(
    plans: dict[str, ProgramRun], stack: str, deletion_protection: bool, protect_and_retain: bool
) -> None:
    tables = plans[stack].of_type(TABLE)
    assert len(tables) == 8
    for table in tables:
        assert table.inputs["deletionProtectionEnabled"] is deletion_protection
        assert table.protect is protect_and_retain
        assert table.retain_on_delete is protect_and_retain
        # A replacement must fail on the name clash, never delete the data first.
        assert not table.delete_before_replace


def test_tables_are_children_of_the_tables_component(dev: ProgramRun) -> None:
    assert {r.parent for r in dev.of_type(TABLE)} == {"tables"}
    assert dev.named("tables").type == "signal9:index:Tables"


def test_tags_component_on_tables_and_common_tags_on_the_provider(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        (provider,) = run.of_type("pulumi:providers:aws")
        assert json.loads(provider.inputs["defaultTags"]) == {
            "tags": {"Project": "signal9", "Environment": stack, "ManagedBy": "pulumi"}
        }
        for table in run.of_type(TABLE):
            assert table.inputs["tags"] == {"Component": "tables"}
            assert table.provider is not None and table.provider.split("::")[-1].startswith("aws")


def test_stack_outputs_name_every_table_and_arn(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        assert run.outputs["tableNames"] == {t: Naming(stack).table(t) for t in catalog.TABLE_NAMES}
        assert run.outputs["tableArns"] == {
            t: f"arn:aws:dynamodb:{run.region}:123456789012:table/{Naming(stack).table(t)}" for t in catalog.TABLE_NAMES
        }
