"""`signal9 status`: verdicts from run metrics, the Sunday window, DLQs, alarms, and its errors on moto."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from signal9 import catalog
from signal9 import config as stack_config
from signal9.config import ScheduleOverride, StackConfig
from signal9.naming import Naming
from signal9_tools import cli, status
from signal9_tools.sessions import aws_session
from tests.test_cli import FAKE_KEYS, closed_port, no_aws  # noqa: F401 - fixtures

NEW_YORK = ZoneInfo("America/New_York")
NAMING = Naming("dev")
SYNC_ASSETS = catalog.function("SyncAssets")  # cron(30 5 ? * MON-SAT *) in New York
NEWS = catalog.function("SyncNewsSentiment")  # hourly, Monday-Saturday


def hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def facts(runs: dict[datetime, tuple[int, int]], items: int = 0) -> status.RunFacts:
    """Runs by fire time: (attempts, failed attempts); a failed run's attempts come first (Lambda's retries)."""
    reports = []
    for when, (attempts, failures) in runs.items():
        for attempt in range(attempts):
            reports.append((when.astimezone(UTC) + timedelta(minutes=attempt), attempt >= failures))
    return status.RunFacts(reports, {hour(t): float(items) for t in runs})


TUESDAY_NOON = datetime(2026, 11, 3, 12, 0, tzinfo=NEW_YORK)


def test_a_run_after_the_last_fire_time_is_fresh() -> None:
    row = status.verdict(
        SYNC_ASSETS, StackConfig(), facts({datetime(2026, 11, 3, 5, 30, tzinfo=NEW_YORK): (1, 0)}, 7), TUESDAY_NOON
    )
    assert (row.verdict, row.outcome, row.items_written) == ("fresh", "succeeded", 7)
    assert row.next_fire == datetime(2026, 11, 4, 5, 30, tzinfo=NEW_YORK).isoformat()


def test_yesterdays_run_is_late_today() -> None:
    row = status.verdict(
        SYNC_ASSETS, StackConfig(), facts({datetime(2026, 11, 2, 5, 30, tzinfo=NEW_YORK): (1, 0)}), TUESDAY_NOON
    )
    assert row.verdict == "late" and row.late_minutes == 6 * 60 + 30


def test_a_failed_last_run_is_failed() -> None:
    runs = {
        datetime(2026, 11, 2, 5, 30, tzinfo=NEW_YORK): (1, 0),
        datetime(2026, 11, 3, 5, 30, tzinfo=NEW_YORK): (3, 3),
    }
    row = status.verdict(SYNC_ASSETS, StackConfig(), facts(runs), TUESDAY_NOON)
    assert (row.verdict, row.outcome) == ("failed", "failed")


def test_a_failed_run_wrote_no_items_although_an_earlier_run_of_the_hour_did() -> None:
    ran = datetime(2026, 11, 3, 6, 0, tzinfo=NEW_YORK)
    facts = status.RunFacts([(ran.astimezone(UTC), True), (ran.astimezone(UTC) + timedelta(minutes=9), False)], {})
    facts.items_written[hour(ran)] = 43  # the successful run's ItemsWritten; a failed run reports none
    row = status.verdict(catalog.function("SyncEarningsCalendar"), StackConfig(), facts, TUESDAY_NOON)
    assert (row.verdict, row.items_written) == ("failed", 0)


def test_no_run_at_all_is_never_ran() -> None:
    assert status.verdict(SYNC_ASSETS, StackConfig(), facts({}), TUESDAY_NOON).verdict == "never ran"


def test_saturdays_run_is_fresh_all_sunday() -> None:
    # Sunday is the maintenance window: the last due fire is Saturday's, across the DST change.
    saturday = {datetime(2026, 10, 31, h, 0, tzinfo=NEW_YORK): (1, 0) for h in range(24)}
    for sunday_hour in (0, 9, 23):
        now = datetime(2026, 11, 1, sunday_hour, 30, tzinfo=NEW_YORK)
        assert status.verdict(NEWS, StackConfig(), facts(saturday), now).verdict == "fresh", now


def test_a_run_within_the_grace_is_not_late_yet() -> None:
    now = datetime(2026, 11, 3, 5, 40, tzinfo=NEW_YORK)  # 10 minutes after the 05:30 fire
    row = status.verdict(
        SYNC_ASSETS, StackConfig(), facts({datetime(2026, 11, 2, 5, 30, tzinfo=NEW_YORK): (1, 0)}), now
    )
    assert row.verdict == "fresh"


# ---------------------------------------------------------------------------- on moto


def report(status_text: str) -> str:
    """A Lambda platform.report record (JSON log format), as Lambda writes it after a run."""
    return json.dumps({"time": "", "type": "platform.report", "record": {"requestId": "r", "status": status_text}})


def deploy_queues_and_runs(now: datetime, failing: str | None = None, idle: str | None = None) -> None:
    sqs = boto3.client("sqs")
    for function in catalog.FUNCTIONS:
        sqs.create_queue(QueueName=NAMING.dead_letter_queue(function.name))
    logs = boto3.client("logs")
    cloudwatch = boto3.client("cloudwatch")
    ran = int((now - timedelta(minutes=5)).timestamp() * 1000)
    for function in catalog.scheduled_functions():
        group = NAMING.log_group(function.name)
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="2026/11/03/[$LATEST]abc")
        if function.name == idle:
            continue
        lines = ['{"level":"INFO","message":"synced"}', report("success")]
        if function.name == failing:  # a success, then a run failing all three attempts
            lines += [report("error")] * 3
        logs.put_log_events(
            logGroupName=group,
            logStreamName="2026/11/03/[$LATEST]abc",
            logEvents=[{"timestamp": ran + i, "message": line} for i, line in enumerate(lines)],
        )
        # A collector counts the items it wrote, a trigger the pollenationNeeded events it published.
        written = "PollenationsRequested" if function.name.startswith("Trigger") else "ItemsWritten"
        cloudwatch.put_metric_data(
            Namespace="Signal9",
            MetricData=[
                {
                    "MetricName": written,
                    "Dimensions": [{"Name": "service", "Value": function.name}, {"Name": "stage", "Value": "dev"}],
                    "Timestamp": now - timedelta(minutes=5),
                    "Value": 4,
                }
            ],
        )


def run_status(capsys: pytest.CaptureFixture[str], now: datetime) -> tuple[int, dict[str, Any]]:
    args = argparse.Namespace(stack="dev", json=True, profile=None)
    code = status.run(args, session=aws_session(region="us-east-1"), now=now)
    return code, json.loads(capsys.readouterr().out)


def test_all_fresh_after_every_collector_ran(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    deploy_queues_and_runs(now)
    code, document = run_status(capsys, now)
    rows = document["collectors"]
    assert [row["verdict"] for row in rows] == ["fresh"] * 5
    assert {row["items_written"] for row in rows} == {4}
    assert code == 0 and document["healthy"] is True


def test_a_run_recorded_within_the_second_before_the_check_is_counted(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """GetMetricData's range ends with the check's hour, not at its second (moto drops the fraction)."""
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(milliseconds=900)
    deploy_queues_and_runs(now + timedelta(minutes=5) - timedelta(milliseconds=100))  # runs and metrics 100 ms before
    code, document = run_status(capsys, now)
    assert {row["items_written"] for row in document["collectors"]} == {4} and code == 0


def test_a_failed_collector_a_waiting_dlq_and_an_alarm_exit_1(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    deploy_queues_and_runs(now, failing="SyncEarningsCalendar")
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=NAMING.dead_letter_queue("PollenateAsset"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="signal9-dev-SyncAssets-missed-run", MetricName="Invocations", Namespace="AWS/Lambda",
        Statistic="Sum", Period=3600, EvaluationPeriods=1, Threshold=1, ComparisonOperator="LessThanThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="signal9-dev-SyncAssets-missed-run", StateValue="ALARM", StateReason="test")
    cloudwatch.put_metric_alarm(
        AlarmName="signal9-dev-SyncAssets-errors",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip  (stays OK: not listed)
    code, document = run_status(capsys, now)
    verdicts = {row["function"]: row["verdict"] for row in document["collectors"]}
    assert verdicts["SyncEarningsCalendar"] == "failed"
    items = {row["function"]: row["items_written"] for row in document["collectors"]}
    assert items["SyncEarningsCalendar"] == 0 and items["SyncAssets"] == 4
    assert document["dead_letter_queues"]["PollenateAsset"] == 1
    assert document["alarms_in_alarm"] == ["signal9-dev-SyncAssets-missed-run"]
    assert code == 1


def test_a_disabled_schedule_shows_never_ran_and_does_not_fail_the_check(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = StackConfig(schedules={"sync-news-sentiment": ScheduleOverride(enabled=False)})
    monkeypatch.setattr(stack_config, "load_stack", lambda _: config)
    now = datetime.now(UTC).replace(microsecond=0)
    deploy_queues_and_runs(now, idle=NEWS.name)
    args = argparse.Namespace(stack="dev", json=False, profile=None)
    code = status.run(args, session=aws_session(region="us-east-1"), now=now)
    out = capsys.readouterr().out
    assert "never ran (schedule disabled)" in out and "verdict: all fresh" in out
    assert code == 0


def test_no_credentials_is_one_line(no_aws: None, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert cli.main(["status", "--stack", "dev"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("signal9 status: no AWS credentials found for stack 'dev'")


def test_unknown_profile_is_one_line(no_aws: None, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert cli.main(["status", "--stack", "dev", "--profile", "signal9-nowhere"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "AWS profile 'signal9-nowhere'" in err


def test_unreachable_endpoint_is_one_line(
    no_aws: None,  # noqa: F811
    closed_port: int,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in FAKE_KEYS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    assert cli.main(["status", "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"cannot reach AWS at http://127.0.0.1:{closed_port}" in err


def test_a_stack_not_deployed_here_is_one_line(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--stack", "dev"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert "signal9-dev-SyncAssets" in err and "not deployed" in err


# ---------------------------------------------------------------------------- what the tables' data says

TUESDAY = datetime(2026, 11, 3, 14, 0, tzinfo=NEW_YORK)


def gauge_series(**by_metric: dict[datetime, float]) -> dict[str, dict[datetime, float]]:
    """Hourly datapoints by freshness-reading id (see status.READINGS), keyed by the hour's start in UTC."""
    return {key: {hour(t): v for t, v in points.items()} for key, points in by_metric.items()}


