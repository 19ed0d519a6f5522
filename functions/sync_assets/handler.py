"""SyncAssets (schedule sync-assets): Alpaca's active asset catalog and 20-session volume into ``assets``.

Order: validate the schedule input, load the ``alpaca`` credentials, fetch everything
(the active list, the last 20 market sessions from Alpaca's calendar, then daily SIP bars
of those sessions for every listed symbol) and validate it, and only then reconcile
against the table, so a failed or malformed fetch writes nothing. ``avgVolume`` is the sum
of the 20 sessions' volumes divided by 20: a session without a bar (no trades) counts 0.

Reconciliation (docs/collectors.md, "Reconciliation"). The current rows are read with one paged
Query on ``status-index`` (``status = "active"``), never a Scan. That read is eventually
consistent: it may lag a pollenation that just moved ``status`` to a new row, showing the
symbol twice, only by its superseded row, or not at all. So the index read only decides
what to look at; a run never delists a symbol Alpaca lists, and every write is conditional
on the row's ``status`` or preceded by a strongly consistent read of the symbol's newest row
(:func:`newest_row`). Per symbol:

- listed and current row equal on every kept attribute: no write;
- listed with different attributes or ``avgVolume``: update the current row, conditional
  on it still carrying ``status`` (still current); an update also removes ``delistedAt``
  from a row that comes back after a delisting;
- a current row at :data:`NEVER_POLLENATED` (put by SyncAssets) is read back consistently
  first: a listing interrupted before it moved ``status`` to a newer row a first pollenation
  wrote would otherwise stay current under that row for good;
- seen twice in the index: its newest row (consistent read) is the current row if it has
  ``status``; otherwise it has none. The rows seen are not written on that evidence;
- listed, no current row seen: its newest row is read first (consistent). A current row the
  index missed is compared and updated as above; a new symbol gets a row with
  ``lastPollenationDate =`` :data:`NEVER_POLLENATED` (the epoch, so it sorts first in
  ``status-index`` ascending, before every ISO-8601 pollenation time PollenateAsset writes);
  a symbol with history (it left the list earlier, or was pollenated before it was listed)
  gets ``status`` back on its newest row instead;
- current row but no longer listed: ``REMOVE status`` (out of both sparse indexes), history
  kept, ``delistedAt`` set; a superseded row fails the condition and the retirement is
  redone on the newest row.

Answers more likely partial than real fail the run before any write (:func:`refuse_suspicious`):
a list that would retire too many current symbols, or bars that leave too many symbols that
traded in the previous window without a single bar (an empty or cut-short page still parses).

Concurrency with PollenateAsset, which in one transaction puts a new newest row (copying
``status``) and removes ``status`` from the previous row on condition it still has it:
every SyncAssets write is conditional on the row's ``status`` being what SyncAssets
believes, so a row that PollenateAsset superseded in between fails the condition and the
write is redone on the symbol's newest row (counted as ``AssetWriteConflicts``). Adding a
symbol is followed by reading its newest row back: had a pollenation written a newer row
without ``status`` meanwhile, ``status`` moves to that row in one transaction. Either way at
most one row of a symbol is in ``status-index`` at any moment. PollenateAsset in turn holds
the row it copies to what it read (``status`` and ``syncedAt``, or for a symbol without rows
the absence of the never-pollenated row), so it never copies attributes SyncAssets has just
changed (docs/collectors.md).

Writes go out on a small thread pool (one low-level client, thread-safe): conditional
writes cannot be batched (BatchWriteItem has no conditions; a TransactWriteItems of many
symbols would fail whole on one conflict).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, Literal, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from functions.shared.alpaca import AlpacaClient, Asset, average_volume
from functions.shared.assets import KEY, NEVER_POLLENATED, SYNCED_AT, newest_row
from functions.shared.clock import iso_utc, utc_now
from functions.shared.credentials import AlpacaCredentials, load_credentials
from functions.shared.dynamo import Item, query, table
from functions.shared.observability import count, gauge, instrumented, logger
from functions.shared.scheduled import ScheduledInvocation
from functions.shared.tally import Tally
from functions.shared.telemetry import FreshnessMetric, MetricName

ACTIVE = "active"
STATUS_INDEX = "status-index"
# The attributes SyncAssets owns on the current row (besides ``status``), compared to decide a write.
SYNCED = ("name", "exchange", "assetClass", "tradable", "marginable", "shortable", "fractionable", "alpacaId")
VOLUME = "avgVolume"
WRITERS = 8  # below botocore's default pool of 10 connections
MAX_CONFLICTS = 3  # per symbol; PollenateAsset writes one row per symbol per pollenation
# A run may retire at most this share of the current rows (and always this many): a longer
# list of departures is more likely a partial answer than a market event. Input key to override.
MAX_DELIST_SHARE, MAX_DELIST_ALWAYS = 0.05, 25
ALLOW_MASS_DELISTING = "allowMassDelisting"
# At most this share of the symbols that traded in the previous window (and always this many)
# may have no bar at all in this one: a symbol whose only trade left the window is rare, an
# empty bars page zeroes a whole batch. Input key to override.
MAX_VANISHED_SHARE, MAX_VANISHED_ALWAYS = 0.01, 3
ALLOW_VOLUME_LOSS = "allowVolumeLoss"
DELISTED_AT = "delistedAt"

Outcome = Literal["listed", "updated", "unchanged", "delisted", "gone"]
R = TypeVar("R")


class ConflictError(RuntimeError):
    """A symbol's rows kept changing under SyncAssets' conditional writes."""


class SuspiciousListError(RuntimeError):
    """Alpaca's list would retire too many current assets at once: more likely a truncated answer."""


