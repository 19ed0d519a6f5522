"""Cost estimate: invocation counts from the cron expressions, config sensitivity, dated prices, docs/cost.md current."""

from __future__ import annotations

import calendar
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from signal9 import catalog
from signal9.config import parse
from signal9_tools import cli, cost
from signal9_tools.mockrun import ProgramRun
from tests.fixtures import reuse_planned_runs


def independent_monthly_count(expression: str) -> float:
    """cron(M H ? * DOW *) with single values or '*': runs/day x matching days in the year / 12."""
    minutes, hours, _, _, weekdays, _ = expression.removeprefix("cron(").removesuffix(")").split()
    per_day = (60 if minutes == "*" else len(minutes.split(","))) * (24 if hours == "*" else len(hours.split(",")))
    names = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]  # calendar.weekday order
    start, end = weekdays.split("-")
    allowed = set(range(names.index(start), names.index(end) + 1))
    days = sum(
        1
        for month in range(1, 13)
        for day in range(1, calendar.monthrange(cost.REFERENCE_YEAR, month)[1] + 1)
        if calendar.weekday(cost.REFERENCE_YEAR, month, day) in allowed
    )
    return per_day * days / 12


def test_catalog_schedules_match_an_independent_count() -> None:
    counts = cost.invocations(parse({}, "Pulumi.test.yaml"))
    for function in catalog.scheduled_functions():
        expression = catalog.schedule_trigger(function).expression
        assert counts[function.name] == pytest.approx(independent_monthly_count(expression)), function.name


def test_known_figures() -> None:
    # 2027 has 365 days and 52 Sundays: 313 Monday-Saturday days.
    assert cost.yearly_fire_count("cron(30 5 ? * MON-SAT *)") == 313
    assert cost.yearly_fire_count("cron(0 * ? * MON-SAT *)") == 313 * 24
    assert cost.yearly_fire_count("cron(0/15 9-16 ? * MON-FRI *)") == 4 * 8 * 261
    assert cost.yearly_fire_count("cron(0 6 ? JAN-MAR MON *)") == 13
    assert cost.yearly_fire_count("cron(0 6 ? * MON 2030)") == 0
    assert cost.yearly_fire_count("at(2027-03-03T10:00:00)") == 0
    # #n and L pick one day a month, not every such weekday. 2027 starts on a Friday: 53 Fridays.
    assert cost.yearly_fire_count("cron(0 6 ? * MON#1 *)") == 12
    assert cost.yearly_fire_count("cron(0 6 ? * 6L *)") == 12
    assert cost.yearly_fire_count("cron(0 6 ? * MON#1,FRI *)") == 12 + 53
    fifth_mondays = sum(
        1 for month in range(1, 13) if len([w for w in calendar.monthcalendar(2027, month) if w[0]]) == 5
    )
    assert cost.yearly_fire_count("cron(0 6 ? * 2#5 *)") == fifth_mondays


def test_event_driven_invocations_follow_the_trigger_runs() -> None:
    config = parse({"regularPollenationBatchSize": 50}, "Pulumi.test.yaml")
    counts = cost.invocations(config)
    regular, earnings = counts["TriggerRegularPollenation"], counts["TriggerEarningsPollenation"]
    assert counts["PollenateAsset"] == pytest.approx(regular * 50 + earnings * cost.EARNINGS_ASSETS_PER_RUN)
    assert counts["MarkEarningsProcessed"] == pytest.approx(earnings * cost.EARNINGS_ASSETS_PER_RUN)


def test_stack_schedule_overrides_and_disabling_change_counts() -> None:
    overridden = parse({"schedules": {"sync-news-sentiment": {"expression": "cron(0 9-16 ? * MON-FRI *)"}}}, "P.yaml")
    assert cost.invocations(overridden)["SyncNewsSentiment"] == pytest.approx(8 * 261 / 12)
    disabled = parse({"schedules": {"sync-assets": {"enabled": False}}}, "P.yaml")
    assert cost.invocations(disabled)["SyncAssets"] == 0


def estimate_for(raw: dict[str, Any], counts: dict[str, int] | None = None) -> cost.Estimate:
    return cost.estimate("test", parse(raw, "Pulumi.test.yaml"), counts or {}, cost.load_prices())


def item(result: cost.Estimate, service: str, name: str) -> cost.LineItem:
    return next(i for i in result.items if i.service == service and i.item.startswith(name))


def test_changing_memory_changes_the_estimate() -> None:
    base = estimate_for({})
    bigger = estimate_for({"functions": {"SyncNewsSentiment": {"memoryMb": 2048}}})
    gb_seconds = item(bigger, "Lambda", "compute").quantity - item(base, "Lambda", "compute").quantity
    news = next(f for f in base.functions if f.name == "SyncNewsSentiment")
    assert gb_seconds == pytest.approx(news.invocations * news.duration_seconds * (2048 - 512) / 1024)
    assert bigger.list_total > base.list_total


