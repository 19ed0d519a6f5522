"""SyncAssets in-process on moto (DynamoDB emulated, not AWS) against the Alpaca fake over real HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.pollenate_asset import handler as pollenate
from functions.shared import aws as shared_aws
from functions.shared import retry
from functions.shared.alpaca import AlpacaAuthError, AlpacaRequestError, AlpacaUnavailableError, bars_window
from functions.shared.assets import NEVER_POLLENATED
from functions.shared.env import table_variable
from functions.shared.events import PollenationNeeded
from functions.sync_assets import handler as sync_assets
from functions.sync_assets.handler import SuspiciousListError
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, BARS_PATH
from signal9_tools.motolock import serialized_moto
from tests.alpaca_support import MONDAY_0530_NY, Served, served_fake
from tests.av_support import captured_logs
from tests.handler_support import Fleet, scheduled_event

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
    moto_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, served: Served, writes: Counter[str]
) -> Iterator[Fleet]:
    shared_aws.reset_clients()
    monkeypatch.setattr(retry, "pause", served.sleeps.append)
    fleet = Fleet(moto_tables, monkeypatch)
    monkeypatch.setenv(table_variable("assets"), moto_tables["assets"])  # for PollenateAsset called directly
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


def rows_of(fleet: Fleet, symbol: str) -> list[dict[str, Any]]:
    return sorted((r for r in fleet.rows("assets") if r["symbol"] == symbol), key=lambda r: r["lastPollenationDate"])


def assert_one_current_row_per_symbol(fleet: Fleet) -> None:
    for index in ("status-index", "volume-index"):
        counts = Counter(r["symbol"] for r in index_rows(fleet, index))
        assert not [s for s, n in counts.items() if n > 1], f"symbols twice in {index}"


def assert_newest_rows_are_current(fleet: Fleet, symbols: set[str]) -> None:
    """Each symbol: exactly one row in both indexes, and it is the symbol's newest row."""
    assert_one_current_row_per_symbol(fleet)
    indexed = {r["symbol"]: r for r in index_rows(fleet)}
    assert set(indexed) == symbols
    for symbol in symbols:
        assert indexed[symbol] == rows_of(fleet, symbol)[-1]
    assert {r["symbol"] for r in index_rows(fleet, "volume-index")} == symbols


def expected_average(served: Served, symbol: str) -> int:
    start, end = bars_window(RUN_AT)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    volumes = [v for v in (served.fake.daily_volume(symbol, d) for d in days) if v is not None][-20:]
    return round(sum(volumes) / len(volumes)) if volumes else 0


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
    assert result["window"] == "2026-09-29..2026-11-01"  # 24 weekdays: 20 sessions + holiday slack


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
    result = run(fleet, RUN_AT + timedelta(days=1))  # the window moves a session: every volume changes
    with_bars = [s for s in served.fake.active_symbols() if expected_average(served, s)]
    assert result["updated"] == len(with_bars)
    assert result["unchanged"] == len(served.fake.active_symbols()) - len(with_bars)


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
    (row,) = rows_of(fleet, "AAPL")  # SyncAssets found the pollenation row and made it current
    assert row["lastPollenationDate"] == "2026-11-02T12:00:00.000Z" and row["status"] == "active"
    assert_newest_rows_are_current(fleet, served.fake.active_symbols())
    assert "TransactWriteItems" in invariant_after_every_write


@SMALL_UNIVERSE
def test_pollenate_of_a_new_symbol_between_sync_put_and_its_check(
    fleet: Fleet, served: Served, monkeypatch: pytest.MonkeyPatch, invariant_after_every_write: list[str]
) -> None:
    """PollenateAsset read "no rows" before SyncAssets put the new row, and wrote before SyncAssets checked."""
    original = sync_assets.newest_row
    pollenated: list[bool] = []

    def pollenate_then_look(symbol: str) -> Any:
        if symbol == "AAPL" and not pollenated:
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


def test_dates_in_the_summary_are_new_york_dates(fleet: Fleet) -> None:
    late_sunday_ny = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)  # 22:00 Sunday 1 November in New York
    assert run(fleet, late_sunday_ny)["window"].endswith(str(date(2026, 10, 31)))
