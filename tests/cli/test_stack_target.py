"""--stack-name: resources found from the stack's outputs (moto's CloudFormation), and the
one-line errors for credentials, a missing stack and missing outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from .conftest import TRACKLY_LIST, Cli

STACK = "relay-test"
# A stand-in for the deployed SAM stack: the same output names, plain resources.
TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "relay-test-dlq"}},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "relay-test-queue",
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                    "maxReceiveCount": 5,
                },
            },
        },
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "relay-test-results",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "phone_number", "AttributeType": "S"},
                    {"AttributeName": "target", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "phone_number", "KeyType": "HASH"},
                    {"AttributeName": "target", "KeyType": "RANGE"},
                ],
            },
        },
    },
    "Outputs": {
        "QueueUrl": {"Value": {"Ref": "Queue"}},
        "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
        "DeadLetterQueueUrl": {"Value": {"Ref": "Dlq"}},
        "DeadLetterQueueArn": {"Value": {"Fn::GetAtt": ["Dlq", "Arn"]}},
        "ResultsTableName": {"Value": {"Ref": "Table"}},
    },
}


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        session.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
        yield session


def _outputs(session: Any) -> dict[str, str]:
    [stack] = session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_commands_find_the_stack_resources_from_its_outputs(cli: Cli, aws: Any) -> None:
    outputs = _outputs(aws)
    stack = ("--stack-name", STACK, "--region", "us-east-1")

    sent = cli.json(
        "publish",
        "--provider",
        "trackly",
        "--phone",
        "+12065550100",
        "--list-number",
        TRACKLY_LIST,
        "--event-id",
        "s-1",
        *stack,
    )
    assert sent["queue_url"] == outputs["QueueUrl"]
    [message] = aws.client("sqs").receive_message(QueueUrl=outputs["QueueUrl"]).get("Messages", [])
    assert json.loads(message["Body"])["event_id"] == "s-1"

    aws.client("dynamodb").put_item(
        TableName=outputs["ResultsTableName"],
        Item={
            "phone_number": {"S": "+12065550100"},
            "target": {"S": f"trackly#{TRACKLY_LIST}#s-1"},
            "status": {"S": "unsubscribed"},
            "provider": {"S": "trackly"},
            "attempts": {"N": "1"},
        },
    )
    [item] = cli.json("status", "+12065550100", *stack)["items"]
    assert item["status"] == "unsubscribed" and item["attempts"] == 1

    aws.client("sqs").send_message(
        QueueUrl=outputs["DeadLetterQueueUrl"],
        MessageBody='{"provider": "trackly"}',
        MessageAttributes={
            "error_code": {"DataType": "String", "StringValue": "schema_violation"},
            "error_message": {"DataType": "String", "StringValue": "phone_number is required"},
        },
    )
    [letter] = cli.json("dlq", "list", *stack)["messages"]
    assert letter["error_code"] == "schema_violation" and letter["reason"] == "phone_number is required"


def test_a_stack_that_does_not_exist(cli: Cli, aws: Any) -> None:
    result = cli("status", "+12065550100", "--stack-name", "nope", "--region", "us-east-1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: stack 'nope' does not exist in us-east-1 (check --stack-name and --region)"
    )


def test_a_stack_without_the_outputs(cli: Cli, aws: Any) -> None:
    aws.client("cloudformation").create_stack(
        StackName="other",
        TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, "Outputs": {}}),
    )
    result = cli("dlq", "redrive", "--yes", "--stack-name", "other", "--region", "us-east-1")
    assert result.exit_code == 1
    assert "has no output DeadLetterQueueUrl, DeadLetterQueueArn, QueueUrl, QueueArn" in result.stderr


def test_an_aws_error_mid_command_is_one_line(cli: Cli, aws: Any) -> None:
    aws.client("dynamodb").delete_table(TableName="relay-test-results")
    result = cli("status", "+12065550100", "--stack-name", STACK, "--region", "us-east-1")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: AWS Query failed (ResourceNotFoundException)")
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_credentials(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    result = cli("dlq", "list", "--stack-name", STACK, "--region", "us-east-1")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: no AWS credentials found")
    assert "Traceback" not in result.output


def test_missing_region(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = cli("status", "+12065550100", "--stack-name", STACK)
    assert result.exit_code == 1
    assert "no AWS region: pass --region" in result.stderr
