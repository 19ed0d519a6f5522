"""FunctionLogs (a log group per function) and Observability (topic, dashboard, alarms, queries).

Everything is generated from the catalog by ``signal9.dashboard``; physical names come from
``Naming``, so the dashboard body, alarms and queries are plain data and do not wait on the
other components' outputs. Observability still depends on those components so that it is
created after, and deleted before, the things it watches.

Alarm notifications: the topic's policy lets CloudWatch publish for this stack's alarms only
and refuses anyone without TLS. The topic is encrypted with the stack's customer managed KMS key
(``StackKey``), not the AWS managed ``alias/aws/sns`` key. CloudWatch must be allowed
kms:GenerateDataKey/kms:Decrypt on the topic's key to publish, and the AWS managed key's
policy cannot be changed; with it, every alarm notification would be dropped silently (see
docs/observability.md).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.delivery import deny_insecure_transport, policy_json
from signal9 import catalog, dashboard
from signal9.config import StackConfig
from signal9.naming import Naming, component_tags


class FunctionLogs(pulumi.ComponentResource):
    """One log group per catalog function; FunctionFleet makes each function depend on its group."""

    log_groups: dict[str, aws.cloudwatch.LogGroup]

    def __init__(
        self,
        name: str,
        naming: Naming,
        stack_config: StackConfig,
        key_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:FunctionLogs", name, None, opts)
        # Created here rather than by Lambda on first run, so retention and tags apply from
        # the first line and `pulumi destroy` removes the logs with the stack.
        self.log_groups = {
            function.name: aws.cloudwatch.LogGroup(
                f"{function.name}-log-group",
                name=naming.log_group(function.name),
                retention_in_days=stack_config.logRetentionDays,
                # None: CloudWatch Logs' own service-side encryption.
                kms_key_id=key_arn,
                tags=component_tags("function-logs"),
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for function in catalog.FUNCTIONS
        }
        self.names = {fn: group.name for fn, group in self.log_groups.items()}
        self.arns = {fn: group.arn for fn, group in self.log_groups.items()}
        self.register_outputs({"names": self.names})


def topic_policy(topic_arn: str, alarm_prefix: str) -> str:
    """Only this stack's alarms may publish (CloudWatch, on their behalf), and nobody without TLS.

    The alarm ARN pattern comes from the topic's own ARN (partition, region, account). A topic
    policy replaces SNS's default one; the account's own principals keep the access their
    identity policies give them (same account), so only CloudWatch needs a grant here.
    """
    _, partition, _, region, account, _ = topic_arn.split(":", 5)
    return policy_json(
        {
            "Sid": "StackAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{alarm_prefix}-*"},
                "StringEquals": {"aws:SourceAccount": account},
            },
        },
        deny_insecure_transport(topic_arn, "sns:Publish"),
    )


def _alarm_args(spec: dashboard.AlarmSpec, topic_arn: pulumi.Output[str]) -> dict[str, Any]:
    """MetricAlarm inputs for a spec; every alarm notifies the topic on ALARM and on OK."""
    args: dict[str, Any] = {
        "name": spec.name,
        "alarm_description": spec.description,
        "comparison_operator": spec.comparison,
        "threshold": spec.threshold,
        "evaluation_periods": spec.evaluation_periods,
        "datapoints_to_alarm": spec.datapoints_to_alarm,
        "treat_missing_data": spec.treat_missing_data,
        "alarm_actions": [topic_arn],
        "ok_actions": [topic_arn],
        "tags": component_tags("observability"),
    }
    if spec.sum_of:
        args["metric_queries"] = [
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=spec.result_id, expression=spec.expression, label=spec.key, return_data=True
            ),
            *(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=query.id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=query.namespace,
                        metric_name=query.metric,
                        dimensions=query.dimensions,
                        period=spec.period,
                        stat=spec.statistic,
                    ),
                )
                for query in spec.sum_of
            ),
        ]
    else:
        args.update(
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=spec.dimensions,
            statistic=spec.statistic,
            period=spec.period,
        )
    return args


class Observability(pulumi.ComponentResource):
    """The stack's alarm topic, dashboard, alarms and saved Logs Insights queries."""

    topic: aws.sns.Topic
    dashboard: aws.cloudwatch.Dashboard
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    queries: dict[str, aws.cloudwatch.QueryDefinition]

    def __init__(
        self,
        name: str,
        naming: Naming,
        stack_config: StackConfig,
        *,
        tables: pulumi.Resource,
        fleet: pulumi.Resource,
        schedules: pulumi.Resource,
        routes: pulumi.Resource,
        topic_key_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:Observability", name, None, opts)
        # Names are derived, not read from these components; depending on them orders
        # creation (watch what exists) and deletion (stop watching first).
        watched = pulumi.ResourceOptions(parent=self, depends_on=[tables, fleet, schedules, routes])
        child = pulumi.ResourceOptions(parent=self)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region

        self.topic = aws.sns.Topic(
            "alarms-topic",
            name=f"{naming.prefix}-alarms",
            kms_master_key_id=topic_key_arn,
            tags=component_tags("observability"),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.topic_policy = aws.sns.TopicPolicy(
            "alarms-topic-policy",
            arn=self.topic.arn,
            policy=self.topic.arn.apply(lambda arn: topic_policy(arn, naming.prefix)),
            opts=child,
        )
        # Email subscriptions stay "pending confirmation" until the recipient clicks the link.
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"alarm-email-{email}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
            for email in stack_config.alarmEmails
        ]
        if not stack_config.alarmEmails:
            pulumi.log.warn(
                f"alarm topic {naming.prefix}-alarms has no subscribers, so alarms notify nobody; add one with: "
                f"pulumi config set --path 'signal9:alarmEmails[0]' oncall@example.com -s {naming.stack}",
                resource=self,
            )

        self.dashboard = aws.cloudwatch.Dashboard(
            "dashboard",
            dashboard_name=naming.prefix,
            dashboard_body=region.apply(lambda r: dashboard.dashboard_json(naming, stack_config, r)),
            opts=pulumi.ResourceOptions.merge(watched, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        # An alarm notifies only once CloudWatch may publish to the topic.
        alarm_opts = pulumi.ResourceOptions(delete_before_replace=True, depends_on=[self.topic_policy])
        self.alarms = {
            spec.key: aws.cloudwatch.MetricAlarm(
                f"{spec.key}-alarm",
                **_alarm_args(spec, self.topic.arn),
                opts=pulumi.ResourceOptions.merge(watched, alarm_opts),
            )
            for spec in dashboard.alarm_specs(naming, stack_config)
        }
        self.queries = {
            query.key: aws.cloudwatch.QueryDefinition(
                f"{query.key}-query",
                name=query.name,
                query_string=query.query,
                log_group_names=list(query.log_groups),
                opts=watched,
            )
            for query in dashboard.saved_queries(naming)
        }
        self.topic_arn = self.topic.arn
        self.register_outputs({"topicArn": self.topic_arn, "dashboardName": self.dashboard.dashboard_name})
