"""SyncAssets in-process on moto (DynamoDB emulated, not AWS) against the Alpaca fake over real HTTP."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.pollenate_asset import handler as pollenate
from functions.shared import assets as shared_assets
from functions.shared import aws as shared_aws
from functions.shared import retry
from functions.shared.alpaca import AlpacaAuthError, AlpacaRequestError, AlpacaUnavailableError
from functions.shared.assets import NEVER_POLLENATED
from functions.shared.env import table_variable
from functions.shared.events import PollenationNeeded
from functions.shared.telemetry import FreshnessMetric
from functions.sync_assets import handler as sync_assets
from functions.sync_assets.handler import SuspiciousListError, SuspiciousVolumesError
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, BARS_PATH, NEW_YORK, Answer, sessions
from signal9_tools.motolock import serialized_moto
from tests.alpaca_support import MONDAY_0530_NY, Served, served_fake
from tests.av_support import captured_logs
from tests.handler_support import Fleet, record_gauges, scheduled_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
RUN_AT = datetime.fromtimestamp(MONDAY_0530_NY, UTC)
WRITE_CALLS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with served_fake(size=getattr(request, "param", 40)) as served:
        yield served


# The interleaving tests scan both indexes after every write: a dozen companies keep that quick.
SMALL_UNIVERSE = pytest.mark.parametrize("served", [12], indirect=True)


@pytest.fixture
def writes() -> Counter[str]:
    """DynamoDB write calls made through the handlers' client, by operation."""
    return Counter()


@pytest.fixture
def fleet(
    shared_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, served: Served, writes: Counter[str]
) -> Iterator[Fleet]:
    shared_aws.reset_clients()
    monkeypatch.setattr(retry, "pause", served.sleeps.append)
    fleet = Fleet(shared_tables, monkeypatch)
    monkeypatch.setenv(table_variable("assets"), shared_tables["assets"])  # for PollenateAsset called directly
    fleet.put_secret(
        "alpaca",
        {
            "keyId": ALPACA_KEY_ID,
            "secretKey": ALPACA_SECRET_KEY,
            "baseUrl": served.server.url,
            "dataUrl": served.server.url,
        },
    )
    client = shared_aws.dynamodb().meta.client
    for operation in WRITE_CALLS:
        client.meta.events.register(f"before-call.dynamodb.{operation}", lambda model, **_: writes.update([model.name]))
    client.meta.events.register("before-call.dynamodb.Scan", refuse_scan)
    with serialized_moto():
        yield fleet
    shared_aws.reset_clients()


def refuse_scan(**_: Any) -> None:
    raise AssertionError("handlers must Query or GetItem, never Scan")


def run(fleet: Fleet, at: datetime = RUN_AT) -> dict[str, Any]:
    result: dict[str, Any] = fleet.invoke("SyncAssets", scheduled_event(at))
    return result


def index_rows(fleet: Fleet, index: str = "status-index") -> list[dict[str, Any]]:
    """Every row in a sparse index (the test's own client; a Scan proves what is there)."""
    return list(fleet.table("assets").scan(IndexName=index)["Items"])


def histories(fleet: Fleet) -> dict[str, list[dict[str, Any]]]:
    """Each symbol's rows, oldest first (one Scan of the table for every symbol)."""
    by_symbol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(fleet.rows("assets"), key=lambda r: r["lastPollenationDate"]):
        by_symbol[row["symbol"]].append(row)
    return by_symbol


def rows_of(fleet: Fleet, symbol: str) -> list[dict[str, Any]]:
    return histories(fleet).get(symbol, [])


def assert_one_current_row_per_symbol(fleet: Fleet) -> None:
    for index in ("status-index", "volume-index"):
        counts = Counter(r["symbol"] for r in index_rows(fleet, index))
        assert not [s for s, n in counts.items() if n > 1], f"symbols twice in {index}"


def assert_newest_rows_are_current(fleet: Fleet, symbols: set[str]) -> None:
    """Each symbol: exactly one row in both indexes, and it is the symbol's newest row."""
    assert_one_current_row_per_symbol(fleet)
    indexed = {r["symbol"]: r for r in index_rows(fleet)}
    assert set(indexed) == symbols
    history = histories(fleet)
    for symbol in symbols:
        assert indexed[symbol] == history[symbol][-1]
    assert {r["symbol"] for r in index_rows(fleet, "volume-index")} == symbols


