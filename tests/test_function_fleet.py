"""FunctionFleet under Pulumi mocks, the access matrix (signal9.iam) and the packaging of functions/."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import packaging
from components.function_fleet import ROLE_POLICY_NAME
from functions.shared import env
from signal9 import catalog, config, iam, policy_rules
from signal9.config import StackConfig
from signal9.naming import Naming
from signal9.stackfile import read_stack_config
from signal9_tools.identifiers import mock_state
from signal9_tools.mockrun import ProgramRun, Resource, run_program
from tests.spec_matrix import SPEC_ACCESS, TABLES_WITH_INDEXES

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
INLINE_POLICIES_EXCLUSIVE = "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive"
ATTACHMENTS_EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TABLE = "aws:dynamodb/table:Table"
SECRET = "aws:secretsmanager/secret:Secret"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
MANAGED_POLICY_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/roleManagedPolicies:RoleManagedPolicies",
    "aws:iam/policy:Policy",
)
LAYER_VERSION = "aws:lambda/layerVersion:LayerVersion"
FOURTEEN_DAYS = 14 * 24 * 3600


def stack_config(run: ProgramRun) -> StackConfig:
    return config.parse(config.namespace_values(read_stack_config(run.stack)), run.stack)


def by_physical_name(run: ProgramRun, typ: str) -> dict[str, Resource]:
    return {r.plain_inputs["name"]: r for r in run.of_type(typ)}


def arn_of(run: ProgramRun, resource: Resource) -> str:
    """The ARN the (mocked) provider reports for a recorded resource."""
    arn: str = mock_state(resource.type, resource.name, resource.plain_inputs, run.region)[1]["arn"]
    return arn


def fleet_function(run: ProgramRun, function: catalog.Function) -> Resource:
    return by_physical_name(run, FUNCTION)[Naming(run.stack).function(function.name)]


def variables(resource: Resource) -> dict[str, str]:
    values: dict[str, str] = resource.plain_inputs["environment"]["variables"]
    return values


def handler_layer_arn(run: ProgramRun) -> str:
    (layer,) = run.of_type(LAYER_VERSION)
    return arn_of(run, layer)


# ---------------------------------------------------------------------------- functions


def test_seven_functions_with_catalog_sizes_and_the_stacks_overrides(plans: dict[str, ProgramRun]) -> None:
    assert len(catalog.FUNCTIONS) == 7
    for run in plans.values():
        settings = stack_config(run)
        functions = by_physical_name(run, FUNCTION)
        assert set(functions) == {Naming(run.stack).function(f.name) for f in catalog.FUNCTIONS}
        for function in catalog.FUNCTIONS:
            override = settings.functions.get(function.name)
            inputs = fleet_function(run, function).plain_inputs
            assert inputs["memorySize"] == (override.memoryMb if override and override.memoryMb else function.memory_mb)
            assert inputs["timeout"] == (
                override.timeoutSeconds if override and override.timeoutSeconds else function.timeout_seconds
            )


def test_dev_runs_the_catalog_defaults(dev: ProgramRun) -> None:
    for function in catalog.FUNCTIONS:
        inputs = fleet_function(dev, function).plain_inputs
        assert (inputs["memorySize"], inputs["timeout"]) == (function.memory_mb, function.timeout_seconds)


def test_prod_stack_file_override_reaches_pollenate_asset(prod: ProgramRun) -> None:
    override = stack_config(prod).functions["PollenateAsset"]
    inputs = fleet_function(prod, catalog.function("PollenateAsset")).plain_inputs
    assert (inputs["memorySize"], inputs["timeout"]) == (override.memoryMb, override.timeoutSeconds)


@pytest.fixture(scope="module")
def tuned() -> ProgramRun:
    """Dev with operator tuning: other sizes, batch size and region."""
    values = read_stack_config("dev")
    functions = json.loads(values.get("signal9:functions", "{}"))
    functions["SyncAssets"] = {"memoryMb": 2048, "timeoutSeconds": 900}
    functions["MarkEarningsProcessed"] = {"memoryMb": 192}
    values["signal9:functions"] = json.dumps(functions)
    values["signal9:regularPollenationBatchSize"] = "250"
    values["signal9:alphaVantage"] = json.dumps({"pollenationConcurrency": None, "requestsPerMinute": 150})
    values["aws:region"] = "eu-west-1"
    return run_program("dev", config=values)


def test_custom_override_changes_only_the_tuned_values(tuned: ProgramRun, dev: ProgramRun) -> None:
    sync_assets = fleet_function(tuned, catalog.function("SyncAssets")).plain_inputs
    assert (sync_assets["memorySize"], sync_assets["timeout"]) == (2048, 900)
    mark = fleet_function(tuned, catalog.function("MarkEarningsProcessed")).plain_inputs
    assert (mark["memorySize"], mark["timeout"]) == (192, catalog.function("MarkEarningsProcessed").timeout_seconds)
    for function in catalog.FUNCTIONS:
        if function.name in ("SyncAssets", "MarkEarningsProcessed"):
            continue
        tuned_inputs = fleet_function(tuned, function).plain_inputs
        dev_inputs = fleet_function(dev, function).plain_inputs
        assert (tuned_inputs["memorySize"], tuned_inputs["timeout"]) == (
            dev_inputs["memorySize"],
            dev_inputs["timeout"],
        )
    trigger = fleet_function(tuned, catalog.function("TriggerRegularPollenation"))
    assert variables(trigger)[env.setting_variable("regularPollenationBatchSize")] == "250"


def test_arm64_python313_and_the_stacks_own_handler_layer(plans: dict[str, ProgramRun], tuned: ProgramRun) -> None:
    for run in [*plans.values(), tuned]:
        for function in catalog.FUNCTIONS:
            inputs = fleet_function(run, function).plain_inputs
            assert inputs["runtime"] == "python3.13"
            assert inputs["architectures"] == ["arm64"]
            assert inputs["layers"] == [handler_layer_arn(run)]
            assert inputs["handler"] == f"functions.{function.package}.handler.handler"
            assert inputs["description"] == function.description
    assert tuned.region == "eu-west-1"


def test_json_logs_into_its_own_log_group_created_first(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        groups = {r.name: r.plain_inputs["name"] for r in run.of_type(LOG_GROUP)}
        for function in catalog.FUNCTIONS:
            resource = fleet_function(run, function)
            logging = resource.plain_inputs["loggingConfig"]
            assert logging == {
                "logFormat": "JSON",
                "applicationLogLevel": "INFO",
                "systemLogLevel": "INFO",
                "logGroup": Naming(run.stack).log_group(function.name),
            }
            # The log group (FunctionLogs) and the role's policy exist before the function does.
            log_group = f"{function.name}-log-group"
            assert groups[log_group] == logging["logGroup"]
            assert {log_group, f"{function.name}-role-policy"} <= set(resource.dependencies)


def test_each_role_keeps_exactly_its_one_policy_in_aws(dev: ProgramRun) -> None:
    for function in catalog.FUNCTIONS:
        role = Naming("dev").role(function.name)
        assert dev.named(f"{function.name}-inline-policies").inputs == {
            "roleName": role,
            "policyNames": [ROLE_POLICY_NAME],
        }
        assert dev.named(f"{function.name}-managed-policies").inputs == {"roleName": role, "policyArns": []}


def test_fleet_resources_are_children_tagged_and_replaced_safely(dev: ProgramRun) -> None:
    fleet = dev.named("functions")
    assert fleet.type == "signal9:index:FunctionFleet"
    children = dev.children("functions")
    # The queue policy of a DLQ an event rule feeds is EventRoutes' (tests/test_events.py).
    unfed = [f for f in catalog.FUNCTIONS if f.name not in {e.consumer for e in catalog.EVENTS}]
    assert sorted(r.type for r in children) == sorted(
        [FUNCTION, ROLE, ROLE_POLICY, QUEUE, INVOKE_CONFIG, INLINE_POLICIES_EXCLUSIVE, ATTACHMENTS_EXCLUSIVE]
        * len(catalog.FUNCTIONS)
        + [QUEUE_POLICY] * len(unfed)
    )
    for resource in children:
        if resource.type in (FUNCTION, ROLE, QUEUE):
            assert resource.plain_inputs["tags"] == {"Component": "functions"}
        if resource.type not in (INVOKE_CONFIG, INLINE_POLICIES_EXCLUSIVE, ATTACHMENTS_EXCLUSIVE, QUEUE_POLICY):
            # Explicit physical names: a replacement must delete the old resource first.
            assert resource.delete_before_replace, resource.name


# ---------------------------------------------------------------------------- environment


def expected_variables(run: ProgramRun, function: catalog.Function) -> dict[str, str]:
    """The matrix's environment, derived independently from the catalog and the plan."""
    naming = Naming(run.stack)
    expected = {
        env.STAGE: run.stack,
        "POWERTOOLS_SERVICE_NAME": function.name,
        "POWERTOOLS_METRICS_NAMESPACE": "Signal9",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "3",
    }
    expected.update({env.table_variable(t): naming.table(t) for t in (*function.reads, *function.writes)})
    if function.secret:
        secret = by_physical_name(run, SECRET)[naming.secret(function.secret)]
        expected[env.secret_variable(function.secret)] = arn_of(run, secret)
    if function.emits:
        expected[env.EVENT_BUS_NAME] = naming.event_bus
    settings = stack_config(run)
    expected.update({env.setting_variable(s): str(getattr(settings, s)) for s in function.settings})
    return expected


