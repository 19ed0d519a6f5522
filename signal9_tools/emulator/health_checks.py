"""The smoke's health checks: the deployed configuration read back from moto, and the handlers' logs.

The configuration is checked by ``signal9 verify``'s own checks (signal9_tools/verify.py: tables,
functions, schedules, event routes, queues and topic, alarms, log groups, dashboard, secrets, the
stack key), run on the emulated stack and reported as ``verify: <check>``; here only what verify
cannot read (secret values, the emulator's record of saved queries). After the handlers ran,
every log line they wrote is structured.
"""

from __future__ import annotations

import json

from signal9 import catalog
from signal9_tools import verify
from signal9_tools.emulator.report import expect
from signal9_tools.emulator.smoke import Smoke


def check_health(smoke: Smoke) -> None:
    """`signal9 verify`'s checks on the emulated stack (the same functions), then what only the emulator can read."""
    report, plan = smoke.report, smoke.plan
    stack = verify.Stack(plan, smoke.config, smoke.client)
    for name, check in verify.CHECKS.items():

        def shared(check: verify.Check = check) -> str:
            results = check(stack)
            expect(all(r.ok for r in results), verify.summary(results))
            return verify.summary(results)

        report.run(f"verify: {name}", shared)

    def secrets() -> str:
        # The values themselves (verify reads only what DescribeSecret shows).
        client = smoke.client("secretsmanager")
        for secret in catalog.SECRETS:
            value = json.loads(client.get_secret_value(SecretId=smoke.naming.secret(secret.name))["SecretString"])
            expect(set(value) == set(secret.fields), f"{secret.name} fields {sorted(value)}")
        return f"{len(catalog.SECRETS)} secrets readable with fields as the catalog"

    def saved_queries() -> str:
        # moto has no query definitions: the emulator's record of them (provisioner.py).
        groups = {smoke.naming.log_group(f.name) for f in catalog.FUNCTIONS}
        queries = smoke.query_definitions
        planned = len(plan.of_type("aws:cloudwatch/queryDefinition:QueryDefinition"))
        expect(len(queries) == planned, f"{len(queries)} saved queries, the plan has {planned}")
        expect(all(set(q["logGroupNames"]) == groups for q in queries.values()), "a saved query misses a log group")
        return f"{len(queries)} saved queries over every function's log group (emulator's record: moto keeps none)"

    report.run("secrets readable", secrets)
    report.run("saved queries", saved_queries)


def check_logs(smoke: Smoke) -> None:
    def structured() -> str:
        expect(bool(smoke.logs), "handlers logged nothing")
        # EMF metric lines (``_aws``) are metrics, not log records.
        records = [r for r in map(json.loads, smoke.logs) if "_aws" not in r]
        with_correlation = [r for r in records if r.get("correlation_id")]
        expect(len(with_correlation) == len(records), "a log line has no correlation id")
        return f"{len(records)} handler log lines, all JSON with a correlation id"

    smoke.report.run("handler logs are structured", structured)
