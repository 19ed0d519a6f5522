"""`signal9 local up` collects: where the collectors fetch from, and what they must have landed.

By default both API fakes are served on 127.0.0.1 (``signal9_tools.fakes.cli.served_fakes``); with
``--alpaca-url/--alpaca-data-url/--alphavantage-url`` the collectors use those endpoints and
the keys from the environment. Either way the endpoints and keys are stored in the deployed
secrets (the only seeding: no table rows are written by hand), each schedule fires through
the deployed wiring, and the checks here hold for any endpoint: they assert invariants
(every listed asset is a current row exactly once in both indexes; a second run of each
collector changes nothing), not fixed counts.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.secrets import PLACEHOLDER_TAG, placeholder_tag_value
from functions.shared.alpaca import AlpacaClient
from functions.shared.credentials import AlpacaCredentials
from signal9 import catalog
from signal9_tools.fakes.alpaca import AlpacaFake
from signal9_tools.fakes.alphavantage import AlphaVantageFake

# Where `--*-url` runs take their keys from: never from a file or an argument (shell history).
KEY_VARIABLES = {
    ("alpaca", "keyId"): "SIGNAL9_ALPACA_KEY_ID",
    ("alpaca", "secretKey"): "SIGNAL9_ALPACA_SECRET_KEY",
    ("alphavantage", "apiKey"): "SIGNAL9_ALPHAVANTAGE_API_KEY",
}
COLLECTORS = ("SyncAssets", "SyncEarningsCalendar", "SyncNewsSentiment")


@dataclass(frozen=True)
class LocalFakes:
    alpaca: AlpacaFake
    alphavantage: AlphaVantageFake


class EndpointConfigError(ValueError):
    """``--*-url`` given without every key it needs, or only some of the URLs."""


@dataclass(frozen=True)
class Endpoints:
    """The APIs the collectors call during the run, and the secret values that point them there."""

    alpaca_url: str
    alpaca_data_url: str
    alphavantage_url: str
    keys: Mapping[tuple[str, str], str]
    built_in_fakes: bool

    def secrets(self) -> dict[str, dict[str, str]]:
        return {
            "alpaca": {
                "keyId": self.keys[("alpaca", "keyId")],
                "secretKey": self.keys[("alpaca", "secretKey")],
                "baseUrl": self.alpaca_url,
                "dataUrl": self.alpaca_data_url,
            },
            "alphavantage": {"apiKey": self.keys[("alphavantage", "apiKey")], "baseUrl": self.alphavantage_url},
        }

    def describe(self) -> str:
        source = "the built-in fakes" if self.built_in_fakes else "the given endpoints"
        return f"{source}: alpaca {self.alpaca_url} (data {self.alpaca_data_url}), alphavantage {self.alphavantage_url}"


def given_endpoints(
    alpaca_url: str | None,
    alpaca_data_url: str | None,
    alphavantage_url: str | None,
    environ: Mapping[str, str] = os.environ,
) -> Endpoints | None:
    """The endpoints from ``--*-url`` (None when none is given); a clear error when incomplete."""
    urls = {"--alpaca-url": alpaca_url, "--alpaca-data-url": alpaca_data_url, "--alphavantage-url": alphavantage_url}
    if not any(urls.values()):
        return None
    missing = [flag for flag, url in urls.items() if not url]
    if missing:
        raise EndpointConfigError(f"give all three endpoints, or none: missing {', '.join(missing)}")
    unset = [variable for variable in KEY_VARIABLES.values() if not environ.get(variable)]
    if unset:
        raise EndpointConfigError(f"set {', '.join(unset)} in the environment (the keys for the given endpoints)")
    return Endpoints(
        str(alpaca_url),
        str(alpaca_data_url),
        str(alphavantage_url),
        {key: environ[variable] for key, variable in KEY_VARIABLES.items()},
        built_in_fakes=False,
    )


def store_credentials(client: Any, naming: Any, endpoints: Endpoints) -> str:
    """Put the endpoints and keys in both deployed secrets (values never reported).

    With the tag the deploy writes once every field is set (as `pulumi up` after `pulumi config
    set --secret` would): `signal9 verify` reads it, never the value.
    """
    for name, value in endpoints.secrets().items():
        client.put_secret_value(SecretId=naming.secret(name), SecretString=json.dumps(value))
        client.tag_resource(
            SecretId=naming.secret(name), Tags=[{"Key": PLACEHOLDER_TAG, "Value": placeholder_tag_value(())}]
        )
    return f"both secrets point at {endpoints.describe()}"


def listed_symbols(endpoints: Endpoints) -> set[str]:
    """What Alpaca's active list holds, read with the project's own client (as SyncAssets reads it)."""
    client = AlpacaClient(AlpacaCredentials.model_validate(endpoints.secrets()["alpaca"]))
    # The client meters each call as an EMF line on stdout; this call is the smoke's, not a handler's.
    with contextlib.redirect_stdout(io.StringIO()):
        return {asset.symbol for asset in client.list_active_assets()}


def snapshot(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table, in key order (a Scan: the report proves what was, or was not, written)."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def index_symbols(dynamodb: Any, table: str, index: str) -> Counter[str]:
    """How often each symbol appears among the active rows of an assets index (Query, paged)."""
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName=index,
        KeyConditionExpression="#status = :active",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":active": {"S": "active"}},
    )
    return Counter(item["symbol"]["S"] for page in pages for item in page["Items"])


def assets_landed(dynamodb: Any, naming: Any, listed: set[str], skipped: int) -> str:
    """Every listed asset is a current row exactly once in both indexes (``skipped`` failed validation)."""
    table = naming.table("assets")
    by_index = {index.name: index_symbols(dynamodb, table, index.name) for index in catalog.table("assets").indexes}
    for index, counts in by_index.items():
        twice = sorted(symbol for symbol, n in counts.items() if n > 1)
        if twice:
            raise AssertionError(f"{index} holds {twice[:5]} more than once")
        unlisted = sorted(set(counts) - listed)
        if unlisted:
            raise AssertionError(f"{index} holds {unlisted[:5]}, which the Alpaca list does not")
        missing = sorted(listed - set(counts))
        if len(missing) != skipped:
            raise AssertionError(f"{index} misses {missing[:5]} ({len(missing)}; SyncAssets skipped {skipped})")
    with_volume = len(by_index["volume-index"])
    return f"assets: {len(by_index['status-index'])} active, {with_volume} with volume, each once in both indexes"


def table_summary(dynamodb: Any, naming: Any, table: str, symbol_attribute: str, unit: str) -> str:
    # Items without the attribute are the collector's own bookkeeping (e.g. the news watermark).
    items = [item for item in snapshot(dynamodb, naming.table(table)) if symbol_attribute in item]
    if not items:
        raise AssertionError(f"{table} holds no {unit}")
    symbols = {item[symbol_attribute]["S"] for item in items}
    return f"{table}: {len(items)} {unit} for {len(symbols)} symbols"