def test_environment_names_only_the_resources_in_the_matrix(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        for function in catalog.FUNCTIONS:
            assert variables(fleet_function(run, function)) == expected_variables(run, function)


def test_secret_variables_carry_arns_never_values(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        for function in catalog.FUNCTIONS:
            for name, value in variables(fleet_function(run, function)).items():
                if "SECRET" in name:
                    assert value.startswith(f"arn:aws:secretsmanager:{run.region}:"), name
                assert "PLACEHOLDER" not in value


def test_every_catalog_setting_is_a_stack_config_key() -> None:
    for function in catalog.FUNCTIONS:
        for setting in function.settings:
            # A key of the stack file, or a value the config derives from its keys.
            derived = isinstance(getattr(StackConfig, setting, None), property)
            assert setting in StackConfig.model_fields or derived, (function.name, setting)
    assert catalog.function("TriggerRegularPollenation").settings == ("regularPollenationBatchSize",)


def test_pollenate_asset_reserves_the_configured_concurrency_and_gets_its_pacing_interval(
    plans: dict[str, ProgramRun], tuned: ProgramRun
) -> None:
    interval = env.setting_variable("pollenationRequestIntervalSeconds")
    for run in plans.values():
        plan = stack_config(run).alphaVantage
        for function in catalog.FUNCTIONS:
            inputs = fleet_function(run, function).plain_inputs
            if function.name == "PollenateAsset":
                assert inputs["reservedConcurrentExecutions"] == plan.pollenationConcurrency == 5
                # 5 environments * 60 s / (75 - 5 headroom - 5 boundary slack) requests per minute
                assert float(variables(fleet_function(run, function))[interval]) == pytest.approx(300 / 65)
            else:
                assert "reservedConcurrentExecutions" not in inputs, function.name
                assert interval not in variables(fleet_function(run, function)), function.name
    # pollenationConcurrency: null reserves nothing; pacing then assumes a new account's 10.
    pollenate = fleet_function(tuned, catalog.function("PollenateAsset"))
    assert "reservedConcurrentExecutions" not in pollenate.plain_inputs
    assert float(variables(pollenate)[interval]) == pytest.approx(10 * 60 / (150 - 5 - 10))


# ---------------------------------------------------------------------------- IAM


def expected_grants(run: ProgramRun, function: catalog.Function) -> set[tuple[str, str]]:
    """SPEC's access matrix for one function (the literal transcription) as (action, resource) pairs."""
    naming = Naming(run.stack)
    spec = SPEC_ACCESS[function.name]
    tables = {name: arn_of(run, r) for name, r in by_physical_name(run, TABLE).items()}
    pairs = set()
    for table in spec.reads:
        arn = tables[naming.table(table)]
        for action in ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"):
            pairs.add((action, arn))
            if table in TABLES_WITH_INDEXES:
                pairs.add((action, f"{arn}/index/*"))
    for table in spec.writes:
        arn = tables[naming.table(table)]
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
            pairs.add((action, arn))
    if spec.secret:
        secret = by_physical_name(run, SECRET)[naming.secret(spec.secret)]
        pairs.add(("secretsmanager:GetSecretValue", arn_of(run, secret)))
    if spec.emits:
        (bus,) = run.of_type(EVENT_BUS)
        pairs.add(("events:PutEvents", arn_of(run, bus)))
    queue = by_physical_name(run, QUEUE)[naming.dead_letter_queue(function.name)]
    pairs.add(("sqs:SendMessage", arn_of(run, queue)))
    group = arn_of(run, by_physical_name(run, LOG_GROUP)[naming.log_group(function.name)])
    # Both authorised on log streams only: the group's streams, never the bare group ARN.
    pairs.update({("logs:CreateLogStream", f"{group}:*"), ("logs:PutLogEvents", f"{group}:*")})
    # Active tracing: X-Ray has no narrower resource than "*" for these two.
    pairs.update({("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")})
    if run.stack in catalog.CUSTOMER_MANAGED_KEY_STACKS:
        (key,) = run.of_type("aws:kms/key:Key")
        pairs.update({("kms:Decrypt", arn_of(run, key)), ("kms:GenerateDataKey", arn_of(run, key))})
    return pairs


def role_policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """Function role name -> its one policy document."""
    documents: dict[str, dict[str, Any]] = {}
    for resource in run.children("functions"):
        if resource.type != ROLE_POLICY:
            continue
        role = resource.plain_inputs["role"]
        assert role not in documents, f"{role} has more than one policy"
        documents[role] = json.loads(resource.plain_inputs["policy"])
    return documents


def test_each_role_policy_is_exactly_the_access_matrix(plans: dict[str, ProgramRun]) -> None:
    assert set(SPEC_ACCESS) == set(catalog.FUNCTION_NAMES)
    for run in plans.values():
        documents = role_policies(run)
        assert set(documents) == {Naming(run.stack).role(f.name) for f in catalog.FUNCTIONS}
        for function in catalog.FUNCTIONS:
            document = documents[Naming(run.stack).role(function.name)]
            assert iam.grants(document) == expected_grants(run, function), function.name
            sids = [s["Sid"] for s in document["Statement"]]
            assert len(sids) == len(set(sids)) and all(sid.isalnum() for sid in sids)
            for statement in document["Statement"]:
                assert statement["Effect"] == "Allow"
                assert not {"NotAction", "NotResource"} & set(statement)
                assert all("*" not in action for action in statement["Action"])
                # "*" only for the X-Ray actions; a condition only on the stack key.
                assert ("*" in statement["Resource"]) == (statement["Sid"] == "WriteTraces")
                assert ("Condition" in statement) == (statement["Sid"] == "UseStackKeyViaServices")


def test_roles_trust_only_lambda_and_carry_no_managed_or_inline_policies(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        assert not [r.name for r in run.resources if r.type in MANAGED_POLICY_TYPES]
        roles = by_physical_name(run, ROLE)
        for function in catalog.FUNCTIONS:
            role = roles[Naming(run.stack).role(function.name)]
            assert not role.plain_inputs.get("managedPolicyArns")
            assert not role.plain_inputs.get("inlinePolicies")
            trust = json.loads(role.plain_inputs["assumeRolePolicy"])
            assert [(s["Principal"], s["Action"]) for s in trust["Statement"]] == [
                ({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")
            ]
            function_role = fleet_function(run, function).plain_inputs["role"]
            assert function_role == arn_of(run, role)


def test_fleet_passes_every_policy_rule(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        fleet = {r.name for r in run.children("functions")}
        violations = policy_rules.evaluate(run.to_json()["resources"])
        assert [v for v in violations if v.resource in fleet] == []


def test_access_policy_refuses_missing_arns() -> None:
    function = catalog.function("PollenateAsset")
    base = iam.FunctionResources(
        dead_letter_queue="arn:aws:sqs:us-east-1:1:q",
        log_group="arn:aws:logs:us-east-1:1:log-group:g",
        tables={t: f"arn:aws:dynamodb:us-east-1:1:table/{t}" for t in function.tables},
        secret="arn:aws:secretsmanager:us-east-1:1:secret:s",
        event_bus="arn:aws:events:us-east-1:1:event-bus/b",
    )
    assert iam.access_policy(function, base)["Statement"]
    for broken, message in (
        ({"secret": None}, "secret"),
        ({"event_bus": None}, "event bus"),
        ({"tables": {}}, "table"),
    ):
        with pytest.raises(ValueError, match=message):
            iam.access_policy(function, iam.FunctionResources(**{**base.__dict__, **broken}))


def test_tables_without_indexes_get_no_index_grant() -> None:
    function = catalog.function("PollenateAsset")
    resources = iam.FunctionResources(
        dead_letter_queue="q",
        log_group="g",
        tables={t: t for t in function.tables},
        secret="s",
        event_bus="b",
    )
    read = next(s for s in iam.access_statements(function, resources) if s["Sid"] == "ReadTables")["Resource"]
    assert read == ["assets", "assets/index/*", *catalog.FOUNDATIONAL_TABLES]


# ---------------------------------------------------------------------------- DLQ and async


def test_one_encrypted_dead_letter_queue_per_function_keeping_14_days(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        queues = by_physical_name(run, QUEUE)
        fleet_queues = {q.name for q in run.children("functions") if q.type == QUEUE}
        assert len(fleet_queues) == len(catalog.FUNCTIONS)
        for function in catalog.FUNCTIONS:
            queue = queues[Naming(run.stack).dead_letter_queue(function.name)]
            assert queue.name in fleet_queues
            if run.stack in catalog.CUSTOMER_MANAGED_KEY_STACKS:
                (key,) = run.of_type("aws:kms/key:Key")
                assert queue.plain_inputs["kmsMasterKeyId"] == arn_of(run, key)
                assert "sqsManagedSseEnabled" not in queue.plain_inputs
            else:
                assert queue.plain_inputs["sqsManagedSseEnabled"] is True
            assert queue.plain_inputs["messageRetentionSeconds"] == FOURTEEN_DAYS
            target = fleet_function(run, function).plain_inputs["deadLetterConfig"]["targetArn"]
            assert target == arn_of(run, queue)


def test_catalog_emits_exactly_what_spec_says() -> None:
    for function in catalog.FUNCTIONS:
        assert set(function.emits) == SPEC_ACCESS[function.name].emits, function.name


def test_async_invocation_retries_twice_then_lands_in_its_own_queue(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        configs = {r.plain_inputs["functionName"]: r.plain_inputs for r in run.of_type(INVOKE_CONFIG)}
        assert set(configs) == {Naming(run.stack).function(f.name) for f in catalog.FUNCTIONS}
        for function in catalog.FUNCTIONS:
            settings = configs[Naming(run.stack).function(function.name)]
            # Decided in the fleet's comments: two retries, then an hour at most (AWS allows 0-2, 60-21600 s).
            assert settings["maximumRetryAttempts"] == 2
            assert settings["maximumEventAgeInSeconds"] == 3600
            # Discarded events reach the function's own DLQ through its dead_letter_config; an
            # on-failure destination as well would put a second, differently shaped record there.
            assert "destinationConfig" not in settings
            queue = by_physical_name(run, QUEUE)[Naming(run.stack).dead_letter_queue(function.name)]
            assert fleet_function(run, function).plain_inputs["deadLetterConfig"] == {"targetArn": arn_of(run, queue)}


# ---------------------------------------------------------------------------- packaging


def archive_of(resource: Resource) -> dict[str, Path]:
    code = resource.inputs["code"]
    assert isinstance(code, pulumi.AssetArchive)
    assets: dict[str, Any] = code.assets
    assert all(isinstance(a, pulumi.FileAsset) for a in assets.values())
    return {name: Path(asset.path) for name, asset in assets.items()}


def test_each_archive_holds_its_handler_and_shared_code_only(dev: ProgramRun) -> None:
    for function in catalog.FUNCTIONS:
        files = archive_of(fleet_function(dev, function))
        assert f"functions/{function.package}/handler.py" in files
        assert "functions/__init__.py" in files and "functions/shared/env.py" in files
        for name, path in files.items():
            assert path.is_file() and path.resolve() == (packaging.ROOT / name).resolve(), name
            assert "__pycache__" not in name and not name.endswith(".pyc")
            assert name == "functions/__init__.py" or name.startswith(
                ("functions/shared/", f"functions/{function.package}/")
            ), name
        others = {f.package for f in catalog.FUNCTIONS if f is not function}
        assert not {name.split("/")[1] for name in files} & others


def test_archive_paths_are_relative_to_the_project_when_run_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(packaging.ROOT)
    assets = packaging.archive(catalog.function("SyncAssets")).assets
    # What `pulumi up` (run from the project root) stores in state: no machine-specific path.
    assert {name: getattr(asset, "path", None) for name, asset in assets.items()} == {name: name for name in assets}


@pytest.fixture
def source_copy(tmp_path: Path) -> Path:
    shutil.copytree(packaging.ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_changing_one_handler_changes_only_its_archive(source_copy: Path) -> None:
    before = {f.name: packaging.content_hash(f, source_copy) for f in catalog.FUNCTIONS}
    # The hash depends on the archive content only, not on where the checkout lives.
    assert before == {f.name: packaging.content_hash(f) for f in catalog.FUNCTIONS}
    assert len(set(before.values())) == len(catalog.FUNCTIONS)

    changed = catalog.function("MarkEarningsProcessed")
    with (source_copy / packaging.handler_path(changed)).open("a") as handler:
        handler.write("\n# a change to this handler only\n")
    (source_copy / "functions" / changed.package / "__pycache__").mkdir(exist_ok=True)
    (source_copy / "functions" / changed.package / "__pycache__" / "handler.cpython-313.pyc").write_bytes(b"x")
    after = {f.name: packaging.content_hash(f, source_copy) for f in catalog.FUNCTIONS}
    assert {name for name in before if before[name] != after[name]} == {changed.name}

    with (source_copy / "functions" / "shared" / "env.py").open("a") as shared:
        shared.write("\n# shared code goes into every archive\n")
    shared_changed = {f.name: packaging.content_hash(f, source_copy) for f in catalog.FUNCTIONS}
    assert all(shared_changed[name] != after[name] for name in after)


def test_zip_is_deterministic_and_matches_the_archive(dev: ProgramRun, tmp_path: Path) -> None:
    function = catalog.function("PollenateAsset")
    first, second = packaging.zip_bytes(function), packaging.zip_bytes(function)
    assert first == second
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(first)
    with zipfile.ZipFile(bundle) as archive:
        assert sorted(archive.namelist()) == sorted(archive_of(fleet_function(dev, function)))


def test_missing_handler_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "functions" / "shared").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="SyncAssets: handler module"):
        packaging.archive_files(catalog.function("SyncAssets"), tmp_path)


# One interpreter for the seven archives (an interpreter start and the layer's imports cost ~0.5 s
# each): it imports each from its own directory, the previous archive's modules forgotten.
ARCHIVE_IMPORTS = """
import importlib, json, sys
for target, module in json.loads(sys.argv[1]):
    for name in [name for name in sys.modules if name == "functions" or name.startswith("functions.")]:
        del sys.modules[name]
    sys.path.insert(0, target)
    importlib.invalidate_caches()
    import functions
    assert functions.__file__.startswith(target), (target, functions.__file__)
    assert callable(importlib.import_module(module).handler), module
    sys.path.remove(target)
"""


def test_each_archive_imports_on_its_own(tmp_path: Path) -> None:
    """Unzipped alone (plus the layer's packages), every handler module imports: nothing outside functions/."""
    archives: list[tuple[str, str]] = []
    for function in catalog.FUNCTIONS:
        target = tmp_path / function.package
        target.mkdir()
        with zipfile.ZipFile(io.BytesIO(packaging.zip_bytes(function))) as archive:
            archive.extractall(target)
        archives.append((str(target), packaging.handler(function).rsplit(".", 1)[0]))
    result = subprocess.run(
        [sys.executable, "-c", ARCHIVE_IMPORTS, json.dumps(archives)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_plan_json_shows_each_archive_by_project_path(dev: ProgramRun) -> None:
    document = json.loads(json.dumps(dev.to_json()))
    codes = {r["name"]: r["inputs"]["code"] for r in document["resources"] if r["type"] == FUNCTION}
    for function in catalog.FUNCTIONS:
        assets = codes[f"{function.name}-function"]["assets"]
        assert list(assets) == list(packaging.archive_files(function))
        assert all(asset == {"path": name} for name, asset in assets.items())
