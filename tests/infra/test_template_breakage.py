"""Breaking one invariant in a scratch copy of template.yaml makes its check fail.

Each case edits the template's text (the edit must apply, so a reworded template
fails here instead of silently testing nothing), loads the copy with the same
loader, and expects the named check to report a problem mentioning ``expect``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from . import invariants as inv
from . import receiver_invariants as rinv
from . import watch_invariants as winv


@dataclass(frozen=True)
class Breakage:
    id: str
    edits: tuple[tuple[str, str], ...]
    check: Callable[..., list[str]]
    expect: str


def _env_check(template: dict[str, Any]) -> list[str]:
    return inv.check_environment_defined(template, inv.env_vars_the_template_must_set())


CASES = [
    Breakage(
        "visibility-timeout-too-low",
        (("VisibilityTimeout: 660", "VisibilityTimeout: 300"),),
        inv.check_visibility_timeout,
        "VisibilityTimeout",
    ),
    Breakage(
        "function-timeout-raised-without-visibility",
        (("      Timeout: 60\n", "      Timeout: 120\n"),),
        inv.check_visibility_timeout,
        "function timeout (120 s)",
    ),
    Breakage(
        "batching-window-allows-more-than-visibility-covers",
        (("    MinValue: 0\n    MaxValue: 300\n", "    MinValue: 0\n    MaxValue: 600\n"),),
        inv.check_visibility_timeout,
        "batching window (600 s)",
    ),
    Breakage(
        "max-receive-count-literal-3",
        (("maxReceiveCount: !Ref MaxReceiveCount", "maxReceiveCount: 3"),),
        inv.check_max_receive_count,
        "maxReceiveCount 3",
    ),
    Breakage(
        "max-receive-count-parameter-allows-3",
        (("    Default: 5\n    MinValue: 5\n", "    Default: 5\n    MinValue: 3\n"),),
        inv.check_max_receive_count,
        "MinValue 3",
    ),
    Breakage(
        "no-redrive-policy",
        (
            (
                "      RedrivePolicy:\n"
                "        deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn\n"
                "        maxReceiveCount: !Ref MaxReceiveCount\n",
                "",
            ),
        ),
        inv.check_max_receive_count,
        "no RedrivePolicy",
    ),
    Breakage(
        "dlq-retention-4-days",
        (
            (
                "the alarms fire long before.\n      MessageRetentionPeriod: 1209600\n",
                "the alarms fire long before.\n      MessageRetentionPeriod: 345600\n",
            ),
        ),
        inv.check_dead_letter_queue,
        "not 14 days",
    ),
    Breakage(
        "report-batch-item-failures-off",
        (("            FunctionResponseTypes:\n              - ReportBatchItemFailures\n", ""),),
        inv.check_report_batch_item_failures,
        "ReportBatchItemFailures",
    ),
    Breakage(
        "batch-size-hard-coded",
        (("BatchSize: !Ref BatchSize", "BatchSize: 10"),),
        inv.check_event_source_mapping_parameters,
        "BatchSize",
    ),
    Breakage(
        "runtime-default-python311",
        (("    Default: python3.12\n", "    Default: python3.11\n"),),
        inv.check_runtime,
        "Default",
    ),
    Breakage(
        "runtime-allows-python311",
        (("AllowedValues: [python3.12, python3.13, python3.14]", "AllowedValues: [python3.11, python3.12]"),),
        inv.check_runtime,
        "python3.11",
    ),
    Breakage(
        "runtime-hard-coded",
        (("Runtime: !Ref Runtime", "Runtime: python3.12"),),
        inv.check_runtime,
        "not a parameter",
    ),
    Breakage(
        "x86-architecture",
        (("Architectures: [arm64]", "Architectures: [x86_64]"),),
        inv.check_function_settings,
        "arm64",
    ),
    Breakage(
        "handler-renamed",
        (("optout_relay.handler.lambda_handler", "optout_relay.handler.main"),),
        inv.check_function_code,
        "main()",
    ),
    Breakage(
        "env-var-missing",
        (("          DEAD_LETTER_QUEUE_URL: !Ref DeadLetterQueue\n", ""),),
        _env_check,
        "DEAD_LETTER_QUEUE_URL",
    ),
    Breakage(
        "dlq-url-points-at-source-queue",
        (("DEAD_LETTER_QUEUE_URL: !Ref DeadLetterQueue", "DEAD_LETTER_QUEUE_URL: !Ref OptOutQueue"),),
        inv.check_environment_wiring,
        "DEAD_LETTER_QUEUE_URL",
    ),
    Breakage(
        "secrets-swapped",
        (("TRACKLY_SECRET_ID: !Ref TracklySecret", "TRACKLY_SECRET_ID: !Ref TatangoSecret"),),
        inv.check_environment_wiring,
        "TRACKLY_SECRET_ID",
    ),
    Breakage(
        "table-name-hard-coded",
        (("RESULTS_TABLE_NAME: !Ref ResultsTable", "RESULTS_TABLE_NAME: optout-relay-results"),),
        inv.check_environment_wiring,
        "RESULTS_TABLE_NAME",
    ),
    Breakage(
        "max-receive-count-env-literal",
        (("MAX_RECEIVE_COUNT: !Ref MaxReceiveCount", 'MAX_RECEIVE_COUNT: "5"'),),
        inv.check_environment_wiring,
        "MAX_RECEIVE_COUNT",
    ),
    Breakage(
        "dangling-ref-in-environment",
        (("POWERTOOLS_LOG_LEVEL: !Ref LogLevel", "POWERTOOLS_LOG_LEVEL: !Ref LoggingLevel"),),
        inv.check_environment_wiring,
        "LoggingLevel, which is not in the template",
    ),
    Breakage(
        "tatango-rate-default-above-its-limit",
        (("    Default: 1200/3600\n", "    Default: 1200/60\n"),),
        inv.check_environment_wiring,
        "TATANGO_MAX_RPS",
    ),
    Breakage(
        "rate-parameter-default-unreadable",
        (("    Default: unlimited\n", "    Default: fast\n"),),
        inv.check_defaults_pass_settings,
        "TRACKLY_MAX_RPS",
    ),
    Breakage(
        "base-url-default-wrong",
        (("    Default: https://app.tatango.com\n", "    Default: https://api.tatango.com\n"),),
        inv.check_environment_wiring,
        "TATANGO_BASE_URL",
    ),
    Breakage(
        "provider-timeout-fills-the-invocation",
        (('PROVIDER_TIMEOUT_SECONDS: "10"', 'PROVIDER_TIMEOUT_SECONDS: "45"'),),
        inv.check_provider_timeout,
        "PROVIDER_TIMEOUT_SECONDS 45",
    ),
    Breakage(
        "wildcard-resource",
        (
            (
                "Action: sqs:SendMessage\n                Resource: !GetAtt DeadLetterQueue.Arn\n",
                'Action: sqs:SendMessage\n                Resource: "*"\n',
            ),
        ),
        inv.check_no_iam_wildcards,
        "resource '*'",
    ),
    Breakage(
        "wildcard-action",
        (("                Action: sqs:SendMessage\n", '                Action: "sqs:*"\n'),),
        inv.check_no_iam_wildcards,
        "action 'sqs:*'",
    ),
    Breakage(
        "full-access-managed-policy",
        (
            (
                '        - !Sub "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"\n',
                '        - !Sub "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"\n'
                '        - !Sub "arn:${AWS::Partition}:iam::aws:policy/AmazonDynamoDBFullAccess"\n',
            ),
        ),
        inv.check_no_iam_wildcards,
        "AmazonDynamoDBFullAccess",
    ),
    Breakage(
        "sam-generated-role",
        (("      Role: !GetAtt RelayFunctionRole.Arn\n", ""),),
        inv.check_no_iam_wildcards,
        "AWSLambdaSQSQueueExecutionRole",
    ),
    Breakage(
        "ledger-delete-granted",
        (
            (
                "                  - dynamodb:UpdateItem\n",
                "                  - dynamodb:UpdateItem\n                  - dynamodb:DeleteItem\n",
            ),
        ),
        inv.check_function_grants,
        "dynamodb:DeleteItem",
    ),
    Breakage(
        "dlq-send-missing",
        (("                Action: sqs:SendMessage\n", "                Action: sqs:GetQueueUrl\n"),),
        inv.check_function_grants,
        "sqs:SendMessage",
    ),
    Breakage(
        "queue-unencrypted",
        (
            (
                "      ReceiveMessageWaitTimeSeconds: 20\n      SqsManagedSseEnabled: true\n",
                "      ReceiveMessageWaitTimeSeconds: 20\n      SqsManagedSseEnabled: false\n",
            ),
        ),
        inv.check_encryption,
        "OptOutQueue",
    ),
    Breakage(
        "table-unencrypted",
        (("SSEEnabled: true", "SSEEnabled: false"),),
        inv.check_encryption,
        "ResultsTable",
    ),
    Breakage(
        "secret-key-removed",
        (
            (
                '      KmsKeyId: alias/aws/secretsmanager\n      SecretString: \'{"api_key": ""}\'',
                '      SecretString: \'{"api_key": ""}\'',
            ),
        ),
        inv.check_encryption,
        "TracklySecret",
    ),
    Breakage(
        "topic-unencrypted",
        (("      KmsMasterKeyId: !Ref AlarmTopicKey\n", ""),),
        inv.check_encryption,
        "AlarmTopic",
    ),
    Breakage(
        "tls-not-enforced",
        (('                aws:SecureTransport: "false"', '                aws:SecureTransport: "true"'),),
        inv.check_queues_deny_insecure_transport,
        "non-TLS",
    ),
    Breakage(
        "secret-value-in-template",
        (
            (
                'SecretString: \'{"email": "", "api_key": ""}\'',
                'SecretString: \'{"email": "ops@example.com", "api_key": ""}\'',
            ),
        ),
        inv.check_secret_placeholders,
        "holds values",
    ),
    Breakage(
        "secret-field-missing",
        (('SecretString: \'{"email": "", "api_key": ""}\'', 'SecretString: \'{"api_key": ""}\''),),
        inv.check_secret_placeholders,
        "email",
    ),
    Breakage(
        "sort-key-renamed",
        (
            (
                "        - AttributeName: target\n          KeyType: RANGE",
                "        - AttributeName: sk\n          KeyType: RANGE",
            ),
        ),
        inv.check_table,
        "KeySchema",
    ),
    Breakage(
        "ttl-attribute-renamed",
        (("        AttributeName: expires_at\n", "        AttributeName: ttl\n"),),
        inv.check_table,
        "TTL",
    ),
    Breakage(
        "no-point-in-time-recovery",
        (("PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false"),),
        inv.check_table,
        "point-in-time",
    ),
    Breakage(
        "targets-version-as-string",
        (
            (
                "        - AttributeName: version\n          AttributeType: N\n",
                "        - AttributeName: version\n          AttributeType: S\n",
            ),
        ),
        inv.check_targets_table,
        "key attribute types",
    ),
    Breakage(
        "targets-table-deleted-with-the-stack",
        (
            (
                "  TargetsTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain\n",
                "  TargetsTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Delete\n",
            ),
        ),
        inv.check_targets_table,
        "not retained",
    ),
    Breakage(
        "targets-table-writable-by-the-function",
        (
            (
                "                  - dynamodb:Query\n",
                "                  - dynamodb:Query\n                  - dynamodb:PutItem\n",
            ),
        ),
        inv.check_function_grants,
        "allows dynamodb:PutItem",
    ),
    Breakage(
        "targets-table-not-wired",
        (("          TARGETS_TABLE_NAME: !Ref TargetsTable\n", ""),),
        _env_check,
        "TARGETS_TABLE_NAME",
    ),
    Breakage(
        "targets-table-name-is-the-ledger",
        (("TARGETS_TABLE_NAME: !Ref TargetsTable", "TARGETS_TABLE_NAME: !Ref ResultsTable"),),
        inv.check_environment_wiring,
        "name the same table",
    ),
    Breakage(
        "account-secrets-beyond-the-stack",
        (("secret:${AWS::StackName}/accounts/*", "secret:*"),),
        inv.check_function_grants,
        "secretsmanager:GetSecretValue",
    ),
    Breakage(
        "alarm-without-actions",
        (
            (
                "      AlarmActions: [!Ref AlarmTopic]\n      OKActions: [!Ref AlarmTopic]\n\n"
                "  OldestMessageAgeAlarm:",
                "\n  OldestMessageAgeAlarm:",
            ),
        ),
        inv.check_alarm_actions,
        "DeadLetterQueueNotEmptyAlarm has no AlarmActions",
    ),
    Breakage(
        "age-alarm-on-the-dlq",
        (
            (
                "          Value: !GetAtt OptOutQueue.QueueName\n      Statistic: Maximum",
                "          Value: !GetAtt DeadLetterQueue.QueueName\n      Statistic: Maximum",
            ),
        ),
        inv.check_alarms_cover,
        "oldest message",
    ),
    Breakage(
        "failure-rate-alarm-wrong-service-dimension",
        (
            (
                "{ Name: provider, Value: tatango }, { Name: service, Value: optout-relay }",
                "{ Name: provider, Value: tatango }, { Name: service, Value: relay }",
            ),
        ),
        inv.check_alarms_cover,
        "tatango",
    ),
    Breakage(
        "dashboard-drops-an-outcome",
        (('"Retried", "provider", "trackly"', '"Retries", "provider", "trackly"'),),
        inv.check_dashboard,
        "Retried for trackly",
    ),
    Breakage(
        "dashboard-no-p99",
        (('{"stat": "p99", "label": "tatango p99"}', '{"stat": "p90", "label": "tatango p90"}'),),
        inv.check_dashboard,
        "ProviderLatency p99",
    ),
    # ---------------------------------------------------------------- the deadline watch
    Breakage(
        "received-day-index-renamed",
        (("        - IndexName: by-received-day\n", "        - IndexName: by-day\n"),),
        winv.check_received_day_index,
        "no global secondary index by-received-day",
    ),
    Breakage(
        "received-day-index-keys-swapped",
        (
            (
                "            - AttributeName: received_day\n              KeyType: HASH\n"
                "            - AttributeName: received_key\n              KeyType: RANGE\n",
                "            - AttributeName: received_key\n              KeyType: HASH\n"
                "            - AttributeName: received_day\n              KeyType: RANGE\n",
            ),
        ),
        winv.check_received_day_index,
        "KeySchema",
    ),
    Breakage(
        "received-day-index-keys-only",
        (("            ProjectionType: ALL\n", "            ProjectionType: KEYS_ONLY\n"),),
        winv.check_received_day_index,
        "ALL",
    ),
    Breakage(
        "watch-runs-daily",
        (("ScheduleExpression: rate(1 hour)", "ScheduleExpression: rate(1 day)"),),
        winv.check_deadline_watch_schedule,
        "every hour",
    ),
    Breakage(
        "watch-schedule-disabled",
        (("      State: ENABLED\n", "      State: DISABLED\n"),),
        winv.check_deadline_watch_schedule,
        "ENABLED",
    ),
    Breakage(
        "watch-schedule-never-retries",
        (("          MaximumRetryAttempts: 5\n", "          MaximumRetryAttempts: 0\n"),),
        winv.check_deadline_watch_schedule,
        "RetryPolicy",
    ),
    Breakage(
        "watch-schedule-dead-letters-into-the-opt-out-dlq",
        (
            (
                "        DeadLetterConfig:\n"
                "          Arn: !GetAtt DeadlineWatchScheduleDeadLetterQueue.Arn\n",
                "        DeadLetterConfig:\n          Arn: !GetAtt DeadLetterQueue.Arn\n",
            ),
        ),
        winv.check_deadline_watch_schedule,
        "a queue of opt-outs",
    ),
    Breakage(
        "watch-schedule-targets-the-relay",
        (("        Arn: !GetAtt DeadlineWatchFunction.Arn\n", "        Arn: !GetAtt RelayFunction.Arn\n"),),
        winv.check_deadline_watch_schedule,
        "no AWS::Scheduler::Schedule runs",
    ),
    Breakage(
        "watch-schedule-role-may-invoke-the-relay",
        (
            (
                "                Action: lambda:InvokeFunction\n"
                "                Resource: !GetAtt DeadlineWatchFunction.Arn\n",
                "                Action: lambda:InvokeFunction\n"
                "                Resource: !GetAtt RelayFunction.Arn\n",
            ),
        ),
        winv.check_deadline_watch_schedule,
        "allows lambda:InvokeFunction",
    ),
    Breakage(
        "watch-schedule-role-assumed-by-lambda",
        (
            (
                "              Service: scheduler.amazonaws.com\n",
                "              Service: lambda.amazonaws.com\n",
            ),
        ),
        winv.check_deadline_watch_schedule,
        "scheduler.amazonaws.com",
    ),
    Breakage(
        "watch-reads-the-targets-table",
        (
            (
                "          RESULTS_TABLE_NAME: !Ref ResultsTable\n          WATCH_LOOKBACK_DAYS:",
                "          RESULTS_TABLE_NAME: !Ref TargetsTable\n          WATCH_LOOKBACK_DAYS:",
            ),
        ),
        winv.check_deadline_watch_function,
        "RESULTS_TABLE_NAME",
    ),
    Breakage(
        "watch-lookback-not-set",
        (("          WATCH_LOOKBACK_DAYS: !Ref WatchLookbackDays\n", ""),),
        winv.check_deadline_watch_function,
        "WATCH_LOOKBACK_DAYS is read by the code but not set on DeadlineWatchFunction",
    ),
    Breakage(
        "watch-lookback-parameter-allows-a-week",
        (("    MinValue: 21\n", "    MinValue: 7\n"),),
        winv.check_deadline_watch_function,
        "MinValue",
    ),
    Breakage(
        "watch-publishes-to-another-namespace",
        (
            (
                "          POWERTOOLS_METRICS_NAMESPACE: !Ref MetricsNamespace\n"
                "          POWERTOOLS_LOG_LEVEL: !Ref LogLevel\n"
                '          POWERTOOLS_TRACE_DISABLED: "true"',
                "          POWERTOOLS_METRICS_NAMESPACE: DeadlineWatch\n"
                "          POWERTOOLS_LOG_LEVEL: !Ref LogLevel\n"
                '          POWERTOOLS_TRACE_DISABLED: "true"',
            ),
        ),
        winv.check_deadline_watch_function,
        "POWERTOOLS_METRICS_NAMESPACE",
    ),
    Breakage(
        "watch-may-query-the-whole-table",
        (
            (
                'Resource: !Sub "${ResultsTable.Arn}/index/by-received-day"',
                "Resource: !GetAtt ResultsTable.Arn",
            ),
        ),
        inv.check_function_grants,
        "DeadlineWatchFunctionRole does not allow dynamodb:Query",
    ),
    Breakage(
        "watch-may-scan",
        (
            (
                "                Action: dynamodb:Query\n                Resource: !Sub",
                "                Action: [dynamodb:Query, dynamodb:Scan]\n                Resource: !Sub",
            ),
        ),
        inv.check_function_grants,
        "allows dynamodb:Scan",
    ),
    Breakage(
        "watch-gets-a-sam-generated-role",
        (("      Role: !GetAtt DeadlineWatchFunctionRole.Arn\n", ""),),
        inv.check_no_iam_wildcards,
        "DeadlineWatchFunction has no Role",
    ),
    Breakage(
        "watch-logs-into-the-relays-log-group",
        (("        LogGroup: !Ref DeadlineWatchLogGroup\n", "        LogGroup: !Ref RelayLogGroup\n"),),
        inv.check_function_settings,
        "shares its log group",
    ),
    Breakage(
        "watch-schedule-dlq-unencrypted",
        (
            (
                "      MessageRetentionPeriod: 1209600\n      SqsManagedSseEnabled: true\n\n"
                "  # ---------------------------------------------------------------- webhook receiver",
                "      MessageRetentionPeriod: 1209600\n\n"
                "  # ---------------------------------------------------------------- webhook receiver",
            ),
        ),
        inv.check_encryption,
        "DeadlineWatchScheduleDeadLetterQueue",
    ),
    Breakage(
        "due-soon-alarm-cleared-by-a-missed-run",
        (
            (
                "      MetricName: OptOutsDueSoon\n"
                "      Dimensions:\n        - Name: service\n          Value: optout-relay\n"
                "      Statistic: Maximum\n      Period: 3600\n      EvaluationPeriods: 1\n"
                "      Threshold: 0\n      ComparisonOperator: GreaterThanThreshold\n"
                "      TreatMissingData: ignore\n",
                "      MetricName: OptOutsDueSoon\n"
                "      Dimensions:\n        - Name: service\n          Value: optout-relay\n"
                "      Statistic: Maximum\n      Period: 3600\n      EvaluationPeriods: 1\n"
                "      Threshold: 0\n      ComparisonOperator: GreaterThanThreshold\n"
                "      TreatMissingData: notBreaching\n",
            ),
        ),
        winv.check_deadline_alarms,
        "OptOutsDueSoonAlarm TreatMissingData",
    ),
    Breakage(
        "overdue-alarm-waits-for-two",
        (
            (
                "      MetricName: OptOutsOverdue\n"
                "      Dimensions:\n        - Name: service\n          Value: optout-relay\n"
                "      Statistic: Maximum\n      Period: 3600\n      EvaluationPeriods: 1\n"
                "      Threshold: 0\n",
                "      MetricName: OptOutsOverdue\n"
                "      Dimensions:\n        - Name: service\n          Value: optout-relay\n"
                "      Statistic: Maximum\n      Period: 3600\n      EvaluationPeriods: 1\n"
                "      Threshold: 1\n",
            ),
        ),
        winv.check_deadline_alarms,
        "OptOutsOverdueAlarm does not fire on a single opt-out",
    ),
    Breakage(
        "overdue-alarm-on-another-service",
        (
            (
                "      MetricName: OptOutsOverdue\n      Dimensions:\n        - Name: service\n"
                "          Value: optout-relay\n",
                "      MetricName: OptOutsOverdue\n      Dimensions:\n        - Name: service\n"
                "          Value: deadline-watch\n",
            ),
        ),
        winv.check_deadline_alarms,
        "no alarm on OptOutsOverdue",
    ),
    Breakage(
        "due-soon-alarm-period-shorter-than-the-schedule",
        (
            (
                "      MetricName: OptOutsDueSoon\n"
                "      Dimensions:\n        - Name: service\n          Value: optout-relay\n"
                "      Statistic: Maximum\n      Period: 3600\n",
                "      MetricName: OptOutsDueSoon\n"
                "      Dimensions:\n        - Name: service\n          Value: optout-relay\n"
                "      Statistic: Maximum\n      Period: 300\n",
            ),
        ),
        winv.check_deadline_alarms,
        "Period is shorter",
    ),
    Breakage(
        "missed-runs-alarm-treats-silence-as-fine",
        (("      TreatMissingData: breaching\n", "      TreatMissingData: notBreaching\n"),),
        winv.check_deadline_alarms,
        "missed runs",
    ),
    Breakage(
        "dashboard-drops-the-overdue-metric",
        (
            (
                '["${MetricsNamespace}", "OptOutsOverdue", "service", "optout-relay", {"label": "Overdue"}]',
                '["${MetricsNamespace}", "OptOutsOverdue", "service", "relay", {"label": "Overdue"}]',
            ),
        ),
        winv.check_deadline_alarms,
        "does not show OptOutsOverdue",
    ),
    Breakage(
        "dashboard-drops-the-overdue-alarm",
        (('                  "${OptOutsOverdueAlarm.Arn}",\n', ""),),
        inv.check_dashboard,
        "alarm widget does not show OptOutsOverdueAlarm",
    ),
    Breakage(
        "output-renamed",
        (("\n  QueueUrl:\n", "\n  QueueURL:\n"),),
        inv.check_outputs,
        "QueueUrl",
    ),
]


def _receiver_env_check(template: dict[str, Any]) -> list[str]:
    receiver_id, _ = rinv.the_receiver(template)
    return inv.check_environment_defined(template, rinv.env_vars_the_receiver_must_set(), receiver_id)


RECEIVER_CASES = [
    Breakage(
        "receiver-publishes-to-the-dlq",
        (("OPTOUT_QUEUE_URL: !Ref OptOutQueue", "OPTOUT_QUEUE_URL: !Ref DeadLetterQueue"),),
        rinv.check_receiver_wiring,
        "OPTOUT_QUEUE_URL",
    ),
    Breakage(
        "receiver-secret-not-wired",
        (("          WEBHOOK_SECRET_ID: !Ref WebhookSecret\n", ""),),
        _receiver_env_check,
        "WEBHOOK_SECRET_ID",
    ),
    Breakage(
        "receiver-reads-a-provider-secret",
        (("WEBHOOK_SECRET_ID: !Ref WebhookSecret", "WEBHOOK_SECRET_ID: !Ref TatangoSecret"),),
        rinv.check_receiver_wiring,
        "WEBHOOK_SECRET_ID",
    ),
    Breakage(
        "receiver-echo-check-on-the-targets-table",
        (
            (
                "RESULTS_TABLE_NAME: !Ref ResultsTable\n          POWERTOOLS_SERVICE_NAME: optout-relay-w",
                "RESULTS_TABLE_NAME: !Ref TargetsTable\n          POWERTOOLS_SERVICE_NAME: optout-relay-w",
            ),
        ),
        rinv.check_receiver_wiring,
        "RESULTS_TABLE_NAME",
    ),
    Breakage(
        "receiver-may-write-the-ledger",
        (
            (
                "                Action: dynamodb:Query\n",
                "                Action: [dynamodb:Query, dynamodb:PutItem]\n",
            ),
        ),
        rinv.check_receiver_grants,
        "dynamodb:PutItem",
    ),
    Breakage(
        "receiver-cannot-publish",
        (
            (
                "PublishOptOuts\n                Effect: Allow\n                Action: sqs:SendMessage\n",
                "PublishOptOuts\n                Effect: Allow\n                Action: sqs:GetQueueUrl\n",
            ),
        ),
        rinv.check_receiver_grants,
        "does not allow sqs:SendMessage",
    ),
    Breakage(
        "relay-may-read-the-webhook-secret",
        (
            (
                "                  - !Ref TatangoSecret\n",
                "                  - !Ref TatangoSecret\n                  - !Ref WebhookSecret\n",
            ),
        ),
        inv.check_function_grants,
        "WebhookSecret",
    ),
    Breakage(
        "receiver-uses-the-relay-role",
        (("Role: !GetAtt WebhookReceiverRole.Arn", "Role: !GetAtt RelayFunctionRole.Arn"),),
        rinv.check_receiver_grants,
        "RelayFunctionRole",
    ),
    Breakage(
        "receiver-logs-to-the-relay-log-group",
        (("LogGroup: !Ref WebhookReceiverLogGroup", "LogGroup: !Ref RelayLogGroup"),),
        inv.check_function_settings,
        "shares its log group",
    ),
    Breakage(
        "receiver-handler-missing",
        (("webhook_receiver.handler.lambda_handler", "webhook_receiver.main.lambda_handler"),),
        inv.check_function_code,
        "does not exist",
    ),
    Breakage(
        "function-url-needs-iam",
        (("        AuthType: NONE\n", "        AuthType: AWS_IAM\n"),),
        rinv.check_receiver_endpoint,
        "AuthType",
    ),
    Breakage(
        "receiver-timeout-too-long",
        (("      Timeout: 10\n", "      Timeout: 120\n"),),
        rinv.check_receiver_endpoint,
        "Timeout 120",
    ),
    Breakage(
        "webhook-secret-token-short",
        (("        PasswordLength: 48\n", "        PasswordLength: 12\n"),),
        rinv.check_webhook_secret,
        "PasswordLength",
    ),
    Breakage(
        "webhook-secret-key-renamed",
        (("GenerateStringKey: tatango_token", "GenerateStringKey: token"),),
        rinv.check_webhook_secret,
        "'token'",
    ),
    Breakage(
        "webhook-secret-with-punctuation",
        (("        ExcludePunctuation: true\n", ""),),
        rinv.check_webhook_secret,
        "punctuation",
    ),
    Breakage(
        "no-alarm-on-unpublished-stops",
        (("MetricName: WebhookPublishFailed", "MetricName: WebhookPublished"),),
        rinv.check_receiver_monitoring,
        "WebhookPublishFailed",
    ),
    Breakage(
        "dashboard-drops-echoes",
        (('"WebhookEcho", "provider", "trackly"', '"WebhookEchoes", "provider", "trackly"'),),
        rinv.check_receiver_monitoring,
        "WebhookEcho for trackly",
    ),
    Breakage(
        "alarm-on-a-metric-the-receiver-never-emits",
        (("MetricName: WebhookSecretUnavailable", "MetricName: WebhookSecretMissing"),),
        inv.check_alarms_cover,
        "WebhookSecretMissing",
    ),
    Breakage(
        "receiver-service-name-is-the-relays",
        (("POWERTOOLS_SERVICE_NAME: optout-relay-webhooks", "POWERTOOLS_SERVICE_NAME: optout-relay"),),
        rinv.check_receiver_wiring,
        "POWERTOOLS_SERVICE_NAME",
    ),
    Breakage(
        "webhook-url-output-missing",
        (("\n  WebhookUrl:\n", "\n  WebhookURL:\n"),),
        inv.check_outputs,
        "WebhookUrl",
    ),
]
CASES += RECEIVER_CASES


def _replace_all(text: str, old: str, new: str) -> str:
    assert old in text, f"the template no longer contains {old!r}: update this breakage case"
    return text.replace(old, new)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_breaking_an_invariant_is_detected(case: Breakage, tmp_path: Path) -> None:
    text = inv.TEMPLATE_PATH.read_text(encoding="utf-8")
    assert case.check(inv.load_template(inv.TEMPLATE_PATH)) == [], "the real template must pass"
    for old, new in case.edits:
        text = _replace_all(text, old, new)
    broken = tmp_path / "template.yaml"
    broken.write_text(text, encoding="utf-8")

    problems = case.check(inv.load_template(broken))

    assert problems, f"{case.check.__name__} did not notice {case.id}"
    assert any(case.expect in problem for problem in problems), problems


def test_every_check_is_exercised_by_a_breakage() -> None:
    exercised = {case.check for case in CASES}
    missing = [check.__name__ for check in (*inv.ALL_CHECKS, *winv.CHECKS) if check not in exercised]
    assert missing == [], f"add a breakage case for {missing}"
