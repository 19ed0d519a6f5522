"""AlphaVantage fundamentals: field lists, validation, and the DynamoDB items they become.

One response per function (apis.md B3-B7). Every value arrives as a string; a validated
report keeps every field (unknown ones too), numbers become ``Decimal`` (DynamoDB numbers),
and ``"None"``, ``"-"`` and empty strings are left out of the item. The legacy balance
sheet spelling ``otherNonCurrrentAssets`` is stored as ``otherNonCurrentAssets``. A
response that does not validate raises :class:`MalformedResponseError` and nothing of it
is written.

Sort key of the statement tables (``earnings``, ``incomeStatement``, ``balanceSheet``,
``cashFlow``): ``fiscal_date_ending = "<YYYY-MM-DD>#<annual|quarterly>"``. An annual and a
quarterly report ending on the same date are two rows, and one Query on ``symbol`` with
``ScanIndexForward=False`` still lists a symbol's statements newest first (for one date,
the quarterly row sorts before the annual one). ``fiscalDateEnding`` and ``period`` are
stored as plain attributes as well, so readers need not split the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, model_validator

from functions.shared.symbols import from_alphavantage
from functions.shared.validation import problems
from functions.shared.values import is_empty, to_decimal

# apis.md B3 (2025 field order).
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
# OVERVIEW values that are text or dates; every other OVERVIEW field is a number.
OVERVIEW_TEXT_FIELDS = (
    "Symbol", "AssetType", "Name", "Description", "CIK", "Exchange", "Currency", "Country", "Sector",
    "Industry", "Address", "OfficialSite", "FiscalYearEnd", "LatestQuarter", "DividendDate", "ExDividendDate",
)  # fmt: skip
# apis.md B4-B6. The first two fields of a statement report are text, the rest numbers.
INCOME_STATEMENT_FIELDS = (
    "fiscalDateEnding", "reportedCurrency", "grossProfit", "totalRevenue", "costOfRevenue",
    "costofGoodsAndServicesSold", "operatingIncome", "sellingGeneralAndAdministrative",
    "researchAndDevelopment", "operatingExpenses", "investmentIncomeNet", "netInterestIncome",
    "interestIncome", "interestExpense", "nonInterestIncome", "otherNonOperatingIncome", "depreciation",
    "depreciationAndAmortization", "incomeBeforeTax", "incomeTaxExpense", "interestAndDebtExpense",
    "netIncomeFromContinuingOperations", "comprehensiveIncomeNetOfTax", "ebit", "ebitda", "netIncome",
)  # fmt: skip
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
ANNUAL_EARNINGS_FIELDS = ("fiscalDateEnding", "reportedEPS")
QUARTERLY_EARNINGS_FIELDS = (
    "fiscalDateEnding", "reportedDate", "reportedEPS", "estimatedEPS", "surprise", "surprisePercentage",
    "reportTime",
)  # fmt: skip
EARNINGS_TEXT_FIELDS = ("fiscalDateEnding", "reportedDate", "reportTime")
# apis.md B5: the 2021 spelling of otherNonCurrentAssets.
LEGACY_SPELLINGS = {"otherNonCurrrentAssets": "otherNonCurrentAssets"}
KEY_SEPARATOR = "#"

Period = Literal["annual", "quarterly"]
Item = dict[str, Any]


class MalformedResponseError(ValueError):
    """An AlphaVantage response that does not have the documented shape; nothing of it is written."""


Number = Annotated[Decimal | None, BeforeValidator(to_decimal)]
Text = Annotated[str | None, BeforeValidator(lambda value: None if is_empty(value) else value)]
FiscalDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class _Report(BaseModel):
    """Base of every report model: unknown fields kept, legacy spellings renamed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _current_spelling(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        renamed = dict(data)
        for legacy, current in LEGACY_SPELLINGS.items():
            if legacy in renamed and current not in renamed:
                renamed[current] = renamed.pop(legacy)
        return renamed

    def item(self) -> Item:
        """The report's fields as DynamoDB values; absent values left out."""
        values = {k: v for k, v in self.model_dump().items() if k not in (self.model_extra or {})}
        values.update({k: _extra_value(v) for k, v in (self.model_extra or {}).items()})
        return {k: v for k, v in values.items() if v is not None}


def _extra_value(value: Any) -> Any:
    """An undocumented field, kept: numeric text as a number, other text as is, markers absent."""
    if isinstance(value, str | float | int) and not isinstance(value, bool):
        try:
            return to_decimal(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return [_extra_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _extra_value(v) for k, v in value.items()}
    return value


def _report_model(
    name: str,
    fields: tuple[str, ...],
    text: tuple[str, ...],
    required: tuple[str, Any] = ("fiscalDateEnding", FiscalDate),
) -> type[_Report]:
    """A report model: the ``required`` field and type, the ``text`` fields strings, the rest numbers."""
    definitions: dict[str, Any] = {
        field: (required[1], ...) if field == required[0] else (Text if field in text else Number, None)
        for field in fields
    }
    return create_model(name, __base__=_Report, **definitions)


STATEMENT_TEXT_FIELDS = ("fiscalDateEnding", "reportedCurrency")
IncomeStatementReport = _report_model("IncomeStatementReport", INCOME_STATEMENT_FIELDS, STATEMENT_TEXT_FIELDS)
BalanceSheetReport = _report_model("BalanceSheetReport", BALANCE_SHEET_FIELDS, STATEMENT_TEXT_FIELDS)
CashFlowReport = _report_model("CashFlowReport", CASH_FLOW_FIELDS, STATEMENT_TEXT_FIELDS)
AnnualEarnings = _report_model("AnnualEarnings", ANNUAL_EARNINGS_FIELDS, EARNINGS_TEXT_FIELDS)
QuarterlyEarnings = _report_model("QuarterlyEarnings", QUARTERLY_EARNINGS_FIELDS, EARNINGS_TEXT_FIELDS)
Overview = _report_model("Overview", OVERVIEW_FIELDS, OVERVIEW_TEXT_FIELDS, required=("Symbol", str))


@dataclass(frozen=True)
class Dataset:
    """One AlphaVantage fundamentals function and the table its reports go to."""

    function: str
    table: str
    # (response key, period, report model); empty for OVERVIEW, a single flat object.
    lists: tuple[tuple[str, Period, type[_Report]], ...] = ()

    @property
    def statements(self) -> bool:
        return bool(self.lists)


def _statement(function: str, table: str, model: type[_Report]) -> Dataset:
    return Dataset(function, table, (("annualReports", "annual", model), ("quarterlyReports", "quarterly", model)))


OVERVIEW = Dataset("OVERVIEW", "companyOverview")
EARNINGS = "EARNINGS"
DATASETS: tuple[Dataset, ...] = (
    OVERVIEW,
    Dataset(
        EARNINGS,
        "earnings",
        (("annualEarnings", "annual", AnnualEarnings), ("quarterlyEarnings", "quarterly", QuarterlyEarnings)),
    ),
    _statement("INCOME_STATEMENT", "incomeStatement", IncomeStatementReport),
    _statement("BALANCE_SHEET", "balanceSheet", BalanceSheetReport),
    _statement("CASH_FLOW", "cashFlow", CashFlowReport),
)


def statement_key(fiscal_date: str, period: Period) -> str:
    """``2024-09-30#annual``: the statement tables' sort key (see the module docstring)."""
    return f"{fiscal_date}{KEY_SEPARATOR}{period}"


def _problems(error: ValidationError) -> str:
    # The first five problems only: the messages stay short.
    return problems(error, 5) + ("; ..." if error.error_count() > 5 else "")


def _symbol_of(document: Mapping[str, Any], key: str, dataset: Dataset, symbol: str) -> None:
    returned = document.get(key)
    if not isinstance(returned, str) or from_alphavantage(returned) != symbol:
        raise MalformedResponseError(f"{dataset.function} for {symbol}: {key} is {document.get(key)!r}")


def validate(dataset: Dataset, symbol: str, document: Any, collected_on: str) -> list[Item]:
    """The rows ``document`` becomes in ``dataset.table`` (validated; nothing is written here)."""
    if not isinstance(document, Mapping):
        raise MalformedResponseError(f"{dataset.function} for {symbol}: expected a JSON object")
    if not dataset.statements:
        _symbol_of(document, "Symbol", dataset, symbol)
        try:
            overview = Overview.model_validate(document)
        except ValidationError as error:
            raise MalformedResponseError(f"{dataset.function} for {symbol}: {_problems(error)}") from None
        # "Symbol" as Signal9 spells it too (AlphaVantage's is BRK-B for BRK.B: functions.shared.symbols).
        return [{**overview.item(), "Symbol": symbol, "symbol": symbol, "last_updated": collected_on}]
    _symbol_of(document, "symbol", dataset, symbol)
    rows: dict[str, Item] = {}
    for key, period, model in dataset.lists:
        reports = document.get(key)
        if not isinstance(reports, list):
            raise MalformedResponseError(f"{dataset.function} for {symbol}: {key} is not a list")
        for index, raw in enumerate(reports):
            try:
                report = model.model_validate(raw).item()
            except ValidationError as error:
                raise MalformedResponseError(
                    f"{dataset.function} for {symbol}: {key}[{index}]: {_problems(error)}"
                ) from None
            sort_key = statement_key(report["fiscalDateEnding"], period)
            # Newest first: should a list repeat a fiscal date, the first (newest) report wins.
            rows.setdefault(sort_key, {**report, "symbol": symbol, "fiscal_date_ending": sort_key, "period": period})
    return list(rows.values())


def changed(new: Iterable[Item], stored: Iterable[Item], sort_key: str) -> list[Item]:
    """The rows of ``new`` that are not stored exactly as they are (re-collecting unchanged reports writes nothing)."""
    existing = {row[sort_key]: row for row in stored}
    return [row for row in new if existing.get(row[sort_key]) != row]