def last_sessions(at: datetime = RUN_AT) -> list[date]:
    """The fake's own 20 NYSE sessions ending the New York day before ``at``."""
    yesterday = at.astimezone(NEW_YORK).date() - timedelta(days=1)
    return sessions(yesterday - timedelta(days=60), yesterday)[-20:]


def traded(served: Served, symbol: str, at: datetime = RUN_AT) -> dict[date, int]:
    """The fake's bars of ``symbol`` on those sessions."""
    volumes = {day: served.fake.daily_volume(symbol, day) for day in last_sessions(at)}
    return {day: v for day, v in volumes.items() if v is not None}


def expected_average(served: Served, symbol: str, at: datetime = RUN_AT) -> int:
    """SPEC: the 20 sessions' volumes summed and divided by 20, a session without a bar counting 0."""
    return round(sum(traded(served, symbol, at).values()) / 20)


def pollenation(symbol: str, at: str = "2026-11-02T12:00:00Z") -> PollenationNeeded:
    return PollenationNeeded.model_validate({"symbol": symbol, "reason": "regular", "requestedAt": at})


# --- runs --------------------------------------------------------------------------------


def test_first_run_writes_every_active_asset_once_with_its_volume(
    fleet: Fleet, served: Served, writes: Counter[str]
) -> None:
    result = run(fleet)
    active = served.fake.active_symbols()
    assert result["fetched"] == len(active) == result["listed"] == result["written"]
    assert (result["unchanged"], result["updated"], result["delisted"], result["conflicts"]) == (0, 0, 0, 0)
    assert writes == Counter(PutItem=len(active))
    assert_newest_rows_are_current(fleet, active)
    rows = {r["symbol"]: r for r in fleet.rows("assets")}
    assert set(rows) == active  # inactive fake assets are not written
    apple = rows["AAPL"]
    assert apple["lastPollenationDate"] == NEVER_POLLENATED and apple["status"] == "active"
    assert {k: apple[k] for k in ("name", "exchange", "assetClass", "tradable", "alpacaId")} == {
        "name": "Apple Inc. Common Stock",
        "exchange": "NASDAQ",
        "assetClass": "us_equity",
        "tradable": True,
        "alpacaId": next(a["id"] for a in served.fake.assets() if a["symbol"] == "AAPL"),
    }
    for symbol, row in rows.items():
        assert row["avgVolume"] == Decimal(expected_average(served, symbol)), symbol
    without_bars = [s for s in active if expected_average(served, s) == 0]
    assert without_bars and result["symbols_without_bars"] == len(without_bars)
    assert "" in {r["exchange"] for r in rows.values()}  # the fake's exchange "" row is kept as is
    assert result["window"] == "2026-10-05..2026-10-30"  # the 20 sessions before Monday 2 November


def test_a_thinly_traded_symbol_averages_its_volume_over_twenty_sessions(fleet: Fleet, served: Served) -> None:
    run(fleet)
    rows = {r["symbol"]: r for r in fleet.rows("assets")}
    thin = {s: traded(served, s) for s in served.fake.active_symbols() if 0 < len(traded(served, s)) < 20}
    assert thin  # the fake has symbols with a bar on only a few of the sessions
    for symbol, bars in thin.items():
        assert rows[symbol]["avgVolume"] == Decimal(round(sum(bars.values()) / 20)), symbol
        assert rows[symbol]["avgVolume"] != round(sum(bars.values()) / len(bars))  # not the mean of the bars found


def test_a_holiday_in_the_window_is_not_a_session(fleet: Fleet, served: Served) -> None:
    after_thanksgiving = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # Monday 05:30 in New York
    served.clock.now = after_thanksgiving.timestamp()
    result = run(fleet, after_thanksgiving)
    # 20 sessions back from Friday 4 December skip Thursday 26 November: the window starts a
    # weekday earlier than 20 weekdays would (9 November).
    assert date(2026, 11, 26) not in last_sessions(after_thanksgiving)
    assert result["window"] == "2026-11-06..2026-12-04"
    bars = [r for r in served.server.requests if r.path == BARS_PATH]
    assert bars and {(r.query["start"], r.query["end"]) for r in bars} == {("2026-11-06", "2026-12-04")}
    rows = {r["symbol"]: r for r in fleet.rows("assets")}
    for symbol, row in rows.items():
        assert row["avgVolume"] == Decimal(expected_average(served, symbol, after_thanksgiving)), symbol


