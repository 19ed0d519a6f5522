"""AlphaVantage fundamentals for the fake: OVERVIEW, EARNINGS, INCOME_STATEMENT, BALANCE_SHEET, CASH_FLOW.

Shapes follow apis.md B3-B7: every value a JSON string, ``"None"`` for missing values
(OVERVIEW also ``"-"`` and ``"0"``), reports newest first, statements as
``{symbol, annualReports, quarterlyReports}`` and earnings as
``{symbol, annualEarnings, quarterlyEarnings}``. A company's fiscal year ends on one of
its quarter ends, so its annual and quarterly reports share fiscal dates (the collector
must keep both). An unknown symbol answers ``{}``; a symbol listed in
:attr:`FundamentalsKnobs.bad_symbols` (or none at all) answers the ``Error Message`` body.

The newest quarter is the one of the company's latest report already published on the
fake's own clock (:meth:`AlphaVantageFake.published_reports`: the earnings calendar's
report dates and times), so a report's quarter appears in EARNINGS, and in the statements,
only after its report time, never because of anything a client sends. Everything else is a
deterministic function of the company (``universe.rng``) and the fiscal date, so repeated
calls return identical documents until the next report; :attr:`FundamentalsKnobs.new_quarters`
says a company has reported N more quarters than that, which adds reports at the head of
each list and leaves the older ones unchanged.
"""

from __future__ import annotations

import calendar
import random
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from signal9_tools.fakes.earnings_reports import Report
from signal9_tools.fakes.universe import Company, rng

ANNUAL_REPORTS = 5
QUARTERLY_REPORTS = 20
# Share of statement values reported as "None" (as real statements leave many lines empty).
NONE_SHARE = 0.08

# The fields AlphaVantage sends, in response order, as recorded (apis.md), written out here and
# not taken from the collector: a fake built from the collector's own lists could not catch a
# field the collector names wrongly.
# apis.md B3: the 2025 recorded IBM OVERVIEW (several 2025 copies agree).
OVERVIEW_FIELDS = (
    "Symbol", "AssetType", "Name", "Description", "CIK", "Exchange", "Currency", "Country", "Sector",
    "Industry", "Address", "OfficialSite", "FiscalYearEnd", "LatestQuarter", "MarketCapitalization",
    "EBITDA", "PERatio", "PEGRatio", "BookValue", "DividendPerShare", "DividendYield", "EPS",
    "RevenuePerShareTTM", "ProfitMargin", "OperatingMarginTTM", "ReturnOnAssetsTTM", "ReturnOnEquityTTM",
    "RevenueTTM", "GrossProfitTTM", "DilutedEPSTTM", "QuarterlyEarningsGrowthYOY",
    "QuarterlyRevenueGrowthYOY", "AnalystTargetPrice", "AnalystRatingStrongBuy", "AnalystRatingBuy",
    "AnalystRatingHold", "AnalystRatingSell", "AnalystRatingStrongSell", "TrailingPE", "ForwardPE",
    "PriceToSalesRatioTTM", "PriceToBookRatio", "EVToRevenue", "EVToEBITDA", "Beta", "52WeekHigh",
    "52WeekLow", "50DayMovingAverage", "200DayMovingAverage", "SharesOutstanding", "SharesFloat",
    "PercentInsiders", "PercentInstitutions", "DividendDate", "ExDividendDate",
)  # fmt: skip
OVERVIEW_DATES = ("DividendDate", "ExDividendDate")  # "YYYY-MM-DD" or "None" (apis.md B3)
# apis.md B4: crazzyghost/alphavantage-java incomestatement.json, identical in a recorded AAPL FY2024.
INCOME_STATEMENT_FIELDS = (
    "fiscalDateEnding", "reportedCurrency", "grossProfit", "totalRevenue", "costOfRevenue",
    "costofGoodsAndServicesSold", "operatingIncome", "sellingGeneralAndAdministrative",
    "researchAndDevelopment", "operatingExpenses", "investmentIncomeNet", "netInterestIncome",
    "interestIncome", "interestExpense", "nonInterestIncome", "otherNonOperatingIncome", "depreciation",
    "depreciationAndAmortization", "incomeBeforeTax", "incomeTaxExpense", "interestAndDebtExpense",
    "netIncomeFromContinuingOperations", "comprehensiveIncomeNetOfTax", "ebit", "ebitda", "netIncome",
)  # fmt: skip
# apis.md B5: crazzyghost balancesheet.json (2021) with the recorded AAPL FY2024 spelling of
# otherNonCurrentAssets; the 2021 fixture spells it with three r's (LEGACY_OTHER_NON_CURRENT_ASSETS).
BALANCE_SHEET_FIELDS = (
    "fiscalDateEnding", "reportedCurrency", "totalAssets", "totalCurrentAssets",
    "cashAndCashEquivalentsAtCarryingValue", "cashAndShortTermInvestments", "inventory",
    "currentNetReceivables", "totalNonCurrentAssets", "propertyPlantEquipment",
    "accumulatedDepreciationAmortizationPPE", "intangibleAssets", "intangibleAssetsExcludingGoodwill",
    "goodwill", "investments", "longTermInvestments", "shortTermInvestments", "otherCurrentAssets",
    "otherNonCurrentAssets", "totalLiabilities", "totalCurrentLiabilities", "currentAccountsPayable",
    "deferredRevenue", "currentDebt", "shortTermDebt", "totalNonCurrentLiabilities",
    "capitalLeaseObligations", "longTermDebt", "currentLongTermDebt", "longTermDebtNoncurrent",
    "shortLongTermDebtTotal", "otherCurrentLiabilities", "otherNonCurrentLiabilities",
    "totalShareholderEquity", "treasuryStock", "retainedEarnings", "commonStock",
    "commonStockSharesOutstanding",
)  # fmt: skip
LEGACY_OTHER_NON_CURRENT_ASSETS = "otherNonCurrrentAssets"
# apis.md B6: crazzyghost cashflow.json, identical in a recorded AAPL FY2024.
CASH_FLOW_FIELDS = (
    "fiscalDateEnding", "reportedCurrency", "operatingCashflow", "paymentsForOperatingActivities",
    "proceedsFromOperatingActivities", "changeInOperatingLiabilities", "changeInOperatingAssets",
    "depreciationDepletionAndAmortization", "capitalExpenditures", "changeInReceivables",
    "changeInInventory", "profitLoss", "cashflowFromInvestment", "cashflowFromFinancing",
    "proceedsFromRepaymentsOfShortTermDebt", "paymentsForRepurchaseOfCommonStock",
    "paymentsForRepurchaseOfEquity", "paymentsForRepurchaseOfPreferredStock", "dividendPayout",
    "dividendPayoutCommonStock", "dividendPayoutPreferredStock", "proceedsFromIssuanceOfCommonStock",
    "proceedsFromIssuanceOfLongTermDebtAndCapitalSecuritiesNet",
    "proceedsFromIssuanceOfPreferredStock", "proceedsFromRepurchaseOfEquity",
    "proceedsFromSaleOfTreasuryStock", "changeInCashAndCashEquivalents", "changeInExchangeRate",
    "netIncome",
)  # fmt: skip
SECTORS = ("TECHNOLOGY", "FINANCE", "LIFE SCIENCES", "MANUFACTURING", "ENERGY & TRANSPORTATION", "TRADE & SERVICES")

