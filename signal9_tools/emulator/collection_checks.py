"""The smoke's collection checks: what the collectors landed, and that a second run changes nothing.

The checks of what landed hold for any endpoint (``signal9_tools.emulator.collection``); against
the built-in fakes they also compare with what the fakes served. (The collector run made to fail
is the runbook walk's: ``runbook_checks``.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from signal9 import catalog
from signal9_tools.emulator.collection import (
    COLLECTORS,
    Endpoints,
    LocalFakes,
    assets_landed,
    index_symbols,
    listed_symbols,
    snapshot,
    table_summary,
)
from signal9_tools.emulator.report import expect
from signal9_tools.emulator.schedule_checks import FiredRuns, scheduler_delivery
from signal9_tools.emulator.smoke import Smoke


def news_of_the_last_hour(smoke: Smoke, fakes: LocalFakes, now: datetime) -> str:
    """Every mention of an active asset the AlphaVantage fake published in the hour before ``now`` is stored.

    ``now`` is the smoke's start, where the built-in fakes' clock stands still (``smoke_run``), before
    the news run's scheduled time: a run delivered hours early (a scheduled time in the wrong zone)
    misses these.
    Tickers are matched to assets by the fake's own record of each company's Alpaca symbol.
    """
    active = set(index_symbols(smoke.client("dynamodb"), smoke.naming.table("assets"), "status-index"))
    hour = int(now.timestamp()) // 3600
    published = {
        (article.document["url"], fakes.alphavantage.listed_symbols.get(ticker))
        for h in (hour - 1, hour)
        for article in fakes.alphavantage.articles(h)
        if now - timedelta(hours=1) <= article.published <= now
        for ticker in article.tickers
    }
    wanted = {(url, symbol) for url, symbol in published if symbol in active}
    items = snapshot(smoke.client("dynamodb"), smoke.naming.table("newsSentiment"))
    stored = {(item["url"]["S"], item["asset_symbol"]["S"]) for item in items if "asset_symbol" in item}
    missing = sorted(wanted - stored)
    expect(
        not missing, f"{len(missing)} mentions published in the hour before {now:%H:%M} UTC not stored: {missing[:3]}"
    )
    return f"the {len(wanted)} mentions of active assets the fake published in the hour before the run stored"


def check_collection(
    smoke: Smoke, endpoints: Endpoints, fired: FiredRuns, fakes: LocalFakes | None, now: datetime
) -> None:
    """What the collectors landed and that a second run changes nothing.

    ``now`` is when the scheduled runs began (each fires after it).
    """
    report = smoke.report

    def assets() -> str:
        expect("SyncAssets" in fired.results, "SyncAssets did not run")
        return assets_landed(
            smoke.client("dynamodb"),
            smoke.naming,
            listed_symbols(endpoints),
            int(fired.results["SyncAssets"]["skipped"]),
        )

    def calendar() -> str:
        expect("SyncEarningsCalendar" in fired.results, "SyncEarningsCalendar did not run")
        summary = table_summary(smoke.client("dynamodb"), smoke.naming, "earningsCalendar", "asset_symbol", "rows")
        if fakes is None:
            return summary
        # Both fakes serve one universe, each in its own API's spelling (BRK.B / BRK-B): every row
        # must land under a symbol Alpaca lists.
        alpaca = {asset["symbol"] for asset in fakes.alpaca.assets()}
        rows = snapshot(smoke.client("dynamodb"), smoke.naming.table("earningsCalendar"))
        strangers = sorted({row["asset_symbol"]["S"] for row in rows} - alpaca)
        expect(not strangers, f"calendar rows under symbols Alpaca does not list: {strangers[:5]}")
        return f"{summary}, each under a symbol Alpaca lists (share classes included)"

    def news() -> str:
        expect("SyncNewsSentiment" in fired.results, "SyncNewsSentiment did not run")
        summary = table_summary(smoke.client("dynamodb"), smoke.naming, "newsSentiment", "asset_symbol", "items")
        return summary if fakes is None else f"{summary}; {news_of_the_last_hour(smoke, fakes, now)}"

    def second_runs() -> str:
        unchanged = []
        for name, run in fired.collectors.items():
            assert run.fires_at is not None  # only fired runs are recorded
            tables = [smoke.naming.table(t) for t in catalog.function(name).writes]
            before = [snapshot(smoke.client("dynamodb"), t) for t in tables]
            smoke.invoke(run.schedule["Target"]["Arn"], scheduler_delivery(run.schedule, run.fires_at))
            after = [snapshot(smoke.client("dynamodb"), t) for t in tables]
            expect(
                before == after,
                f"a second {name} run of the same schedule time changed {catalog.function(name).writes}",
            )
            unchanged.append(name)
        enabled = [name for name in COLLECTORS if smoke.config.schedule_enabled(catalog.function(name))]
        expect(unchanged == enabled, f"only {unchanged} ran, of {enabled}")
        return f"{', '.join(unchanged)} run again for the same scheduled time: every item of their tables unchanged"

    for collector, table, check in (
        ("SyncAssets", "assets", assets),
        ("SyncEarningsCalendar", "earningsCalendar", calendar),
        ("SyncNewsSentiment", "newsSentiment", news),
    ):
        if smoke.config.schedule_enabled(catalog.function(collector)):  # else reported as disabled, not fired
            report.run(f"collected: {table}", check)
    report.run("second collector runs write nothing new", second_runs)