def test_table_rows_say_what_each_tables_data_says_and_which_metric_says_it() -> None:
    series = gauge_series(
        assets_synced={
            datetime(2026, 11, 2, 5, 31, tzinfo=NEW_YORK): 1,
            datetime(2026, 11, 3, 5, 31, tzinfo=NEW_YORK): 1,
        },
        calendar_synced={datetime(2026, 11, 3, 6, 1, tzinfo=NEW_YORK): 1},
        news_lag={datetime(2026, 11, 3, 12, 0, tzinfo=NEW_YORK): 50, datetime(2026, 11, 3, 13, 0, tzinfo=NEW_YORK): 35},
        recorded={
            datetime(2026, 11, 2, 20, 10, tzinfo=NEW_YORK): 30,  # the regular batch of Monday evening
            datetime(2026, 11, 2, 21, 10, tzinfo=NEW_YORK): 9,
            datetime(2026, 11, 3, 7, 10, tzinfo=NEW_YORK): 3,  # this morning's earnings pollenations
        },
        planned={datetime(2026, 11, 2, 20, 0, tzinfo=NEW_YORK): 100},  # the configured batch size
        regular_requested={datetime(2026, 11, 2, 20, 0, tzinfo=NEW_YORK): 39},  # 39 active assets
        earnings_requested={datetime(2026, 11, 3, 7, 0, tzinfo=NEW_YORK): 3},
        waiting={datetime(2026, 11, 3, 7, 0, tzinfo=NEW_YORK): 4},
        oldest={datetime(2026, 11, 3, 7, 0, tzinfo=NEW_YORK): 7},
    )
    rows = {row.reading: row for row in status.table_rows(series, TUESDAY.astimezone(UTC))}
    assert list(rows) == [
        "newest asset sync",
        "calendar sync",
        "news coverage",
        "regular batch pollenations",
        "earnings rows waiting",
        "oldest unprocessed report",
    ]
    assert rows["newest asset sync"].table == "assets"
    assert rows["newest asset sync"].value == "2026-11-03T10:00:00+00:00 (9 h ago)"
    assert rows["newest asset sync"].metric == "Signal9 AssetCatalogSynced (SyncAssets)"
    assert rows["calendar sync"].value == "2026-11-03T11:00:00+00:00 (8 h ago)"
    # The newest reading: at the 13:00 New York run the watermark was 35 minutes older.
    news = rows["news coverage"]
    assert (news.table, news.value) == ("newsSentiment", "watermark 2026-11-03T17:25:00+00:00, 35 min behind its run")
    assert news.metric == "Signal9 NewsWatermarkLagMinutes (SyncNewsSentiment)"
    # The batch the morning check is about: Monday 20:00's, recorded before Tuesday's earnings run.
    batch = rows["regular batch pollenations"]
    assert batch.value == "39 recorded of 39 planned (batch of 2026-11-03T01:00:00+00:00; batch size 100)"
    assert batch.metric == (
        "Signal9 PollenationsRecorded (PollenateAsset), PollenationsRequested (TriggerRegularPollenation), "
        "PollenationsPlanned (TriggerRegularPollenation), PollenationsRequested (TriggerEarningsPollenation)"
    )
    assert rows["earnings rows waiting"].value == "4"
    assert rows["oldest unprocessed report"].value == "7 days"
    assert (
        rows["oldest unprocessed report"].metric == "Signal9 OldestUnprocessedReportDays (TriggerEarningsPollenation)"
    )