def test_second_run_writes_nothing(fleet: Fleet, served: Served, writes: Counter[str]) -> None:
    run(fleet)
    before = fleet.rows("assets")
    writes.clear()
    result = run(fleet)
    assert writes == Counter()
    assert result["written"] == 0 and result["unchanged"] == result["fetched"] == len(served.fake.active_symbols())
    assert fleet.rows("assets") == before


def test_changes_cost_one_write_each(fleet: Fleet, served: Served, writes: Counter[str]) -> None:
    run(fleet)
    served.fake.change("MSFT", name="Microsoft Corp. (renamed)")
    served.fake.change("IBM", shortable=False, exchange="NEWEX")
    served.fake.delist(["NVDA"])
    (new,) = served.fake.list_new(1)
    writes.clear()
    result = run(fleet)
    assert (result["listed"], result["updated"], result["delisted"], result["written"]) == (1, 2, 1, 4)
    assert writes == Counter(PutItem=1, UpdateItem=3)
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())
    assert rows_of(fleet, "MSFT")[-1]["name"] == "Microsoft Corp. (renamed)"
    assert (rows_of(fleet, "IBM")[-1]["shortable"], rows_of(fleet, "IBM")[-1]["exchange"]) == (False, "NEWEX")
    assert rows_of(fleet, new)[-1]["lastPollenationDate"] == NEVER_POLLENATED


def test_volume_change_updates_the_current_row(fleet: Fleet, served: Served) -> None:
    run(fleet)
    served.clock.advance(86400)  # Tuesday: Monday's session is over
    tuesday = RUN_AT + timedelta(days=1)
    result = run(fleet, tuesday)  # the window moves a session: the volume of every symbol that traded changes
    active = served.fake.active_symbols()
    moved = [s for s in active if expected_average(served, s) != expected_average(served, s, tuesday)]
    assert len(moved) > len(active) // 2
    assert (result["updated"], result["unchanged"]) == (len(moved), len(active) - len(moved))
    rows = {r["symbol"]: r for r in fleet.rows("assets")}
    assert all(rows[s]["avgVolume"] == expected_average(served, s, tuesday) for s in active)


def test_a_name_alpaca_stops_sending_is_removed(fleet: Fleet, served: Served) -> None:
    run(fleet)
    served.fake.change("JPM", name=None)
    assert run(fleet)["updated"] == 1
    assert "name" not in rows_of(fleet, "JPM")[-1]


def test_delisted_symbol_leaves_both_indexes_and_keeps_its_history(fleet: Fleet, served: Served) -> None:
    run(fleet)
    pollenate.record_pollenation(pollenation("TSLA"))
    served.fake.delist(["TSLA"])
    result = run(fleet)
    assert result["delisted"] == 1
    history = rows_of(fleet, "TSLA")
    assert [r["lastPollenationDate"] for r in history] == [NEVER_POLLENATED, "2026-11-02T12:00:00.000Z"]
    assert all("status" not in r for r in history) and "delistedAt" in history[-1]
    assert "TSLA" not in {r["symbol"] for r in index_rows(fleet)}
    assert "TSLA" not in {r["symbol"] for r in index_rows(fleet, "volume-index")}
    assert run(fleet)["written"] == 0  # gone stays gone without further writes


def test_relisted_symbol_gets_status_back_on_its_newest_row(fleet: Fleet, served: Served) -> None:
    run(fleet)
    pollenate.record_pollenation(pollenation("TSLA"))
    served.fake.delist(["TSLA"])
    run(fleet)
    served.fake._delisted.clear()
    assert run(fleet)["listed"] == 1
    history = rows_of(fleet, "TSLA")
    assert len(history) == 2 and history[-1]["status"] == "active" and "status" not in history[0]
    assert "delistedAt" not in history[-1]  # current again: the delisting's mark goes
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())


