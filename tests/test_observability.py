"""FunctionLogs and Observability under Pulumi mocks, and the pure generators in signal9.dashboard."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from functions.shared import telemetry
from functions.shared.secret_fields import PLACEHOLDER_VALUE
from signal9 import catalog, config, dashboard
from signal9.config import StackConfig
from signal9.naming import Naming
from signal9.stackfile import read_stack_config
from signal9_tools.mockrun import ProgramRun, run_program

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
QUERY = "aws:cloudwatch/queryDefinition:QueryDefinition"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY = "aws:kms/key:Key"


def body(run: ProgramRun) -> dict[str, Any]:
    (resource,) = run.of_type(DASHBOARD)
    parsed: dict[str, Any] = json.loads(resource.plain_inputs["dashboardBody"])
    return parsed


def metric_rows(document: dict[str, Any]) -> list[list[Any]]:
    """Every graphed metric, its options completed with the widget's default stat."""
    rows = []
    for widget in document["widgets"]:
        if widget["type"] != "metric":
            continue
        for row in widget["properties"]["metrics"]:
            options = row[-1] if isinstance(row[-1], dict) else {}
            names = row[:-1] if options else row
            rows.append([*names, {"stat": widget["properties"]["stat"], **options}])
    return rows


def has_metric(
    rows: list[list[Any]], namespace: str, metric: str, dimensions: dict[str, str], stat: str | None = None
) -> bool:
    return any(
        names[:2] == [namespace, metric]
        and dict(zip(names[2::2], names[3::2], strict=True)) == dimensions
        and (stat is None or options.get("stat") == stat)
        for *names, options in rows
    )


# ---------------------------------------------------------------------------- log groups