def test_table_rows_without_data_say_so() -> None:
    rows = status.table_rows({}, TUESDAY.astimezone(UTC))
    assert {row.reading: row.value for row in rows} == {
        "newest asset sync": "none in 8 days",
        "calendar sync": "none in 8 days",
        "news coverage": "none in 8 days",
        "regular batch pollenations": "none in 8 days",
        "earnings rows waiting": "none in 8 days",
        "oldest unprocessed report": "none in 8 days",
    }


def test_status_reads_the_table_rows_from_the_handlers_emf_metrics(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # The emulator's path: a handler's EMF line (Powertools' own serialisation) becomes CloudWatch data.
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    from signal9_tools.emulator import lambda_records

    now = datetime.now(UTC).replace(microsecond=0)
    deploy_queues_and_runs(now)
    emf = Metrics(namespace="Signal9", service="SyncNewsSentiment")
    emf.set_default_dimensions(stage="dev")
    emf.add_metric(name="NewsWatermarkLagMinutes", unit=MetricUnit.NoUnit, value=42)
    line = json.dumps(emf.serialize_metric_set())
    emf.clear_metrics()
    lambda_records.record_invocation(
        boto3.client("logs"),
        boto3.client("cloudwatch"),
        "signal9-dev-SyncNewsSentiment",
        "r1",
        [line],
        now,
        False,
        ended=now,
    )
    code, document = run_status(capsys, now + timedelta(minutes=1))
    (news,) = [row for row in document["tables"] if row["reading"] == "news coverage"]
    assert news["value"].endswith("42 min behind its run") and news["table"] == "newsSentiment"
    assert code == 0  # the readings inform; the verdicts above decide the exit code


def status_with(dead_letters: dict[str, int], verdicts: dict[str, str], alarms: tuple[str, ...] = ()) -> status.Status:
    rows = [
        status.CollectorRow(f.name, "s", True, None, None, None, None, None, verdicts.get(f.name, "fresh"))
        for f in catalog.scheduled_functions()
    ]
    return status.Status("dev", "2026-11-03T12:05:00+00:00", rows, [], dead_letters, list(alarms))


def test_the_verdict_names_the_runbook_for_what_is_not_fresh() -> None:
    only_dlq = status.format_status(status_with({"PollenateAsset": 1}, {})).splitlines()[-1]
    assert only_dlq == (
        "verdict: NOT all fresh: dead-letter queues hold messages (runbook docs/runbooks/dlq-not-empty.md)"
    )
    both = status.format_status(status_with({"SyncEarningsCalendar": 1}, {"SyncEarningsCalendar": "failed"}))
    assert both.splitlines()[-1] == (
        "verdict: NOT all fresh: SyncEarningsCalendar failed (runbook docs/runbooks/collector-late.md); "
        "dead-letter queues hold messages (runbook docs/runbooks/dlq-not-empty.md)"
    )
    alarmed = status.format_status(status_with({}, {}, ("signal9-dev-news-lag",))).splitlines()[-1]
    assert alarmed == "verdict: NOT all fresh: alarms in ALARM (each alarm's first check: docs/observability.md)"
    assert status.format_status(status_with({}, {})).splitlines()[-1] == "verdict: all fresh"
