"""The deploy-time model: every resource type has a sourced figure, and the critical path is computed right."""

from __future__ import annotations

import pytest

from signal9_tools import deploytime
from signal9_tools.mockrun import ProgramRun, Resource

# Types other work adds to the program; they need a figure before they land.
ANNOUNCED_TYPES = ("aws:kms/key:Key", "aws:kms/alias:Alias", "aws:cloudwatch/eventBusPolicy:EventBusPolicy")
PROVIDER_REF = "urn:pulumi:t::signal9::pulumi:providers:aws::aws::aws-id"


def test_every_registered_type_has_a_sourced_figure(plans: dict[str, ProgramRun]) -> None:
    times = deploytime.create_times()
    registered = {r.type for plan in plans.values() for r in plan.resources if r.custom}
    for typ in sorted(registered | set(ANNOUNCED_TYPES)):
        figure = times.types.get(typ)
        assert figure is not None, f"{typ} has no create time in signal9_tools/create_times.json"
        assert figure.seconds > 0 and figure.basis and figure.source.startswith("https://"), typ
    assert all(not deploytime.model(plan).unknown_types for plan in plans.values())


def resource(
    name: str, typ: str, *, parent: str | None = None, after: tuple[str, ...] = (), custom: bool = True
) -> Resource:
    return Resource(
        type=typ,
        name=name,
        parent=parent,
        inputs={},
        custom=custom,
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        dependencies=after,
        provider=PROVIDER_REF if custom and not typ.startswith("pulumi:providers:") else None,
    )


def test_first_deploy_is_the_longest_chain_through_dependencies_parents_and_the_provider() -> None:
    plan = ProgramRun(stack="t", region="us-east-1")
    plan.resources = [
        resource("aws", "pulumi:providers:aws"),  # 2 s
        resource("fleet", "signal9:index:FunctionFleet", custom=False),
        resource("dlq", "aws:sqs/queue:Queue", parent="fleet"),  # 30 s after the provider
        resource("table", "aws:dynamodb/table:Table"),  # 25 s
        resource("fn", "aws:lambda/function:Function", parent="fleet", after=("dlq", "table")),  # 10 s after dlq
        resource("perm", "aws:lambda/permission:Permission", parent="fn"),  # custom parent: waits for fn
        resource("alarm", "aws:cloudwatch/metricAlarm:MetricAlarm"),  # independent: 2 s after the provider
    ]
    result = deploytime.model(plan)
    assert [s.name for s in result.critical_path] == ["aws", "dlq", "fn", "perm"]
    assert result.first_deploy_seconds == 2 + 30 + 10 + 2
    assert result.steps["alarm"].start == 2 and result.steps["table"].finish == 27
    assert result.no_change_seconds == deploytime.create_times().no_change_seconds


def test_an_unknown_type_costs_the_default_and_is_reported() -> None:
    plan = ProgramRun(stack="t", region="us-east-1")
    plan.resources = [resource("thing", "aws:example/new:Thing")]
    result = deploytime.model(plan)
    assert result.first_deploy_seconds == deploytime.create_times().default.seconds
    assert result.unknown_types == {"aws:example/new:Thing"}
    assert "no sourced figure" in deploytime.render(result)


def test_a_cycle_is_refused() -> None:
    plan = ProgramRun(stack="t", region="us-east-1")
    plan.resources = [
        resource("a", "aws:sqs/queue:Queue", after=("b",)),
        resource("b", "aws:sqs/queue:Queue", after=("a",)),
    ]
    with pytest.raises(ValueError, match="dependency cycle"):
        deploytime.model(plan)


def test_plan_timing_prints_both_figures_and_the_path(prod: ProgramRun) -> None:
    text = deploytime.render(deploytime.model(prod))
    result = deploytime.model(prod)
    assert f"first deploy:       {result.first_deploy_seconds:5.0f} s" in text
    assert "no-change update:" in text and "Pulumi parallelism: unbounded" in text
    assert all(step.name in text for step in result.critical_path)
