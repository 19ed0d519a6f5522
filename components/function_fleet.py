"""The FunctionFleet component: every catalog function with its role, dead-letter queue and async config.

Per catalog function, with no per-function code:

- an IAM role Lambda may assume and ONE inline ``RolePolicy`` granting exactly the contract's
  access matrix (``signal9.iam.access_policy``; no managed policies);
- an encrypted SQS dead-letter queue keeping failed events 14 days, refusing requests without
  TLS (its policy is written here, or by EventRoutes for a queue an event rule feeds);
- the Lambda function: the declared runtime and architecture (``signal9.runtime``), code packaged
  from ``functions/`` (``components.packaging``), the handlers' packages from HandlerLayer, JSON
  logs into the log group FunctionLogs made, and an environment naming only what the function may
  touch;
- its asynchronous invocation config (retries and event age chosen deliberately).

Schedules, EventRoutes, Observability and ``signal9 local`` use ``functions``,
``dead_letter_queues`` and ``roles`` (dicts by catalog function name).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws

from components import packaging
from components.delivery import aws_name, permissions_boundary_arn, pin_role_policies, queue_policy_json
from functions.shared import env, telemetry
from signal9 import catalog, iam, runtime
from signal9.catalog import ASYNC_MAXIMUM_EVENT_AGE_SECONDS, ASYNC_MAXIMUM_RETRY_ATTEMPTS
from signal9.config import StackConfig
from signal9.naming import Naming, component_tags

# SQS keeps a message at most 14 days; keep failures as long as possible for inspection and replay.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 60 * 60
# AWS name limits (Lambda function and IAM role names: 64 characters; SQS queue names: 80).
FUNCTION_NAME_LIMIT = 64
ROLE_NAME_LIMIT = 64
QUEUE_NAME_LIMIT = 80
# The DLQs an event rule dead-letters to: EventRoutes writes their policies (with the rule's grant).
RULE_FED_QUEUES = frozenset(event.consumer for event in catalog.EVENTS)
ROLE_POLICY_NAME = "signal9-least-privilege"


class _TableOutputs(Protocol):
    arns: dict[str, pulumi.Output[str]]
    names: dict[str, pulumi.Output[str]]


class _SecretOutputs(Protocol):
    arns: dict[str, pulumi.Output[str]]


class _EventBusOutputs(Protocol):
    name: pulumi.Output[str]
    arn: pulumi.Output[str]


class _LogOutputs(Protocol):
    log_groups: dict[str, aws.cloudwatch.LogGroup]


def environment_variables(
    function: catalog.Function,
    naming: Naming,
    stack_config: StackConfig,
    *,
    table_names: Mapping[str, pulumi.Input[str]],
    secret_arns: Mapping[str, pulumi.Input[str]],
    event_bus_name: pulumi.Input[str],
) -> dict[str, pulumi.Input[str]]:
    """Only what the function needs: its tables, its secret's ARN, the bus if it emits, its settings."""
    variables: dict[str, pulumi.Input[str]] = {env.STAGE: naming.stack}
    for table in function.tables:
        variables[env.table_variable(table)] = table_names[table]
    if function.secret:
        # The ARN, never the value: the handler fetches the secret at run time.
        variables[env.secret_variable(function.secret)] = secret_arns[function.secret]
    if function.emits:
        variables[env.EVENT_BUS_NAME] = event_bus_name
    for setting in function.settings:
        variables[env.setting_variable(setting)] = str(getattr(stack_config, setting))
    variables.update(
        {
            telemetry.SERVICE_VARIABLE: function.name,
            telemetry.NAMESPACE_VARIABLE: telemetry.NAMESPACE,
            # docs/contract.md: AWS SDK calls in standard retry mode (3 attempts in total).
            "AWS_RETRY_MODE": "standard",
            "AWS_MAX_ATTEMPTS": "3",
        }
    )
    return variables


def _policy_json(function: catalog.Function, arns: dict[str, Any]) -> str:
    return json.dumps(iam.access_policy(function, iam.FunctionResources(**arns)))