def test_symbol_pollenated_before_it_was_listed_gets_status_on_that_row(fleet: Fleet, served: Served) -> None:
    pollenate.record_pollenation(pollenation("AAPL"))  # PollenateAsset wrote a row without status
    run(fleet)
    (row,) = rows_of(fleet, "AAPL")
    assert row["lastPollenationDate"] == "2026-11-02T12:00:00.000Z" and row["status"] == "active"
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())


# --- failures write nothing --------------------------------------------------------------


def test_a_malformed_asset_list_writes_nothing(fleet: Fleet, served: Served, writes: Counter[str]) -> None:
    served.fake.change("AAPL", tradable="perhaps")
    with pytest.raises(AlpacaRequestError, match="failed validation"):
        run(fleet)
    assert writes == Counter() and fleet.rows("assets") == []


def test_bars_failing_after_retries_write_nothing(fleet: Fleet, served: Served, writes: Counter[str]) -> None:
    run(fleet)
    served.fake.change("MSFT", name="changed but never written")
    served.fake.fail_next(503, times=100, path=BARS_PATH)
    writes.clear()
    with pytest.raises(AlpacaUnavailableError, match="still answered 503 after 4 attempts"):
        run(fleet)
    assert writes == Counter() and len(served.sleeps) == 3
    assert rows_of(fleet, "MSFT")[-1]["name"] != "changed but never written"


def test_bars_without_the_symbols_that_traded_write_nothing_unless_allowed(
    fleet: Fleet, served: Served, writes: Counter[str]
) -> None:
    run(fleet)
    before = fleet.rows("assets")
    served.fake.fail_next(Answer.EMPTY, path=BARS_PATH)  # {"bars": {}, "next_page_token": null}
    writes.clear()
    with pytest.raises(SuspiciousVolumesError, match=r"no bar of \d+ of the \d+ listed symbols that traded"):
        run(fleet)
    assert writes == Counter() and fleet.rows("assets") == before
    served.fake.fail_next(Answer.EMPTY, path=BARS_PATH)
    result = fleet.invoke("SyncAssets", {**scheduled_event(RUN_AT), "allowVolumeLoss": True})
    assert result["updated"] == len([r for r in before if r["avgVolume"] > 0])
    assert {r["avgVolume"] for r in fleet.rows("assets")} == {0}


