"""The smoke's health checks: the deployed configuration read back from moto, and the handlers' logs.

Tables, functions, schedules, rules, secrets, log groups, the dashboard and alarms as the
catalog, the stack config and the program say; after the handlers ran, every log line they
wrote is structured.
"""

from __future__ import annotations

import json

from signal9 import catalog
from signal9_tools.emulator.report import expect
from signal9_tools.emulator.smoke import Smoke


def check_health(smoke: Smoke) -> None:
    report, plan, config = smoke.report, smoke.plan, smoke.config
    dynamodb = smoke.client("dynamodb")

    def tables() -> str:
        for table in catalog.TABLES:
            name = smoke.naming.table(table.name)
            description = dynamodb.describe_table(TableName=name)["Table"]
            expect(description["TableStatus"] == "ACTIVE", f"{name} is {description['TableStatus']}")
            indexes = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
            expect(indexes == {i.name for i in table.indexes}, f"{name} indexes {sorted(indexes)}")
            backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            expect(
                backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED",
                f"{name} has no PITR",
            )
            expect(
                description.get("DeletionProtectionEnabled", False) == config.protection.deletionProtection,
                f"{name} deletion protection",
            )
        return f"{len(catalog.TABLES)} tables ACTIVE, PITR on, indexes as the catalog"

    def functions() -> str:
        lambda_ = smoke.client("lambda")
        problems: list[str] = []  # every function is checked: one report names all that differ
        for function in catalog.FUNCTIONS:
            deployed = smoke.configuration(smoke.naming.function(function.name))
            (planned,) = [
                r.plain_inputs
                for r in plan.of_type("aws:lambda/function:Function")
                if r.inputs["name"] == deployed["FunctionName"]
            ]
            async_config = lambda_.get_function_event_invoke_config(FunctionName=deployed["FunctionName"])
            own_queue = smoke.queue_arn(smoke.naming.dead_letter_queue(function.name)).rsplit(":", 1)[-1]
            target = smoke.dead_letter_targets[deployed["FunctionName"]].rsplit(":", 1)[-1]
            for ok, problem in (
                (deployed["MemorySize"] == config.memory_mb(function), f"memory {deployed['MemorySize']}"),
                (deployed["Timeout"] == config.timeout_seconds(function), f"timeout {deployed['Timeout']}"),
                (deployed["Architectures"] == ["arm64"], f"architectures {deployed['Architectures']}"),
                (deployed["Runtime"] == planned["runtime"], f"runtime {deployed['Runtime']}"),
                (
                    deployed["Environment"]["Variables"] == planned["environment"]["variables"],
                    "environment differs from the program's",
                ),
                (
                    async_config["MaximumRetryAttempts"] == catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS,
                    f"async retries {async_config['MaximumRetryAttempts']}, the catalog says "
                    f"{catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS}",
                ),
                (
                    async_config.get("MaximumEventAgeInSeconds") == catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS,
                    f"async event age {async_config.get('MaximumEventAgeInSeconds')} s, the catalog says "
                    f"{catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s",
                ),
                (target == own_queue, f"dead-letter target {target}, not its own {own_queue}"),
            ):
                if not ok:
                    problems.append(f"{function.name} {problem}")
        expect(not problems, "; ".join(problems))
        return (
            f"{len(catalog.FUNCTIONS)} functions: memory and timeout as catalog/stack, arm64, runtime and env as the "
            f"program; async retries {catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS} and event age "
            f"{catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s as the catalog; dead-letter target its own DLQ "
            "(emulator's record: moto keeps none)"
        )

    def schedules() -> str:
        scheduler = smoke.client("scheduler")
        for function in catalog.scheduled_functions():
            trigger = catalog.schedule_trigger(function)
            schedule = scheduler.get_schedule(
                Name=smoke.naming.schedule(trigger.schedule), GroupName=smoke.naming.schedule_group
            )
            expected_state = "ENABLED" if config.schedule_enabled(function) else "DISABLED"
            expect(schedule["State"] == expected_state, f"{trigger.schedule} is {schedule['State']}")
            expect(schedule["ScheduleExpressionTimezone"] == config.timezone, f"{trigger.schedule} timezone")
            expect(
                schedule["ScheduleExpression"] == config.schedule_expression(function), f"{trigger.schedule} expression"
            )
        return (
            f"{len(catalog.scheduled_functions())} schedules in {config.timezone}, states and expressions as configured"
        )

    def rules() -> str:
        events = smoke.client("events")
        for event in catalog.EVENTS:
            rule = events.describe_rule(Name=smoke.naming.rule(event.detail_type), EventBusName=smoke.naming.event_bus)
            # The provisioner creates each rule in the state the program asked for.
            expect(rule["State"] == "ENABLED", f"rule {rule['Name']} is {rule['State']} as deployed")
            expect(
                smoke.lambda_target(rule["Name"]).endswith(f":function:{smoke.naming.function(event.consumer)}"),
                f"{rule['Name']} target",
            )
        archives = events.list_archives(EventSourceArn=events.describe_event_bus(Name=smoke.naming.event_bus)["Arn"])[
            "Archives"
        ]
        expect(len(archives) == 1, "the bus has no archive")
        return (
            f"{len(catalog.EVENTS)} rules ENABLED as deployed on {smoke.naming.event_bus}, targets as the catalog; "
            "archive present"
        )

    def secrets() -> str:
        client = smoke.client("secretsmanager")
        for secret in catalog.SECRETS:
            value = json.loads(client.get_secret_value(SecretId=smoke.naming.secret(secret.name))["SecretString"])
            expect(set(value) == set(secret.fields), f"{secret.name} fields {sorted(value)}")
        return f"{len(catalog.SECRETS)} secrets readable with fields as the catalog"

    def log_groups() -> str:
        for function in catalog.FUNCTIONS:
            group = smoke.log_group(function.name)
            expect(
                group.get("retentionInDays") == config.logRetentionDays,
                f"{group['logGroupName']} retention {group.get('retentionInDays')}",
            )
        return f"{len(catalog.FUNCTIONS)} log groups, retention {config.logRetentionDays} days"

    def monitoring() -> str:
        cloudwatch = smoke.client("cloudwatch")
        body = json.loads(cloudwatch.get_dashboard(DashboardName=smoke.naming.prefix)["DashboardBody"])
        alarms = cloudwatch.describe_alarms(AlarmNamePrefix=smoke.naming.prefix)["MetricAlarms"]
        planned = len(plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
        expect(len(alarms) == planned, f"{len(alarms)} alarms, expected {planned}")
        groups = {smoke.naming.log_group(f.name) for f in catalog.FUNCTIONS}
        queries = smoke.query_definitions
        expect(
            len(queries) == len(plan.of_type("aws:cloudwatch/queryDefinition:QueryDefinition")), "saved queries missing"
        )
        expect(all(set(q["logGroupNames"]) == groups for q in queries.values()), "a saved query misses a log group")
        return f"dashboard with {len(body['widgets'])} widgets; {len(alarms)} alarms; {len(queries)} saved queries"

    for name, body in [
        ("tables healthy", tables),
        ("functions configured", functions),
        ("schedules enabled", schedules),
        ("event rules enabled", rules),
        ("secrets readable", secrets),
        ("log groups retained", log_groups),
        ("dashboard and alarms", monitoring),
    ]:
        report.run(name, body)


def check_logs(smoke: Smoke) -> None:
    def structured() -> str:
        expect(bool(smoke.logs), "handlers logged nothing")
        # EMF metric lines (``_aws``) are metrics, not log records.
        records = [r for r in map(json.loads, smoke.logs) if "_aws" not in r]
        with_correlation = [r for r in records if r.get("correlation_id")]
        expect(len(with_correlation) == len(records), "a log line has no correlation id")
        return f"{len(records)} handler log lines, all JSON with a correlation id"

    smoke.report.run("handler logs are structured", structured)