def test_free_tier_and_counts_from_the_plan() -> None:
    result = estimate_for({}, {"aws:cloudwatch/metricAlarm:MetricAlarm": 14, "aws:cloudwatch/dashboard:Dashboard": 4})
    prices = cost.load_prices()["prices"]
    assert item(result, "CloudWatch", "alarms").cost == pytest.approx(4 * prices["cloudwatch_alarm_month"])
    assert item(result, "CloudWatch", "dashboards").cost == pytest.approx(prices["cloudwatch_dashboard_month"])
    assert item(result, "EventBridge Scheduler", "invocations").cost == 0
    assert result.total <= result.list_total


def test_price_file_is_dated_sourced_labelled_and_fully_used() -> None:
    prices = cost.load_prices()
    assert prices["date"] and prices["region"] == "us-east-1" and prices["sources"]
    assert "ESTIMATE" in prices["label"]
    source = Path(cost.__file__).read_text()
    for key in [*prices["prices"], *(k for k in prices["free_tier"] if k != "note")]:
        assert f'"{key}"' in source, f"{key} is never used"


def test_every_function_has_workload_assumptions() -> None:
    assert set(cost.WORKLOADS) == set(catalog.FUNCTION_NAMES)


def test_committed_cost_doc_is_current(plans: dict[str, ProgramRun]) -> None:
    expected = cost.render_document(
        {stack: cost.estimate_stack(stack, plans[stack].to_json()) for stack in catalog.STACKS}, cost.load_prices()
    )
    assert cost.DOC.read_text() == expected, "docs/cost.md is stale: run `signal9 cost --docs`"


def test_cli_prints_an_itemised_labelled_estimate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reuse_planned_runs(monkeypatch, cost)
    assert cli.main(["cost", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "ESTIMATE" in out and "total after free tier" in out
    assert all(
        i in out for i in ("Lambda", "DynamoDB", "Secrets Manager", "CloudWatch", "SQS", "EventBridge Scheduler")
    )
    assert cli.main(["cost", "--stack", "dev", "--markdown"]) == 0
    assert "| SyncAssets | 512 |" in capsys.readouterr().out


def test_kms_requests_follow_the_encryption_setting() -> None:
    owned, managed = parse({}, "Pulumi.dev.yaml"), parse({"encryption": "customer-managed"}, "Pulumi.dev.yaml")
    assert cost.kms_requests(owned) == cost.ALARM_NOTIFICATIONS_PER_MONTH
    counts = cost.invocations(managed)
    # PollenateAsset alone: environment + logs, its six tables, its secret, per invocation.
    pollenate = counts["PollenateAsset"] * (cost.KMS_REQUESTS_PER_INVOCATION + 6 * cost.KMS_REQUESTS_PER_TABLE + 1)
    assert cost.kms_requests(managed) > pollenate > 0


def test_dev_stays_under_five_dollars_and_pays_for_one_key(dev: ProgramRun) -> None:
    result = cost.estimate_stack("dev", dev.to_json())
    (key,) = [item for item in result.items if item.item == "customer managed keys"]
    assert key.quantity == 1
    assert result.total < 5


def test_collector_volumes_use_the_benchmarks_recorded_figures() -> None:
    volumes = cost.load_volumes()
    assert volumes["source"] == "benchmarks/pollenation_chain.py --write"  # measured, not assumed
    measured = volumes["PollenateAsset"]
    # A first pollenation writes far more than a repeat (which writes only overview + pollenation rows).
    assert measured["writes_per_pollenation_first"] > measured["writes_per_pollenation_new_quarter"]
    assert measured["writes_per_pollenation_new_quarter"] > measured["writes_per_pollenation_repeat"]
    assert cost.WORKLOADS["PollenateAsset"].write_units == measured["writes_per_pollenation_new_quarter"]
    config = parse({"regularPollenationBatchSize": 50}, "Pulumi.test.yaml")
    (pollenate,) = [v for v in cost.collector_volumes(config) if v.name == "PollenateAsset"]
    pollenations_per_day = cost.invocations(config)["PollenateAsset"] / cost.DAYS_PER_MONTH
    assert pollenate.writes_per_day == pytest.approx(
        pollenations_per_day * measured["writes_per_pollenation_new_quarter"]
    )
    assert pollenate.source.startswith("measured")
    # Only functions that write to a table appear, each once.
    assert {v.name for v in cost.collector_volumes(config)} == {f.name for f in catalog.FUNCTIONS if f.writes}


def test_cost_doc_shows_each_stacks_collector_volumes() -> None:
    text = cost.DOC.read_text()
    for stack in catalog.STACKS:
        assert f"Collector volumes, stack `{stack}`:" in text
    assert "Statement rows per pollenation" in text and "News items per hour" in text


def test_a_stack_in_another_region_is_told_whose_prices_it_gets(monkeypatch: pytest.MonkeyPatch) -> None:
    """prices.json holds one region's prices; an estimate for another says so rather than pass them off."""
    prices = cost.load_prices()
    estimate = cost.estimate("dev", parse({}, "Pulumi.dev.yaml"), Counter(), prices)
    assert "note:" not in cost.render_text(estimate, prices, prices["region"])
    text = cost.render_text(estimate, prices, "eu-west-1")
    assert f"note: prices.json has no prices for eu-west-1; these are {prices['region']}'s" in text