class SuspiciousVolumesError(RuntimeError):
    """Too many symbols that traded lost every bar at once: more likely an empty or cut-short bars answer."""


@dataclass
class Summary:
    fetched: int = 0
    skipped: int = 0
    unchanged: int = 0
    listed: int = 0
    updated: int = 0
    delisted: int = 0
    conflicts: int = 0
    throttled: int = 0
    http_calls: int = 0
    window: str = ""
    symbols_without_bars: int = 0
    outcomes: Counter[str] = field(default_factory=Counter, repr=False)

    @property
    def written(self) -> int:
        return self.listed + self.updated + self.delisted

    def report(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "outcomes"} | {"written": self.written}

    def meter(self) -> None:
        """The collectors' common counts (as every collector's Tally), then the asset-only ones."""
        Tally(fetched=self.fetched, written=self.written, unchanged=self.unchanged, skipped=self.skipped).meter()
        count(MetricName.ASSETS_DELISTED, self.delisted)
        count(MetricName.ASSET_WRITE_CONFLICTS, self.conflicts)


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    invocation = ScheduledInvocation.parse(event)
    client = AlpacaClient(load_credentials(AlpacaCredentials))
    extra = invocation.model_extra or {}
    allowed = frozenset(key for key in (ALLOW_MASS_DELISTING, ALLOW_VOLUME_LOSS) if extra.get(key) is True)
    summary = sync(client, invocation.moment(), allowed)
    summary.meter()
    gauge(FreshnessMetric.ASSET_CATALOG_SYNCED, 1)  # only a completed sync gets here
    logger.info("asset catalog synced", extra=summary.report())
    return summary.report()