class FunctionFleet(pulumi.ComponentResource):
    """The seven catalog functions; ``functions``/``dead_letter_queues``/``roles`` by catalog name."""

    functions: dict[str, aws.lambda_.Function]
    dead_letter_queues: dict[str, aws.sqs.Queue]
    roles: dict[str, aws.iam.Role]
    role_policies: dict[str, aws.iam.RolePolicy]
    invoke_configs: dict[str, aws.lambda_.FunctionEventInvokeConfig]
    queue_policies: dict[str, aws.sqs.QueuePolicy]

    def __init__(
        self,
        name: str,
        naming: Naming,
        stack_config: StackConfig,
        *,
        tables: _TableOutputs,
        secrets: _SecretOutputs,
        event_bus: _EventBusOutputs,
        logs: _LogOutputs,
        layer_arn: pulumi.Input[str],
        key_arn: pulumi.Output[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:FunctionFleet", name, None, opts)
        self.functions = {}
        self.dead_letter_queues = {}
        self.roles = {}
        self.role_policies = {}
        self.invoke_configs = {}
        self.queue_policies = {}
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        declared = runtime.declared()
        boundary = permissions_boundary_arn(naming, self)

        for function in catalog.FUNCTIONS:
            child = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
            log_group = logs.log_groups[function.name]

            queue = aws.sqs.Queue(
                f"{function.name}-dlq",
                name=aws_name("SQS queue", naming.dead_letter_queue(function.name), QUEUE_NAME_LIMIT),
                # The stack key when the stack has one for its data, else SQS managed keys
                # (AWS accepts one or the other, not both).
                sqs_managed_sse_enabled=None if key_arn else True,
                kms_master_key_id=key_arn,
                message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
                tags=component_tags("functions"),
                opts=child,
            )
            if function.name not in RULE_FED_QUEUES:
                # TLS only; Lambda and Scheduler send with the identity policies, which need no grant here.
                self.queue_policies[function.name] = aws.sqs.QueuePolicy(
                    f"{function.name}-dlq-policy",
                    queue_url=queue.url,
                    policy=queue.arn.apply(queue_policy_json),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            role = aws.iam.Role(
                f"{function.name}-role",
                name=aws_name("IAM role", naming.role(function.name), ROLE_NAME_LIMIT),
                description=f"Signal9 {naming.stack}: {function.name} Lambda execution role (least privilege)",
                assume_role_policy=json.dumps(iam.lambda_trust_policy()),
                permissions_boundary=boundary,
                tags=component_tags("functions"),
                opts=child,
            )
            policy_document = pulumi.Output.all(
                tables={t: tables.arns[t] for t in function.tables},
                secret=secrets.arns[function.secret] if function.secret else None,
                event_bus=event_bus.arn if function.emits else None,
                dead_letter_queue=queue.arn,
                log_group=log_group.arn,
                key=key_arn,
                region=region,
            ).apply(functools.partial(_policy_json, function))
            role_policy = aws.iam.RolePolicy(
                f"{function.name}-role-policy",
                name=ROLE_POLICY_NAME,
                role=role.id,
                policy=policy_document,
                opts=child,
            )
            pin_role_policies(function.name, role, [role_policy], parent=self)
            lambda_function = aws.lambda_.Function(
                f"{function.name}-function",
                name=aws_name("Lambda function", naming.function(function.name), FUNCTION_NAME_LIMIT),
                description=function.description,
                runtime=declared.runtime,
                architectures=[declared.architecture],
                handler=packaging.handler(function),
                code=packaging.archive(function),
                memory_size=stack_config.memory_mb(function),
                # Caps the fleet for the AlphaVantage plan (docs/collectors.md); None leaves it unreserved.
                reserved_concurrent_executions=stack_config.reserved_concurrency(function),
                timeout=stack_config.timeout_seconds(function),
                role=role.arn,
                layers=[layer_arn],
                # Active X-Ray tracing (FSBP Lambda.7): the role may write traces (signal9.iam).
                tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
                # None: Lambda's AWS owned key for the environment variables.
                kms_key_arn=key_arn,
                # Lambda's async DLQ receives the original event, which `signal9 dlq replay`
                # re-delivers as is (sending needs sqs:SendMessage on the role, granted above).
                dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=queue.arn),
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                    log_format="JSON",
                    application_log_level="INFO",
                    # INFO keeps Lambda's platform.report lines (duration, memory), which the
                    # saved "slowest invocations" query and the runbooks read.
                    system_log_level="INFO",
                    log_group=log_group.name,
                ),
                environment=aws.lambda_.FunctionEnvironmentArgs(
                    variables=environment_variables(
                        function,
                        naming,
                        stack_config,
                        table_names=tables.names,
                        secret_arns=secrets.arns,
                        event_bus_name=event_bus.name,
                    )
                ),
                tags=component_tags("functions"),
                # The policy must be in place before the first invocation, and the log group must
                # exist first or Lambda would create it itself, with no retention.
                opts=pulumi.ResourceOptions(
                    parent=self, delete_before_replace=True, depends_on=[role_policy, log_group]
                ),
            )
            invoke_config = aws.lambda_.FunctionEventInvokeConfig(
                f"{function.name}-async-config",
                function_name=lambda_function.name,
                maximum_retry_attempts=ASYNC_MAXIMUM_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=ASYNC_MAXIMUM_EVENT_AGE_SECONDS,
                # No on-failure destination: the function's dead_letter_config already sends every
                # discarded event (retries exhausted or too old) to its DLQ. AWS delivers to BOTH
                # when both are set, so an SQS destination on the same queue would add a second,
                # differently shaped message (an invocation record) per failure, which a replay
                # would then re-deliver as if it were an event.
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.functions[function.name] = lambda_function
            self.dead_letter_queues[function.name] = queue
            self.roles[function.name] = role
            self.role_policies[function.name] = role_policy
            self.invoke_configs[function.name] = invoke_config

        self.names = {fn: f.name for fn, f in self.functions.items()}
        self.arns = {fn: f.arn for fn, f in self.functions.items()}
        self.register_outputs(
            {
                "functionNames": self.names,
                "functionArns": self.arns,
                "deadLetterQueueArns": {fn: q.arn for fn, q in self.dead_letter_queues.items()},
                "roleArns": {fn: r.arn for fn, r in self.roles.items()},
            }
        )