Document = dict[str, Any]


@dataclass
class FundamentalsKnobs:
    """Per-fake switches for tests and benchmarks (see :func:`knobs`)."""

    legacy_balance_sheet_spelling: bool = False
    """Spell ``otherNonCurrentAssets`` the 2021 way, ``otherNonCurrrentAssets``."""
    bad_symbols: set[str] = field(default_factory=set)
    """Symbols answered with the ``Error Message`` body instead of ``{}``/data."""
    new_quarters: dict[str, int] = field(default_factory=dict)
    """Symbol -> quarters reported beyond the published ones (new reports at the head of each list)."""


_KNOBS: weakref.WeakKeyDictionary[Any, FundamentalsKnobs] = weakref.WeakKeyDictionary()


def knobs(fake: object) -> FundamentalsKnobs:
    """The fundamentals switches of one fake instance (defaults until a test changes them)."""
    return _KNOBS.setdefault(fake, FundamentalsKnobs())


# ------------------------------------------------------------------------------ dates


def shifted(quarter: date, index: int) -> date:
    """The quarter end ``index`` quarters after the quarter end ``quarter`` (negative: before)."""
    months = quarter.year * 12 + quarter.month - 1 + 3 * index
    year, month = divmod(months, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def _fiscal_year_end_month(company: Company) -> int:
    # Most US companies close their year in December; some in March, June or September.
    return rng(company, "fiscal-year").choices((12, 3, 6, 9), weights=(70, 10, 10, 10))[0]


def quarter_ends(latest: date) -> list[date]:
    """Fiscal quarter ends from the newest reported one, ``latest``, newest first."""
    return [shifted(latest, -i) for i in range(QUARTERLY_REPORTS)]


def year_ends(company: Company, latest: date) -> list[date]:
    """Fiscal year ends, newest first: each is also a quarter end (shared fiscal dates)."""
    month = _fiscal_year_end_month(company)
    ends = [d for d in (shifted(latest, -i) for i in range(4 * ANNUAL_REPORTS + 4)) if d.month == month]
    return ends[:ANNUAL_REPORTS]


# ------------------------------------------------------------------------------ values


def _amount(pick: random.Random, scale: float) -> str:
    if pick.random() < NONE_SHARE:
        return "None"
    return str(int(pick.uniform(-0.2, 1.0) * scale))


def _report(company: Company, kind: str, period: str, fiscal: date, fields: tuple[str, ...]) -> Document:
    pick = rng(company, f"{kind}/{period}/{fiscal.isoformat()}")
    scale = (10 ** rng(company, "scale").uniform(7, 11)) * (4 if period == "annual" else 1)
    report: Document = {"fiscalDateEnding": fiscal.isoformat(), "reportedCurrency": "USD"}
    for name in fields[2:]:
        report[name] = _amount(pick, scale)
    return report


def statement(company: Company, kind: str, fields: tuple[str, ...], latest: date, legacy: bool = False) -> Document:
    """``{symbol, annualReports, quarterlyReports}`` for INCOME_STATEMENT, BALANCE_SHEET or CASH_FLOW."""

    def spelled(report: Document) -> Document:
        if legacy and "otherNonCurrentAssets" in report:
            return {
                (LEGACY_OTHER_NON_CURRENT_ASSETS if k == "otherNonCurrentAssets" else k): v for k, v in report.items()
            }
        return report

    return {
        "symbol": company.symbol,
        "annualReports": [spelled(_report(company, kind, "annual", d, fields)) for d in year_ends(company, latest)],
        "quarterlyReports": [spelled(_report(company, kind, "quarterly", d, fields)) for d in quarter_ends(latest)],
    }


def earnings(company: Company, latest: date, published: Mapping[date, Report]) -> Document:
    """``{symbol, annualEarnings, quarterlyEarnings}``, quarterly rows with ``reportTime``.

    A quarter the calendar announced (``published``, by fiscal date) carries that report's
    date and time of the day (none in the calendar: after the close).
    """
    quarterly = []
    for fiscal in quarter_ends(latest):
        pick = rng(company, f"earnings/{fiscal.isoformat()}")
        report = published.get(fiscal)
        reported = round(pick.uniform(-1.0, 5.0), 2)
        estimated = round(reported + pick.uniform(-0.3, 0.3), 2) if pick.random() > NONE_SHARE else None
        surprise = round(reported - estimated, 4) if estimated is not None else None
        quarterly.append(
            {
                "fiscalDateEnding": fiscal.isoformat(),
                "reportedDate": (
                    report.report_date if report else date.fromordinal(fiscal.toordinal() + pick.randint(20, 45))
                ).isoformat(),
                "reportedEPS": str(reported),
                "estimatedEPS": str(estimated) if estimated is not None else "None",
                "surprise": str(surprise) if surprise is not None else "None",
                "surprisePercentage": (
                    str(round(100 * surprise / estimated, 4)) if surprise is not None and estimated else "None"
                ),
                "reportTime": (report.time_of_the_day or "post-market")
                if report
                else pick.choice(("pre-market", "post-market")),
            }
        )
    by_date = {q["fiscalDateEnding"]: q for q in quarterly}
    annual = [
        {"fiscalDateEnding": d.isoformat(), "reportedEPS": by_date.get(d.isoformat(), {}).get("reportedEPS", "None")}
        for d in year_ends(company, latest)
    ]
    return {"symbol": company.symbol, "annualEarnings": annual, "quarterlyEarnings": quarterly}


def overview(company: Company, latest: date) -> Document:
    """The flat OVERVIEW object: every value a string, ``"None"``/``"-"``/``"0"`` for missing ones."""
    pick = rng(company, f"overview/{latest.isoformat()}")
    profile = rng(company, "overview-profile")
    text = {
        "Symbol": company.symbol,
        "AssetType": "Common Stock",
        "Name": company.name,
        "Description": f"{company.name} is a company the Signal9 fake made up.",
        "CIK": str(profile.randint(1000, 1_999_999)),
        "Exchange": company.exchange,
        "Currency": "USD",
        "Country": "USA",
        "Sector": profile.choice(SECTORS),
        "Industry": "SERVICES-PREPACKAGED SOFTWARE",
        "Address": f"{profile.randint(1, 999)} MAIN STREET, ANYTOWN, NY, UNITED STATES",
        "OfficialSite": f"https://www.{company.symbol.lower().replace('.', '')}.example",
        "FiscalYearEnd": calendar.month_name[_fiscal_year_end_month(company)],
    }
    document: Document = {}
    for name in OVERVIEW_FIELDS:
        if name in text:
            document[name] = text[name]
        elif name == "LatestQuarter":
            document[name] = latest.isoformat()
        elif name in OVERVIEW_DATES:
            document[name] = "None" if pick.random() < 0.3 else latest.isoformat()
        elif pick.random() < NONE_SHARE:
            document[name] = pick.choice(("None", "-", "0"))
        else:
            document[name] = str(round(pick.uniform(0.01, 500.0), 4))
    return document


# ------------------------------------------------------------------------------ documents by function

Builder = Callable[[Company, date, FundamentalsKnobs, Mapping[date, Report]], Document]
BUILDERS: dict[str, Builder] = {
    "OVERVIEW": lambda c, latest, k, p: overview(c, latest),
    "EARNINGS": lambda c, latest, k, p: earnings(c, latest, p),
    "INCOME_STATEMENT": lambda c, latest, k, p: statement(c, "income", INCOME_STATEMENT_FIELDS, latest),
    "BALANCE_SHEET": lambda c, latest, k, p: statement(
        c, "balance", BALANCE_SHEET_FIELDS, latest, legacy=k.legacy_balance_sheet_spelling
    ),
    "CASH_FLOW": lambda c, latest, k, p: statement(c, "cash", CASH_FLOW_FIELDS, latest),
}
