"""Creates the relay's AWS resources on an emulated endpoint (moto) from template.yaml:
key schema, redrive policy and environment wiring are read from the template, not
written again here."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from secrets import choice as random_choice
from typing import Any

from optout_relay_dev.template import StackShape, stack_shape


@dataclass
class LocalStack:
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    table_name: str
    secret_arns: dict[str, str]
    max_receive_count: int
    environment: dict[str, str] = field(default_factory=dict)
    targets_table_name: str = ""
    # The webhook receiver's secret (generated) and environment, pointed at these resources.
    webhook_secret_arn: str = ""
    receiver_environment: dict[str, str] = field(default_factory=dict)


def _int(shape: StackShape, value: Any, default: int) -> int:
    resolved = shape.resolve(value)
    try:
        return int(resolved)
    except (TypeError, ValueError):
        return default


def create_local_stack(
    session: Any,
    *,
    prefix: str = "optout-relay",
    secrets: Mapping[str, Mapping[str, str]],
    overrides: Mapping[str, str] | None = None,
    shape: StackShape | None = None,
    endpoint_url: str | None = None,
) -> LocalStack:
    """``secrets`` maps a provider name to its secret JSON; ``overrides`` replaces env values
    (the simulators' base URLs, a shorter timeout)."""
    shape = shape or stack_shape()
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint_url)

    table_names = {
        table_id: _create_table(dynamodb, prefix, table_id, table["Properties"])
        for table_id, table in shape.of_type("AWS::DynamoDB::Table").items()
    }
    table_name = table_names[shape.table[0]]

    dlq_id, dlq = shape.dead_letter_queue
    dlq_props = dlq.get("Properties", {})
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-dlq",
        Attributes={
            "MessageRetentionPeriod": str(_int(shape, dlq_props.get("MessageRetentionPeriod"), 1_209_600))
        },
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    queue_id, queue = shape.source_queue
    queue_props = queue["Properties"]
    max_receive_count = shape.max_receive_count
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-queue",
        Attributes={
            "VisibilityTimeout": str(_int(shape, queue_props.get("VisibilityTimeout"), 360)),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    secret_arns: dict[str, str] = {}
    secret_by_id: dict[str, str] = {}
    for secret_id, secret in shape.of_type("AWS::SecretsManager::Secret").items():
        generate = secret.get("Properties", {}).get("GenerateSecretString")
        if isinstance(generate, dict):
            secret_by_id[secret_id] = secretsmanager.create_secret(
                Name=_secret_name(secret, prefix, secret_id), SecretString=json.dumps(generated(generate))
            )["ARN"]
            continue
        provider = next((p for p in secrets if p in secret_id.lower()), None)
        if provider is None:
            continue
        arn = secretsmanager.create_secret(
            Name=f"{prefix}/{provider}", SecretString=json.dumps(dict(secrets[provider]))
        )["ARN"]
        secret_arns[provider] = secret_by_id[secret_id] = arn

    refs = {**table_names, dlq_id: dlq_url, queue_id: queue_url, **secret_by_id}
    arns = {dlq_id: dlq_arn, queue_id: queue_arn, **secret_by_id}
    environment: dict[str, str] = {}
    for name, value in shape.environment.items():
        resolved = _env_value(shape, value, refs, arns)
        if resolved is not None:
            environment[name] = resolved
    environment.update(overrides or {})
    receiver_environment: dict[str, str] = {}
    for name, value in shape.receiver_environment.items():
        resolved = _env_value(shape, value, refs, arns)
        if resolved is not None:
            receiver_environment[name] = resolved
    receiver_id = shape.receiver_environment.get("WEBHOOK_SECRET_ID", {})
    return LocalStack(
        webhook_secret_arn=secret_by_id.get(str(receiver_id.get("Ref")), "")
        if isinstance(receiver_id, dict)
        else "",
        receiver_environment=receiver_environment,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        dead_letter_queue_arn=dlq_arn,
        table_name=table_name,
        targets_table_name=environment.get("TARGETS_TABLE_NAME", ""),
        secret_arns=secret_arns,
        max_receive_count=max_receive_count,
        environment=environment,
    )


def generated(generate: Mapping[str, Any]) -> dict[str, str]:
    """What Secrets Manager would generate for a ``GenerateSecretString``: its template with
    the generated key. Locally every empty key of the template is generated too (the
    stack leaves those for the operator to put), so the simulators can use them."""
    try:
        document = json.loads(str(generate.get("SecretStringTemplate") or "{}"))
    except ValueError:
        document = {}
    length = int(generate.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    values = {str(key): str(value) for key, value in dict(document).items()}
    for key in [*values, str(generate.get("GenerateStringKey", "password"))]:
        if not values.get(key):
            values[key] = "".join(random_choice(alphabet) for _ in range(length))
    return values


def _secret_name(secret: Mapping[str, Any], prefix: str, secret_id: str) -> str:
    configured = secret.get("Properties", {}).get("Name")
    pattern = configured.get("Fn::Sub") if isinstance(configured, dict) else configured
    return (
        pattern.replace("${AWS::StackName}", prefix) if isinstance(pattern, str) else f"{prefix}/{secret_id}"
    )


def _create_table(dynamodb: Any, prefix: str, table_id: str, properties: Mapping[str, Any]) -> str:
    """One table of the template, named as the stack would name it with ``prefix``."""
    configured = properties.get("TableName")
    pattern = configured.get("Fn::Sub") if isinstance(configured, dict) else configured
    name = (
        pattern.replace("${AWS::StackName}", prefix)
        if isinstance(pattern, str)
        else f"{prefix}-{table_id.lower()}"
    )
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    dynamodb.create_table(**request)
    return name


def _env_value(shape: StackShape, value: Any, refs: Mapping[str, str], arns: Mapping[str, str]) -> str | None:
    """The value CloudFormation would give an environment variable, for the local resources."""
    if isinstance(value, dict) and "Ref" in value:
        target = value["Ref"]
        if target in refs:
            return refs[target]
        default = shape.parameter_default(target)
        return None if default is None else str(default)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return (arns if attribute == "Arn" else refs).get(logical_id)
    if isinstance(value, dict):
        return None
    return str(value)
