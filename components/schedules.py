"""The Schedules component: one EventBridge Scheduler schedule per scheduled catalog function.

All schedules live in the stack's schedule group and run in the stack's timezone
(``signal9:timezone``, America/New_York by default), Monday to Saturday: Sunday is the
maintenance window, enforced when the config is validated (``signal9.cron``). Expressions
and on/off come from the catalog, overridable per stack in ``signal9:schedules``.

Delivery: Scheduler invokes the function asynchronously with the execution role below; a
delivery it cannot make after the retries lands in the function's own DLQ, through the same
role (Scheduler writes to a DLQ with the execution role, so the queue needs no policy for it).
What happens after Lambda accepted the event (handler errors) is the function's async
invoke config, owned by FunctionFleet.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.delivery import FleetOutputs, aws_name, permissions_boundary_arn, pin_role_policies, policy_json
from functions.shared.scheduled import scheduler_input_json
from signal9 import catalog, iam, keys
from signal9.config import StackConfig
from signal9.naming import Naming, component_tags

# AWS limits: schedule, schedule group and IAM role names up to 64 characters.
NAME_LIMIT = 64

# Scheduler retries only failed *deliveries* (throttling, Lambda service errors), never a
# handler error. Three retries is the project-wide ceiling; an hour is the period of the
# most frequent schedule (sync-news-sentiment), so a late retry never competes with the
# next regular run. After that the miss is in the DLQ and the delivery-failure alarm.
MAXIMUM_RETRY_ATTEMPTS = 3
MAXIMUM_EVENT_AGE_SECONDS = 3600


def scheduler_trust_policy(account_id: str, group_arn: str) -> str:
    """Only EventBridge Scheduler, acting for this account's schedule group, may assume the role."""
    return policy_json(
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            # Confused-deputy protection: nobody else's schedules can borrow this role.
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnEquals": {"aws:SourceArn": group_arn},
            },
        }
    )


class Schedules(pulumi.ComponentResource):
    """The schedule group, its execution role and one schedule per catalog schedule name."""

    group: aws.scheduler.ScheduleGroup
    role: aws.iam.Role
    schedules: dict[str, aws.scheduler.Schedule]

    def __init__(
        self,
        name: str,
        naming: Naming,
        stack_config: StackConfig,
        fleet: FleetOutputs,
        key_arn: pulumi.Output[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:Schedules", name, None, opts)
        scheduled = catalog.scheduled_functions()
        named = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region

        self.group = aws.scheduler.ScheduleGroup(
            "schedule-group",
            name=aws_name("schedule group", naming.schedule_group, NAME_LIMIT),
            tags=component_tags("schedules"),
            opts=named,
        )
        self.role = aws.iam.Role(
            "scheduler-role",
            name=aws_name("IAM role", naming.role(keys.SCHEDULER_ROLE), NAME_LIMIT),
            description=f"Signal9 {naming.stack}: EventBridge Scheduler invokes the scheduled functions",
            assume_role_policy=pulumi.Output.all(account_id, self.group.arn).apply(
                lambda parts: scheduler_trust_policy(parts[0], parts[1])
            ),
            permissions_boundary=permissions_boundary_arn(naming, self),
            tags=component_tags("schedules"),
            opts=named,
        )
        functions = [fleet.functions[function.name] for function in scheduled]
        queues = [fleet.dead_letter_queues[function.name] for function in scheduled]
        role_policy = aws.iam.RolePolicy(
            "scheduler-role-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                pulumi.Output.all(*(f.arn for f in functions)),
                pulumi.Output.all(*(q.arn for q in queues)),
                key_arn,
                region,
            ).apply(lambda arns: policy_json(*iam.scheduler_statements(*arns))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        pin_role_policies("scheduler", self.role, [role_policy], parent=self)

        self.schedules = {}
        for function in scheduled:
            trigger = catalog.schedule_trigger(function)
            self.schedules[trigger.schedule] = aws.scheduler.Schedule(
                f"{trigger.schedule}-schedule",
                name=aws_name("schedule", naming.schedule(trigger.schedule), NAME_LIMIT),
                group_name=self.group.name,
                description=f"{function.description} (Monday-Saturday, {stack_config.timezone})",
                schedule_expression=stack_config.schedule_expression(function),
                schedule_expression_timezone=stack_config.timezone,
                # Run at the stated minute: the jobs form a morning chain (05:30, 06:00, 07:00).
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                state="ENABLED" if stack_config.schedule_enabled(function) else "DISABLED",
                # None: Scheduler's AWS owned key for the payload.
                kms_key_arn=key_arn,
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=fleet.functions[function.name].arn,
                    role_arn=self.role.arn,
                    # EventBridge-shaped context (execution id, scheduled time, schedule ARN);
                    # the handlers parse it (functions/shared/scheduled.py).
                    input=scheduler_input_json(),
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                        maximum_retry_attempts=MAXIMUM_RETRY_ATTEMPTS,
                        maximum_event_age_in_seconds=MAXIMUM_EVENT_AGE_SECONDS,
                    ),
                    dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(
                        arn=fleet.dead_letter_queues[function.name].arn
                    ),
                ),
                # Schedules take no tags in AWS; the group carries them. A schedule must not
                # fire before its role may invoke the function.
                opts=pulumi.ResourceOptions.merge(named, pulumi.ResourceOptions(depends_on=[role_policy])),
            )
        self.register_outputs(
            {"groupName": self.group.name, "roleArn": self.role.arn, "scheduleNames": list(self.schedules)}
        )