def test_a_truncated_list_delists_nothing_unless_allowed(
    fleet: Fleet, served: Served, writes: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(fleet)
    current = len(served.fake.active_symbols())
    monkeypatch.setattr(sync_assets, "MAX_DELIST_ALWAYS", 1)  # limit = max(1, 5% of 39) = 1
    served.fake.delist(["AAPL", "MSFT"])
    writes.clear()
    with pytest.raises(
        SuspiciousListError, match=rf"2 of the {current} current ones would leave the indexes \(limit 1\)"
    ):
        run(fleet)
    assert writes == Counter()
    event = scheduled_event(RUN_AT) | {"allowMassDelisting": True}
    assert fleet.invoke("SyncAssets", event)["delisted"] == 2


def test_rejected_keys_fail_clearly_without_writing_or_logging_them(fleet: Fleet, served: Served) -> None:
    served.fake.secret_key = "test-rotated-secret-0000"
    with captured_logs() as logs, pytest.raises(AlpacaAuthError, match="answered 401"):
        run(fleet)
    assert fleet.rows("assets") == []
    assert "invocation failed" in logs.getvalue()
    assert ALPACA_KEY_ID not in logs.getvalue() and ALPACA_SECRET_KEY not in logs.getvalue()


def test_the_run_is_logged_and_metered(fleet: Fleet, served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    with captured_logs() as logs:
        run(fleet)
    summary = next(line for line in logs.getvalue().splitlines() if "asset catalog synced" in line)
    assert f'"fetched":{len(served.fake.active_symbols())}' in summary.replace(" ", "")
    out = capsys.readouterr().out
    for metric in ("RecordsFetched", "ItemsWritten", "ItemsUnchanged", "RecordsSkipped", "AssetsDelisted"):
        assert f'"{metric}":[' in out or f'"{metric}":' in out, metric
    assert '"ExternalCalls"' in out and '"api":"alpaca"' in out


# --- interleavings with PollenateAsset (moto) ---------------------------------------------


@pytest.fixture
def invariant_after_every_write(fleet: Fleet) -> list[str]:
    """After every DynamoDB write either handler makes, no symbol may be in an index twice."""
    checked: list[str] = []

    def check(model: Any, **_: Any) -> None:
        assert_one_current_row_per_symbol(fleet)
        checked.append(model.name)

    client = shared_aws.dynamodb().meta.client
    for operation in WRITE_CALLS:
        client.meta.events.register(f"after-call.dynamodb.{operation}", check)
    return checked


def during_pollenate_read(monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> None:
    """Run ``action`` after PollenateAsset has read the symbol's newest row and before it writes."""
    original = pollenate.query  # type: ignore[attr-defined]

    def read_then_act(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        rows = list(original(*args, **kwargs))
        action()
        return iter(rows)

    monkeypatch.setattr(pollenate, "query", read_then_act)


def during_sync_read(monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> None:
    """Run ``action`` after SyncAssets has read status-index and before it writes."""
    original = sync_assets.current_rows

    def read_then_act() -> Any:
        read = original()
        action()
        return read

    monkeypatch.setattr(sync_assets, "current_rows", read_then_act)


@SMALL_UNIVERSE
def test_sync_update_between_pollenate_read_and_write(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    run(fleet)
    served.fake.change("AAPL", name="Apple Inc. (renamed)")
    during_pollenate_read(monkeypatch, lambda: run(fleet))
    assert pollenate.record_pollenation(pollenation("AAPL"))
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())
    # The row PollenateAsset read changed before it wrote: its transaction was cancelled, it read
    # the renamed row again and copied that, so the new current row is right at once.
    history = rows_of(fleet, "AAPL")
    assert [r["name"] for r in history] == ["Apple Inc. (renamed)"] * 2 and "status" in history[-1]
    monkeypatch.undo()
    assert run(fleet)["updated"] == 0
    assert invariant_after_every_write  # the check really ran


@SMALL_UNIVERSE
def test_pollenate_between_sync_read_and_update(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    run(fleet)
    served.fake.change("AAPL", name="Apple Inc. (renamed)")
    during_sync_read(monkeypatch, lambda: pollenate.record_pollenation(pollenation("AAPL")))
    result = run(fleet)
    assert (result["updated"], result["conflicts"]) == (1, 1)  # the update lost the race, then hit the new row
    history = rows_of(fleet, "AAPL")
    assert len(history) == 2 and history[-1]["name"] == "Apple Inc. (renamed)" and "status" not in history[0]
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())
    assert "TransactWriteItems" in invariant_after_every_write


@SMALL_UNIVERSE
def test_pollenate_between_sync_read_and_delist(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    run(fleet)
    served.fake.delist(["AAPL"])
    during_sync_read(monkeypatch, lambda: pollenate.record_pollenation(pollenation("AAPL")))
    result = run(fleet)
    assert (result["delisted"], result["conflicts"]) == (1, 1)
    assert all("status" not in r for r in rows_of(fleet, "AAPL")) and len(rows_of(fleet, "AAPL")) == 2
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())


@SMALL_UNIVERSE
def test_delist_between_pollenate_read_and_write(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    run(fleet)
    served.fake.delist(["AAPL"])
    during_pollenate_read(monkeypatch, lambda: run(fleet))
    # Its transaction saw the status gone; read again, the pollenation is recorded on the
    # delisted row's history, outside both indexes.
    assert pollenate.record_pollenation(pollenation("AAPL"))
    assert [("status" in r) for r in rows_of(fleet, "AAPL")] == [False, False]
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())


@SMALL_UNIVERSE
def test_pollenate_of_a_new_symbol_between_sync_read_and_listing(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    during_sync_read(monkeypatch, lambda: pollenate.record_pollenation(pollenation("AAPL")))
    result = run(fleet)
    assert result["conflicts"] == 0 and result["listed"] == len(served.fake.active_symbols())
    # SyncAssets read the symbol's newest row before listing it, found the pollenation row and
    # made it current: no never-pollenated row was put.
    (row,) = rows_of(fleet, "AAPL")
    assert row["lastPollenationDate"] == "2026-11-02T12:00:00.000Z" and row["status"] == "active"
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())
    assert invariant_after_every_write.count("PutItem") == len(served.fake.active_symbols()) - 1  # none for AAPL


@SMALL_UNIVERSE
def test_pollenate_of_a_new_symbol_between_sync_put_and_its_check(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    """PollenateAsset read "no rows" before SyncAssets put the new row, and wrote before SyncAssets checked."""
    original = shared_assets.newest_row  # what SyncAssets calls as its newest_row
    pollenated: list[bool] = []
    looks: list[str] = []

    def pollenate_then_look(symbol: str) -> Any:
        looks.append(symbol)
        if symbol == "AAPL" and looks.count("AAPL") == 2:  # its first look is the read before the put
            with monkeypatch.context() as stale:
                reads: list[Iterator[dict[str, Any]]] = [iter([])]  # its first read happened earlier, before the put
                read_again = pollenate.query  # type: ignore[attr-defined]
                stale.setattr(pollenate, "query", lambda *a, **k: reads.pop() if reads else read_again(*a, **k))
                pollenated.append(pollenate.record_pollenation(pollenation("AAPL")))
        return original(symbol)

    monkeypatch.setattr(sync_assets, "newest_row", pollenate_then_look)
    result = run(fleet)
    assert pollenated == [True] and result["conflicts"] == 0
    # PollenateAsset's transaction found the never-pollenated row put meanwhile, read again and
    # moved status from it to its own row; SyncAssets' check then found the newest row current.
    never, row = rows_of(fleet, "AAPL")
    assert never["lastPollenationDate"] == NEVER_POLLENATED and "status" not in never
    assert row["lastPollenationDate"] == "2026-11-02T12:00:00.000Z" and row["status"] == "active"
    assert row["name"] == "Apple Inc. Common Stock" and row["avgVolume"] > 0
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())
    assert "TransactWriteItems" in invariant_after_every_write


@SMALL_UNIVERSE
def test_a_symbol_listed_between_pollenate_read_and_write_ends_current_on_the_newest_row(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    """PollenateAsset reads "no rows" before SyncAssets lists the symbol and writes after SyncAssets is done."""
    during_pollenate_read(monkeypatch, lambda: run(fleet))
    assert pollenate.record_pollenation(pollenation("AAPL"))
    assert_one_current_row_per_symbol(fleet)
    # Its conditional delete of the never-pollenated key failed; read again, it moved status on.
    history = rows_of(fleet, "AAPL")
    assert [("status" in r) for r in history] == [False, True]
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())


# --- status-index read lagging the base table (simulated) -------------------------------------
#
# A Query on a global secondary index is eventually consistent: while a pollenation moves
# ``status`` to a new row, SyncAssets' read may show the symbol twice, only its superseded row,
# or not at all. moto's indexes are always current, so these tests rewrite what the read returns.


def index_read_shows(monkeypatch: pytest.MonkeyPatch, rewrite: Callable[[list[dict[str, Any]]], list[Any]]) -> None:
    """SyncAssets' status-index Query returns ``rewrite(rows)``; base-table Queries are untouched."""
    original = sync_assets.query  # type: ignore[attr-defined]

    def lagging(handle: Any, **request: Any) -> Iterator[dict[str, Any]]:
        rows = list(original(handle, **request))
        return iter(rewrite(rows) if request.get("IndexName") == "status-index" else rows)

    monkeypatch.setattr(sync_assets, "query", lagging)


def superseded_by_a_pollenation(fleet: Fleet, symbol: str) -> dict[str, Any]:
    """List everything, pollenate ``symbol``; its current row as it was before (what a lagging index still shows)."""
    run(fleet)
    (before,) = rows_of(fleet, symbol)
    assert pollenate.record_pollenation(pollenation(symbol))
    return before


def base_table_queries(fleet: Fleet) -> list[dict[str, Any]]:
    """The Query requests the handlers send to the base table (no IndexName), as sent on the wire."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        request = json.loads(params["body"])
        if "IndexName" not in request:
            sent.append(request)

    shared_aws.dynamodb().meta.client.meta.events.register("before-call.dynamodb.Query", record)
    return sent


@SMALL_UNIVERSE
@pytest.mark.parametrize("stale_first", [True, False])
def test_a_symbol_seen_twice_in_the_index_is_resolved_by_a_consistent_read_not_delisted(
    fleet: Fleet,
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    invariant_after_every_write: list[str],
    stale_first: bool,
) -> None:
    before = superseded_by_a_pollenation(fleet, "AAPL")
    index_read_shows(monkeypatch, lambda rows: [before, *rows] if stale_first else [*rows, before])
    queries = base_table_queries(fleet)
    result = run(fleet)
    assert result["delisted"] == 0 and result["written"] == 0
    history = rows_of(fleet, "AAPL")
    assert [r for r in index_rows(fleet) if r["symbol"] == "AAPL"] == [history[-1]]
    assert [r for r in history if "delistedAt" in r] == []
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())
    # The duplicate was settled by one strongly consistent read of the newest row (the other
    # symbols' reads are of their never-pollenated current rows).
    (read,) = [q for q in queries if {"S": "AAPL"} in q["ExpressionAttributeValues"].values()]
    assert (read["ConsistentRead"], read["ScanIndexForward"], read["Limit"]) == (True, False, 1)


@SMALL_UNIVERSE
@pytest.mark.parametrize("alpaca", ["renamed", "unchanged", "delisted"])
def test_an_index_showing_only_the_superseded_row_never_leaves_two_current_rows(
    fleet: Fleet,
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    invariant_after_every_write: list[str],
    alpaca: str,
) -> None:
    before = superseded_by_a_pollenation(fleet, "AAPL")
    index_read_shows(monkeypatch, lambda rows: [before if r["symbol"] == "AAPL" else r for r in rows])
    if alpaca == "renamed":
        served.fake.change("AAPL", name="Apple Inc. (renamed)")
    if alpaca == "delisted":
        served.fake.delist(["AAPL"])
    result = run(fleet)
    history = rows_of(fleet, "AAPL")
    assert "status" not in history[0] and len(history) == 2
    if alpaca == "delisted":
        # The retirement of the superseded row failed its condition and was redone on the newest.
        assert (result["delisted"], result["conflicts"]) == (1, 1) and "status" not in history[-1]
    else:
        assert result["delisted"] == 0 and "delistedAt" not in history[-1]
        assert [r for r in index_rows(fleet) if r["symbol"] == "AAPL"] == [history[-1]]
        assert history[-1]["name"] == ("Apple Inc. (renamed)" if alpaca == "renamed" else "Apple Inc. Common Stock")
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())


@SMALL_UNIVERSE
def test_an_index_missing_a_current_symbol_does_not_give_it_a_second_current_row(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    """Pollenated before it was listed, pollenated again; the index read misses both its rows."""
    assert pollenate.record_pollenation(pollenation("AAPL", "2026-11-02T11:00:00Z"))
    run(fleet)  # status on the pollenation row; no never-pollenated row is left
    assert pollenate.record_pollenation(pollenation("AAPL", "2026-11-02T12:00:00Z"))
    index_read_shows(monkeypatch, lambda rows: [r for r in rows if r["symbol"] != "AAPL"])
    result = run(fleet)
    # Read before any put, its current row was found and compared: nothing to write.
    assert result["written"] == 0 and result["unchanged"] == len(served.fake.active_symbols())
    history = rows_of(fleet, "AAPL")
    assert [r["lastPollenationDate"] for r in history] == ["2026-11-02T11:00:00.000Z", "2026-11-02T12:00:00.000Z"]
    assert [r for r in index_rows(fleet) if r["symbol"] == "AAPL"] == [history[-1]]
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())


def test_the_window_ends_yesterday_in_new_york(fleet: Fleet) -> None:
    late_monday_ny = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # 22:00 Monday 2 November in New York
    # Yesterday in New York is Sunday 1 November, so the last session is Friday 30 October (by
    # the UTC date, yesterday would be the session of Monday 2 November).
    assert run(fleet, late_monday_ny)["window"].endswith(str(date(2026, 10, 30)))


def test_only_a_completed_sync_reports_the_catalog_synced(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    gauges = record_gauges(monkeypatch)
    run(fleet)
    assert gauges == [(FreshnessMetric.ASSET_CATALOG_SYNCED, 1)]
    served.fake.change("AAPL", tradable="perhaps")
    with pytest.raises(AlpacaRequestError):
        run(fleet)
    assert gauges == [(FreshnessMetric.ASSET_CATALOG_SYNCED, 1)]  # the failed run added nothing