def test_one_log_group_per_function_with_the_stacks_retention(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        groups = {r.name.removesuffix("-log-group"): r for r in run.of_type(LOG_GROUP)}
        assert sorted(groups) == sorted(catalog.FUNCTION_NAMES) and len(groups) == 7
        retention = json.loads(read_stack_config(stack)["signal9:logRetentionDays"])
        for name, group in groups.items():
            assert group.inputs["name"] == Naming(stack).log_group(name) == f"/aws/lambda/signal9-{stack}-{name}"
            assert group.inputs["retentionInDays"] == retention
            assert group.inputs["tags"] == {"Component": "function-logs"}
            assert group.parent == "function-logs" and group.delete_before_replace


def test_retention_differs_per_stack(plans: dict[str, ProgramRun]) -> None:
    retention = {stack: {g.inputs["retentionInDays"] for g in run.of_type(LOG_GROUP)} for stack, run in plans.items()}
    assert retention == {"dev": {14}, "staging": {30}, "prod": {90}}


# ---------------------------------------------------------------------------- dashboard


def test_dashboard_is_named_for_the_stack_and_its_body_is_valid_json(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        (resource,) = run.of_type(DASHBOARD)
        assert resource.inputs["dashboardName"] == Naming(stack).prefix
        text = resource.plain_inputs["dashboardBody"]
        assert len(text.encode()) <= dashboard.MAX_DASHBOARD_BODY_BYTES
        document = json.loads(text)
        assert 0 < len(document["widgets"]) <= dashboard.MAX_WIDGETS
        assert {w["properties"].get("region") for w in document["widgets"] if w["type"] != "text"} == {"us-east-1"}


def test_dashboard_names_every_function_queue_table_schedule_and_rule(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        naming = Naming(stack)
        text = json.dumps(body(run))
        expected = [
            *(naming.function(f) for f in catalog.FUNCTION_NAMES),
            *(naming.dead_letter_queue(f) for f in catalog.FUNCTION_NAMES),
            *(naming.log_group(f) for f in catalog.FUNCTION_NAMES),
            *(naming.table(t) for t in catalog.TABLE_NAMES),
            *(naming.schedule(s) for s in catalog.SCHEDULE_NAMES),
            *(naming.rule(e.detail_type) for e in catalog.EVENTS),
            naming.schedule_group,
            naming.event_bus,
        ]
        missing = [
            name for name in expected if f'"{name}"' not in text and f"{name} " not in text and f"'{name}'" not in text
        ]
        assert not missing, f"{stack}: dashboard does not name {missing}"


def test_dashboard_graphs_each_functions_health(dev: ProgramRun) -> None:
    rows = metric_rows(body(dev))
    for function in catalog.FUNCTION_NAMES:
        dims = {"FunctionName": Naming("dev").function(function)}
        for metric in ("Invocations", "Errors", "Throttles"):
            assert has_metric(rows, "AWS/Lambda", metric, dims), (function, metric)
        for stat in ("p50", "p95", "Maximum"):
            assert has_metric(rows, "AWS/Lambda", "Duration", dims, stat), (function, stat)
        assert has_metric(rows, "AWS/Lambda", "ConcurrentExecutions", dims, "Maximum")


def test_duration_graphs_mark_the_configured_timeout(prod: ProgramRun) -> None:
    config = StackConfig.model_validate({"functions": {"PollenateAsset": {"memoryMb": 1024, "timeoutSeconds": 600}}})
    widgets = {w["properties"]["title"]: w for w in body(prod)["widgets"] if w["type"] == "metric"}
    for function in catalog.FUNCTIONS:
        (line,) = widgets[f"{function.name}: duration (ms)"]["properties"]["annotations"]["horizontal"]
        assert line["value"] == config.timeout_seconds(function) * 1000


def test_dashboard_graphs_queues_schedules_rules_and_tables_with_real_dimensions(dev: ProgramRun) -> None:
    naming = Naming("dev")
    rows = metric_rows(body(dev))
    for function in catalog.FUNCTION_NAMES:
        queue = {"QueueName": naming.dead_letter_queue(function)}
        assert has_metric(rows, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum")
    for metric in dashboard.SCHEDULER_METRICS:
        assert has_metric(rows, "AWS/Scheduler", metric, {"ScheduleGroup": naming.schedule_group})
    for event in catalog.EVENTS:
        dims = {"EventBusName": naming.event_bus, "RuleName": naming.rule(event.detail_type)}
        for metric in ("FailedInvocations", "InvocationsSentToDlq", "InvocationsFailedToBeSentToDlq"):
            assert has_metric(rows, "AWS/Events", metric, dims), (event.detail_type, metric)
    for table in catalog.TABLE_NAMES:
        dims = {"TableName": naming.table(table)}
        for metric in (
            "ConsumedReadCapacityUnits",
            "ConsumedWriteCapacityUnits",
            "ReadThrottleEvents",
            "WriteThrottleEvents",
        ):
            assert has_metric(rows, "AWS/DynamoDB", metric, dims), (table, metric)
        for operation in dashboard.table_operations(table):
            assert has_metric(rows, "AWS/DynamoDB", "ThrottledRequests", {**dims, "Operation": operation})


# SPEC: reads = GetItem, BatchGetItem, Query; writes = PutItem, UpdateItem, DeleteItem, BatchWriteItem.
SPEC_OPERATIONS = {"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}


def test_external_api_widgets_track_calls_throttles_and_retries_per_api_and_function(
    plans: dict[str, ProgramRun],
) -> None:
    expected_callers = {
        "alpaca": {"SyncAssets"},
        "alphavantage": {"SyncEarningsCalendar", "SyncNewsSentiment", "PollenateAsset"},
    }
    for stack, run in plans.items():
        widgets = {w["properties"].get("title", ""): w for w in body(run)["widgets"]}
        for api, callers in expected_callers.items():
            widget = widgets[f"External API {api}: calls, throttled, retries per minute"]["properties"]
            assert widget["period"] == 60  # the plan's rate is per minute
            rows = metric_rows({"widgets": [{"type": "metric", "properties": widget}]})
            for caller in callers:
                for metric in ("ExternalCalls", "ExternalThrottled", "ExternalRetries"):
                    dimensions = {"service": caller, "stage": stack, "api": api}
                    assert has_metric(rows, "Signal9", metric, dimensions), (stack, api, caller, metric)
            (total,) = [row[0] for row in widget["metrics"] if "expression" in row[0]]
            assert total["expression"].startswith("SUM([") and total["expression"].count("externalcalls") == len(
                callers
            )
        plan = widgets["External API alphavantage: calls, throttled, retries per minute"]["properties"]["annotations"]
        rate = StackConfig.model_validate({}).alphaVantage.requestsPerMinute
        assert plan["horizontal"][0]["value"] == rate == 75


def test_sustained_alphavantage_throttling_alarms_on_every_caller(dev: ProgramRun) -> None:
    alarm = dev.named("alphavantage-throttling-alarm").inputs
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"], alarm["threshold"]) == (5, 3, 5)
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    sums = [q for q in queries.values() if "expression" in q]
    assert len(sums) == 1 and sums[0]["returnData"] is True
    watched = {
        q["metric"]["dimensions"]["service"]
        for q in queries.values()
        if "metric" in q
        and q["metric"]["metricName"] == "ExternalThrottled"
        and q["metric"]["dimensions"]["api"] == "alphavantage"
        and q["metric"]["namespace"] == "Signal9"
    }
    assert watched == {"SyncEarningsCalendar", "SyncNewsSentiment", "PollenateAsset"}
    assert "alphavantage-throttling.md" in alarm["alarmDescription"]


def test_throttled_requests_cover_exactly_the_granted_operations(dev: ProgramRun) -> None:
    # Every table is both read and written by some function (SPEC's matrix), so each gets all seven.
    rows = metric_rows(body(dev))
    for table in catalog.TABLE_NAMES:
        graphed = {
            dict(zip(names[2::2], names[3::2], strict=True)).get("Operation")
            for *names, _ in rows
            if names[:2] == ["AWS/DynamoDB", "ThrottledRequests"]
            and dict(zip(names[2::2], names[3::2], strict=True)).get("TableName") == Naming("dev").table(table)
        }
        assert graphed == SPEC_OPERATIONS, table


def test_recent_errors_widget_reads_every_function_log_group(dev: ProgramRun) -> None:
    (widget,) = [w for w in body(dev)["widgets"] if w["type"] == "log"]
    query = widget["properties"]["query"]
    sources, _, rest = query.rpartition("' | ")
    assert sorted(sources.replace("SOURCE '", "").split("' | ")) == DEV_LOG_GROUPS
    assert "level" in rest and "sort @timestamp desc" in rest


def test_widgets_fit_the_grid_without_overlapping(dev: ProgramRun) -> None:
    cells: set[tuple[int, int]] = set()
    for widget in body(dev)["widgets"]:
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= dashboard.GRID_WIDTH
        area = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not area & cells, f"widget {widget['properties'].get('title')} overlaps another"
        cells |= area


# Every function's log group, written out (SPEC: /aws/lambda/<function name>).
DEV_LOG_GROUPS = sorted(
    f"/aws/lambda/signal9-dev-{name}"
    for name in (
        "SyncAssets",
        "SyncEarningsCalendar",
        "TriggerEarningsPollenation",
        "TriggerRegularPollenation",
        "SyncNewsSentiment",
        "PollenateAsset",
        "MarkEarningsProcessed",
    )
)


# ---------------------------------------------------------------------------- topic and alarms


def expected_alarm_names(naming: Naming) -> set[str]:
    per_function = {
        f"{naming.prefix}-{f.name}-{kind}"
        for f in catalog.FUNCTIONS
        for kind in ("errors", "event-age" if f.paced else "throttles", "dlq-depth")
    }
    rules = {f"{naming.prefix}-{e.detail_type}-rule-delivery-failures" for e in catalog.EVENTS}
    schedules = {f"{naming.prefix}-schedules-delivery-failures"} if catalog.SCHEDULE_NAMES else set()
    throttling = {f"{naming.prefix}-{api}-throttling" for api in dashboard.THROTTLING_ALARM_APIS}
    watched = config.load_stack(naming.stack).missedRunAlarms
    missed_runs = {f"{naming.prefix}-{f.name}-missed-run" for f in catalog.scheduled_functions() if watched}
    kinds = ("news-lag", "earnings-overdue", "earnings-unpublished")
    freshness = {f"{naming.prefix}-{kind}" for kind in kinds if config.load_stack(naming.stack).freshnessAlarms}
    return per_function | rules | schedules | throttling | missed_runs | freshness


def test_alarm_set_is_complete(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        names = [a.inputs["name"] for a in run.of_type(ALARM)]
        scheduled = len(catalog.scheduled_functions()) if stack != "dev" else 0  # dev: missedRunAlarms false
        freshness = 3 if stack != "dev" else 0  # dev: freshnessAlarms false
        assert (
            len(names)
            == 3 * len(catalog.FUNCTIONS) + len(catalog.EVENTS) + 1 + 1 + scheduled + freshness
            == (25 if stack == "dev" else 33)
        )
        assert set(names) == expected_alarm_names(Naming(stack))


def test_every_alarm_notifies_the_stacks_topic_on_alarm_and_ok(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        (topic,) = run.of_type(TOPIC)
        assert topic.inputs["name"] == f"signal9-{stack}-alarms"
        topic_arn = f"arn:aws:sns:us-east-1:123456789012:signal9-{stack}-alarms"
        for alarm in run.of_type(ALARM):
            inputs = alarm.inputs
            assert inputs["alarmActions"] == [topic_arn] and inputs["okActions"] == [topic_arn], alarm.name
            # Missed-run alarms alone breach on missing data (tests/test_missed_run_alarms.py says why).
            expected = "breaching" if inputs["name"].endswith("-missed-run") else "notBreaching"
            assert inputs["treatMissingData"] == expected, alarm.name
            assert len(inputs["name"]) <= dashboard.MAX_ALARM_NAME_LENGTH
            assert 0 < len(inputs["alarmDescription"]) <= 1024  # AWS limit for AlarmDescription
            assert "First check" in inputs["alarmDescription"]
            assert inputs["tags"] == {"Component": "observability"}


def test_single_metric_alarms_watch_the_right_resource(dev: ProgramRun) -> None:
    naming = Naming("dev")
    for function in catalog.FUNCTION_NAMES:
        errors = dev.named(f"{function}-errors-alarm").inputs
        assert (errors["namespace"], errors["metricName"], errors["dimensions"]) == (
            "AWS/Lambda",
            "Errors",
            {"FunctionName": naming.function(function)},
        )
        assert (errors["threshold"], errors["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        if catalog.function(function).paced:
            # Throttled by design while a burst drains (reserved concurrency): watch the events' age instead.
            age = dev.named(f"{function}-event-age-alarm").inputs
            assert (age["metricName"], age["statistic"], age["dimensions"]) == (
                "AsyncEventAge",
                "Maximum",
                {"FunctionName": naming.function(function)},
            )
            assert age["threshold"] == 0.75 * catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS * 1000  # milliseconds
        else:
            throttles = dev.named(f"{function}-throttles-alarm").inputs
            assert (
                throttles["metricName"] == "Throttles"
                and throttles["evaluationPeriods"] == throttles["datapointsToAlarm"] == 3
            )
        depth = dev.named(f"{function}-dlq-depth-alarm").inputs
        assert (depth["namespace"], depth["metricName"], depth["statistic"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
        )
        assert depth["dimensions"] == {"QueueName": naming.dead_letter_queue(function)}
        assert (depth["threshold"], depth["comparisonOperator"]) == (0, "GreaterThanThreshold")


def test_delivery_failure_alarms_sum_every_failure_metric(dev: ProgramRun) -> None:
    naming = Naming("dev")
    cases = {
        "schedules-delivery-failures-alarm": (
            "AWS/Scheduler",
            dashboard.SCHEDULER_FAILURE_METRICS,
            {"ScheduleGroup": naming.schedule_group},
        ),
        **{
            f"{e.detail_type}-rule-delivery-failures-alarm": (
                "AWS/Events",
                dashboard.RULE_FAILURE_METRICS,
                {"EventBusName": naming.event_bus, "RuleName": naming.rule(e.detail_type)},
            )
            for e in catalog.EVENTS
        },
    }
    for alarm, (namespace, metrics, dims) in cases.items():
        queries = dev.named(alarm).inputs["metricQueries"]
        (result,) = [q for q in queries if q["returnData"]]
        inputs = [q for q in queries if not q["returnData"]]
        assert [q["metric"]["metricName"] for q in inputs] == list(metrics)
        assert all(q["metric"]["namespace"] == namespace and q["metric"]["dimensions"] == dims for q in inputs)
        assert result["expression"] == " + ".join(f"FILL({q['id']}, 0)" for q in inputs)
        assert len(queries) <= dashboard.MAX_ALARM_METRIC_QUERIES + 1


def test_topic_uses_a_key_cloudwatch_alarms_may_use(dev: ProgramRun) -> None:
    (topic,) = dev.of_type(TOPIC)
    (key,) = dev.of_type(KEY)
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    (cloudwatch,) = [s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    pattern = cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]
    for alarm in dev.of_type(ALARM):
        assert fnmatch.fnmatchcase(f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm.inputs['name']}", pattern)
    assert not fnmatch.fnmatchcase("arn:aws:cloudwatch:us-east-1:123456789012:alarm:signal9-prod-x", pattern)


def test_topic_policy_lets_only_this_stacks_alarms_publish_and_only_over_tls(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        topic_arn = f"arn:aws:sns:us-east-1:123456789012:signal9-{stack}-alarms"
        (policy,) = run.of_type(TOPIC_POLICY)
        assert policy.inputs["arn"] == topic_arn
        allow, deny = json.loads(policy.inputs["policy"])["Statement"]
        assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
        assert allow["Resource"] == topic_arn
        assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
        pattern = allow["Condition"]["ArnLike"]["aws:SourceArn"]
        for alarm in run.of_type(ALARM):
            arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm.inputs['name']}"
            assert fnmatch.fnmatchcase(arn, pattern), alarm.name
            # An alarm created before the grant would drop its first notification.
            assert policy.name in alarm.dependencies, alarm.name
        other = "dev" if stack != "dev" else "prod"
        assert not fnmatch.fnmatchcase(f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:signal9-{other}-x", pattern)
        assert deny == {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }


def test_shipped_stacks_have_no_email_subscriptions(plans: dict[str, ProgramRun]) -> None:
    assert all(not run.of_type(SUBSCRIPTION) for run in plans.values())


def test_alarm_emails_from_config_subscribe_to_the_topic() -> None:
    emails = ["ops@example.com", "oncall@example.org"]
    run = run_program("staging", config={**read_stack_config("staging"), "signal9:alarmEmails": json.dumps(emails)})
    subscriptions = run.of_type(SUBSCRIPTION)
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(emails)
    for subscription in subscriptions:
        assert subscription.inputs["protocol"] == "email"
        assert subscription.inputs["topic"] == "arn:aws:sns:us-east-1:123456789012:signal9-staging-alarms"
        assert subscription.parent == "observability"


# ---------------------------------------------------------------------------- saved queries


def test_three_saved_queries_over_every_function_log_group(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        naming = Naming(stack)
        queries = {q.inputs["name"]: q.inputs for q in run.of_type(QUERY)}
        assert sorted(queries) == sorted(
            f"signal9-{stack}/{key}" for key in ("errors-by-function", "correlation-id", "slowest-invocations")
        )
        for inputs in queries.values():
            assert inputs["logGroupNames"] == dashboard.log_group_names(naming)
            assert len(inputs["logGroupNames"]) == len(catalog.FUNCTIONS)
        assert "stats count(*) as errors by @log" in queries[f"signal9-{stack}/errors-by-function"]["queryString"]
        assert "correlation_id = " in queries[f"signal9-{stack}/correlation-id"]["queryString"]
        assert "sort durationMs desc" in queries[f"signal9-{stack}/slowest-invocations"]["queryString"]


# ---------------------------------------------------------------------------- limits and wiring


def test_alarm_names_longer_than_aws_allows_are_refused() -> None:
    with pytest.raises(ValueError, match="exceeds 255 characters"):
        dashboard.alarm_specs(Naming("s" * 250), StackConfig())


def test_observability_watches_what_exists(dev: ProgramRun) -> None:
    # The dashboard and alarms are created after the tables (and the other watched components).
    dependencies = set(dev.named("dashboard").dependencies)
    assert {f"{t}-table" for t in catalog.TABLE_NAMES} <= dependencies
    assert all(r.parent == "observability" for r in dev.of_type(ALARM) + dev.of_type(QUERY) + dev.of_type(DASHBOARD))


# ---------------------------------------------------------------------------- docs


DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_observability_doc_covers_every_metric_alarm_kind_and_query() -> None:
    text = (DOCS / "observability.md").read_text()
    for name in [m.value for m in telemetry.MetricName] + ["ColdStart"]:
        assert f"`{name}`" in text, f"metric {name} is not documented"
    assert f"Namespace **`{telemetry.NAMESPACE}`**".lower() in text.lower()
    for spec in dashboard.alarm_specs(Naming("<stack>"), StackConfig()):
        generic = spec.name
        for function in catalog.FUNCTION_NAMES:
            generic = generic.replace(function, "<Function>")
        for event in catalog.EVENTS:
            generic = generic.replace(event.detail_type, "<detailType>")
        generic = generic.replace("<Function>-event-age", "PollenateAsset-event-age")
        assert f"`{generic}`" in text, f"alarm {generic} is not documented"
    for query in dashboard.saved_queries(Naming("<stack>")):
        assert f"`{query.name}`" in text
    for field in telemetry.LOG_FIELDS:
        assert f"| `{field}` |" in text, f"log field {field} is not documented"


def test_secrets_doc_names_every_config_path_and_the_placeholder() -> None:
    text = (DOCS / "secrets.md").read_text()
    for secret in catalog.SECRETS:
        for field in secret.fields:
            assert f"signal9:secrets.{secret.name}.{field}" in text
    assert PLACEHOLDER_VALUE in text and "put-secret-value" in text and "300" in text


def test_a_stack_without_alarm_emails_warns_at_deploy(dev: ProgramRun) -> None:
    (warning,) = [w for w in dev.warnings if "alarm topic" in w]
    assert "signal9-dev-alarms has no subscribers" in warning
    assert "signal9:alarmEmails[0]" in warning


def alarm_inputs(run: ProgramRun, suffix: str) -> dict[str, Any]:
    (alarm,) = [a.inputs for a in run.of_type(ALARM) if a.inputs["name"].endswith(suffix)]
    return alarm


def test_freshness_alarms_watch_the_collectors_own_gauges(prod: ProgramRun) -> None:
    lag = alarm_inputs(prod, "-news-lag")
    assert (lag["namespace"], lag["metricName"]) == ("Signal9", "NewsWatermarkLagMinutes")
    assert lag["dimensions"] == {"service": "SyncNewsSentiment", "stage": "prod"}
    # Six hours behind for two hourly runs in a row; Sunday has no runs, hence no datapoints, hence no alarm.
    assert (lag["statistic"], lag["threshold"], lag["period"], lag["evaluationPeriods"]) == ("Maximum", 360, 3600, 2)
    overdue = alarm_inputs(prod, "-earnings-overdue")  # evaluated over synthetic weeks: test_freshness_alarms.py
    (gauge,) = [q["metric"] for q in overdue["metricQueries"] if not q["returnData"]]
    assert (gauge["metricName"], gauge["dimensions"]["service"]) == (
        "OldestUnprocessedReportDays",
        "TriggerEarningsPollenation",
    )
    assert (overdue["comparisonOperator"], overdue["threshold"]) == ("GreaterThanThreshold", 5)
    unpublished = alarm_inputs(prod, "-earnings-unpublished")
    assert (unpublished["metricName"], unpublished["dimensions"]["service"]) == (
        "EarningsUnpublished",
        "MarkEarningsProcessed",
    )
    assert (unpublished["comparisonOperator"], unpublished["threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_the_dashboard_graphs_every_freshness_gauge(dev: ProgramRun) -> None:
    (resource,) = dev.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(resource.plain_inputs["dashboardBody"])["widgets"]
    graphed = {
        (row[1], row[3])
        for w in widgets
        if w["properties"].get("title", "").startswith("Freshness")
        for row in w["properties"]["metrics"]
        if row[0] == "Signal9"
    }
    expected = {(m.value, source) for m, sources in telemetry.FRESHNESS_SOURCES.items() for source in sources}
    assert expected <= graphed and ("PollenationsRecorded", "PollenateAsset") in graphed