def sync(client: AlpacaClient, moment: datetime, allowed: frozenset[str] = frozenset()) -> Summary:
    """Fetch and validate everything, then reconcile ``assets`` (see the module docstring).

    ``allowed``: the overrides of :func:`refuse_suspicious` the invocation input set to true.
    """
    summary = Summary()
    wanted = fetch(client, moment, summary)
    current = current_rows()
    writer = Writer(iso_utc(utc_now()))
    jobs: list[Callable[[], Outcome]] = []
    for symbol, attributes in wanted.items():
        row = current.get(symbol)
        if row is None:
            jobs.append(partial(writer.list_symbol, symbol, attributes))
        elif row[KEY[1]] == NEVER_POLLENATED:
            jobs.append(partial(writer.never_pollenated, row, attributes))
        elif synced_view(row) != attributes:
            jobs.append(partial(writer.update, row, attributes))
        else:
            summary.unchanged += 1
    retired = [row for symbol, row in current.items() if symbol not in wanted]
    refuse_suspicious(summary, current, wanted, retired, allowed)
    jobs.extend(partial(writer.delist, row) for row in retired)
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        summary.outcomes.update(pool.map(lambda job: job(), jobs))
    summary.listed, summary.updated = summary.outcomes["listed"], summary.outcomes["updated"]
    summary.unchanged += summary.outcomes["unchanged"]  # current rows the index read missed
    summary.delisted = summary.outcomes["delisted"]
    summary.conflicts = writer.conflicts
    summary.throttled, summary.http_calls = client.throttled, client.calls
    return summary


def refuse_suspicious(
    summary: Summary, current: dict[str, Item], wanted: dict[str, Item], retired: list[Item], allowed: frozenset[str]
) -> None:
    """Fail before any write on answers more likely partial than real (an input key lets one run through).

    Too many current symbols missing from the list (:class:`SuspiciousListError`), or too many
    that traded in the previous window without a single bar in this one
    (:class:`SuspiciousVolumesError`): an empty or cut-short bars answer still parses.
    """
    limit = max(MAX_DELIST_ALWAYS, int(MAX_DELIST_SHARE * len(current)))
    if len(retired) > limit and ALLOW_MASS_DELISTING not in allowed:
        raise SuspiciousListError(
            f"Alpaca listed {summary.fetched} active assets; {len(retired)} of the {len(current)} current ones "
            f"would leave the indexes (limit {limit}). Nothing was written. If the departures are real, "
            f'invoke SyncAssets once with {{"{ALLOW_MASS_DELISTING}": true}}.'
        )
    traded = [symbol for symbol, row in current.items() if symbol in wanted and row.get(VOLUME, 0) > 0]
    vanished = [symbol for symbol in traded if not wanted[symbol][VOLUME]]
    limit = max(MAX_VANISHED_ALWAYS, int(MAX_VANISHED_SHARE * len(traded)))
    if len(vanished) > limit and ALLOW_VOLUME_LOSS not in allowed:
        raise SuspiciousVolumesError(
            f"Alpaca's bars of {summary.window} hold no bar of {len(vanished)} of the {len(traded)} listed symbols "
            f"that traded in the previous window (limit {limit}), e.g. {', '.join(sorted(vanished)[:5])}. "
            "Nothing was written. If they really stopped trading, invoke SyncAssets once with "
            f'{{"{ALLOW_VOLUME_LOSS}": true}}.'
        )


def fetch(client: AlpacaClient, moment: datetime, summary: Summary) -> dict[str, Item]:
    """The kept attributes of every active us_equity asset, ``avgVolume`` included."""
    assets: dict[str, Asset] = {}
    for asset in client.list_active_assets():
        if asset.status != ACTIVE or asset.asset_class != "us_equity" or asset.symbol in assets:
            summary.skipped += 1
            continue
        assets[asset.symbol] = asset
    summary.fetched = len(assets)
    sessions = client.recent_sessions(moment)
    summary.window = f"{sessions[0].isoformat()}..{sessions[-1].isoformat()}"
    volumes = client.daily_volumes(assets, sessions[0], sessions[-1])
    summary.symbols_without_bars = sum(1 for symbol in assets if not volumes.get(symbol))
    return {
        symbol: attributes(asset, average_volume(volumes.get(symbol, {}), sessions)) for symbol, asset in assets.items()
    }


def attributes(asset: Asset, avg_volume: int) -> Item:
    """The row attributes SyncAssets keeps for ``asset`` (``name`` absent when Alpaca sends none)."""
    item: Item = {
        "exchange": asset.exchange,
        "assetClass": asset.asset_class,
        "tradable": asset.tradable,
        "marginable": asset.marginable,
        "shortable": asset.shortable,
        "fractionable": asset.fractionable,
        "alpacaId": asset.id,
        VOLUME: Decimal(avg_volume),
    }
    if asset.name:
        item["name"] = asset.name
    return item


def synced_view(row: Item) -> Item:
    """The part of a stored row :func:`attributes` produces, for comparison."""
    return {k: row[k] for k in (*SYNCED, VOLUME) if k in row}


def current_rows() -> dict[str, Item]:
    """Active rows by symbol from ``status-index``; a symbol seen twice settled by a consistent read.

    Two rows of a symbol in the index read are what an index lagging a pollenation shows (the
    writers never leave two): the older may already be superseded, and retiring it would
    fail its condition and land on the newest row, delisting a listed symbol.
    """
    current: dict[str, Item] = {}
    twice: set[str] = set()
    for row in query(table("assets"), IndexName=STATUS_INDEX, KeyConditionExpression=Key("status").eq(ACTIVE)):
        symbol = str(row["symbol"])
        if symbol in current:
            twice.add(symbol)
        current[symbol] = row
    for symbol in sorted(twice):
        logger.warning("symbol seen twice in status-index; using its newest row", extra={"symbol": symbol})
        newest = newest_row(symbol)
        if newest is not None and "status" in newest:
            current[symbol] = newest
        else:
            del current[symbol]
    return current


class Writer:
    """Conditional writes of current rows, each redone on the newest row after losing a race."""

    def __init__(self, synced_at: str) -> None:
        self.synced_at = synced_at
        self.table = table("assets")
        self.client = self.table.meta.client  # thread-safe, unlike the Table resource
        self.conflicts = 0
        self._lock = threading.Lock()

    def list_symbol(self, symbol: str, wanted: Item) -> Outcome:
        """A listed symbol the index read did not show: a never-pollenated row, or ``status`` on its newest row.

        The newest row is read first: a lagging index may have missed a current row (then it
        is only compared and updated), and putting a never-pollenated row beside it would give
        the symbol two rows in the indexes. If a pollenation writes a newer row after this
        read, :meth:`_settle` moves ``status`` there.
        """
        newest = newest_row(symbol)
        if newest is not None and "status" in newest:
            return "unchanged" if synced_view(newest) == wanted else self.update(newest, wanted)
        written: Item | None = None
        if newest is None:
            try:
                written = self._activate(symbol, None, wanted)
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
        created = written is not None
        if written is None:
            written = self._retrying(symbol, newest, lambda row: self._activate(symbol, row, wanted))
        self._settle(symbol, written, wanted, created=created)
        return "listed"

    def never_pollenated(self, row: Item, wanted: Item) -> Outcome:
        """A current row SyncAssets put: made sure it is still the symbol's newest before it is compared.

        A listing interrupted between its put and :meth:`_settle` (a crash, a throttled
        transaction) while a first pollenation recorded a newer row leaves the put row current
        under it; the run that finds it settles it (one consistent read: never-pollenated rows
        are the symbols no pollenation has reached yet).
        """
        if self._settle(str(row["symbol"]), row, wanted, created=True):
            return "updated"
        return "unchanged" if synced_view(row) == wanted else self.update(row, wanted)

    def update(self, row: Item, wanted: Item) -> Outcome:
        self._retrying(str(row["symbol"]), row, lambda current: self._activate(str(row["symbol"]), current, wanted))
        return "updated"

    def delist(self, row: Item) -> Outcome:
        def retire(current: Item | None) -> Item | None:
            if current is None or "status" not in current:
                return None  # nothing in the indexes any more
            self._write(
                current,
                f"REMOVE #status SET #{DELISTED_AT} = :at",
                {":at": self.synced_at},
                "attribute_exists(#status)",
            )
            return current

        done = self._retrying(str(row["symbol"]), row, retire)
        return "delisted" if done is not None else "gone"

    def _activate(self, symbol: str, row: Item | None, wanted: Item) -> Item:
        """Make ``row`` (the newest, or None for a symbol without rows) the active current row."""
        if row is None:
            item = {"symbol": symbol, "lastPollenationDate": NEVER_POLLENATED, "status": ACTIVE, **wanted}
            self.client.put_item(
                TableName=self.table.name,
                Item=item | {SYNCED_AT: self.synced_at},
                ConditionExpression="attribute_not_exists(symbol)",
            )
            return item
        condition = (
            "attribute_exists(#status)"
            if "status" in row
            else "attribute_exists(symbol) AND attribute_not_exists(#status)"
        )
        self._write(row, *self._set(wanted), condition)
        return row

    def _set(self, wanted: Item) -> tuple[str, dict[str, Any]]:
        values = {f":{k}": v for k, v in wanted.items()} | {":status": ACTIVE, f":{SYNCED_AT}": self.synced_at}
        assignments = ", ".join(f"#{k} = :{k}" for k in (*wanted, "status", SYNCED_AT))
        # A relisted row is current again: it loses the delisting's mark.
        removals = [f"#{k}" for k in SYNCED if k not in wanted] + [f"#{DELISTED_AT}"]
        return f"SET {assignments}" + (f" REMOVE {', '.join(removals)}" if removals else ""), values

    def _write(self, row: Item, expression: str, values: dict[str, Any], condition: str) -> None:
        self.client.update_item(
            TableName=self.table.name,
            Key={k: row[k] for k in KEY},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=_names(expression, condition),
            ExpressionAttributeValues=values,
        )

    def _retrying(self, symbol: str, row: Item | None, write: Callable[[Item | None], R]) -> R:
        """``write(row)``; when a condition fails, ``write`` again on the symbol's newest row."""
        known = row is not None
        for _ in range(MAX_CONFLICTS + 1):
            try:
                return write(row if known else newest_row(symbol))
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
                self._count_conflict()
                known = False
        raise ConflictError(f"assets rows of {symbol} kept changing during {MAX_CONFLICTS + 1} conditional writes")

    def _settle(self, symbol: str, written: Item, wanted: Item, *, created: bool) -> bool:
        """After listing a symbol: if it has a newer row without ``status``, move ``status`` to that row (True).

        Happens for a symbol pollenated before it was listed or listed again after leaving, and
        when a pollenation wrote meanwhile. The row just put (``created``) is deleted rather
        than left as a never-pollenated row in the history of a symbol that was pollenated.
        """
        for _ in range(MAX_CONFLICTS + 1):
            newest = newest_row(symbol)
            if newest is None or "status" in newest or newest[KEY[1]] == written[KEY[1]]:
                return False
            expression, values = self._set(wanted)
            retire: dict[str, Any] = {
                "TableName": self.table.name,
                "Key": {k: written[k] for k in KEY},
                "ConditionExpression": "attribute_exists(#status)",
                "ExpressionAttributeNames": {"#status": "status"},
            }
            if not created:
                retire |= {"UpdateExpression": "REMOVE #status SET supersededAt = :at"}
                retire |= {"ExpressionAttributeValues": {":at": newest[KEY[1]]}}
            activate: dict[str, Any] = {
                "TableName": self.table.name,
                "Key": {k: newest[k] for k in KEY},
                "UpdateExpression": expression,
                "ConditionExpression": "attribute_not_exists(#status)",
                "ExpressionAttributeNames": _names(expression, "#status"),
                "ExpressionAttributeValues": values,
            }
            second: dict[str, Any] = {"Delete": retire} if created else {"Update": retire}
            try:
                # The resource's client serialises plain Python values, as Table methods do.
                self.client.transact_write_items(TransactItems=[{"Update": activate}, second])  # type: ignore[typeddict-item, list-item]
                return True
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                self._count_conflict()
        raise ConflictError(f"assets rows of {symbol} kept changing while its status was moved to the newest row")

    def _count_conflict(self) -> None:
        with self._lock:
            self.conflicts += 1


def _names(*expressions: str) -> dict[str, str]:
    """``ExpressionAttributeNames`` for the ``#name`` placeholders the expressions use."""
    text = " ".join(expressions)
    return {f"#{k}": k for k in (*SYNCED, VOLUME, "status", SYNCED_AT, DELISTED_AT) if f"#{k}" in text}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
