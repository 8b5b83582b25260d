"""`optout-relay webhooks show`: what to register at each provider, locally and on a
deployed stack; secrets only when asked. The printed Tatango call, made against the local
simulator, registers a webhook whose STOPs reach the receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from moto import mock_aws
from optout_relay_dev.local_webhooks import deliver_webhooks, webhook_secret
from optout_relay_dev.simulators import TatangoSimulator

from .conftest import Cli, Local

DOCUMENT = {
    "accounts": [
        {
            "id": "tatango-brand-a",
            "provider": "tatango",
            "secret_id": "t/accounts/a",
            "lists": [{"list_id": 4242}, {"list_id": 4243}],
        },
        {
            "id": "trackly",
            "provider": "trackly",
            "secret_id": "t/accounts/trackly",
            "lists": [{"list_number": "+18005550100"}],
        },
    ]
}


@pytest.fixture
def document_file(tmp_path: Path) -> Path:
    path = tmp_path / "targets.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    return path


def test_without_a_document_each_provider_default_account_gets_a_template(cli: Cli, local: Local) -> None:
    result = cli("webhooks", "show")

    assert result.exit_code == 0, result.output
    secret = webhook_secret(local.state)
    assert secret["tatango_token"] not in result.stdout
    assert secret["trackly_signing_secret"] not in result.stdout
    assert "/api/v2/lists/{LIST_ID}/webhooks" in result.stdout
    assert f"{local.state.webhook_url}/tatango/${{TATANGO_WEBHOOK_TOKEN}}" in result.stdout
    assert f"{local.state.webhook_url}/trackly" in result.stdout
    assert "hidden" in result.stdout
    assert local.state.webhook_secret_arn in result.stdout, "the ARN as it is (no emoji for :secret:)"


def test_each_list_of_the_document_gets_its_call_and_secrets_only_when_asked(
    cli: Cli, local: Local, document_file: Path
) -> None:
    assert cli("targets", "apply", str(document_file)).exit_code == 0
    secret = webhook_secret(local.state)

    plan = cli.json("webhooks", "show")
    shown = cli.json("webhooks", "show", "--show-secrets")

    assert [(r["account"], r["list_id"]) for r in plan["tatango"]] == [
        ("tatango-brand-a", "4242"),
        ("tatango-brand-a", "4243"),
    ]
    tatango_url = local.state.simulator_urls["tatango"]
    assert plan["tatango"][0]["url"] == f"{tatango_url}/api/v2/lists/4242/webhooks"
    assert secret["tatango_token"] not in json.dumps(plan)
    assert plan["trackly"] == [
        {
            "account": "trackly",
            "url": f"{local.state.webhook_url}/trackly",
            "events": ["unsubscribe"],
            "signing_secret": "(hidden: --show-secrets shows it)",
            "lists": ["+18005550100"],
            "credentials": "t/accounts/trackly",
        }
    ]
    callback = shown["tatango"][0]["body"]["webhook"]["url"]
    assert callback == f"{local.state.webhook_url}/tatango/{secret['tatango_token']}"
    assert shown["trackly"][0]["signing_secret"] == secret["trackly_signing_secret"]
    assert callback in shown["tatango"][0]["curl"]


def test_the_printed_call_registers_a_webhook_that_delivers_stops(
    cli: Cli, local: Local, document_file: Path
) -> None:
    assert cli("targets", "apply", str(document_file)).exit_code == 0
    request = cli.json("webhooks", "show", "--show-secrets")["tatango"][0]
    tatango = local.simulator("tatango")
    credentials = TatangoSimulator.local_credentials
    tatango.set_credentials(credentials["email"], credentials["api_key"])
    headers = urllib3.make_headers(basic_auth=f"{credentials['email']}:{credentials['api_key']}")

    answer = urllib3.request(
        request["method"],
        request["url"],
        body=json.dumps(request["body"]),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert answer.status == 200, answer.data
    tatango.subscribe(4242, "+12065550177")
    assert tatango.text_stop(4242, "+12065550177")
    assert deliver_webhooks(local.emulator)

    [published] = local.queue_bodies()
    assert published["phone_number"] == "+12065550177"
    assert published["origin"]["list_id"] == 4242


STACK = "relay-hooks"
URL = "https://abcdefghijklmnop.lambda-url.us-east-1.on.aws/"
TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Targets": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "relay-hooks-targets",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "document", "AttributeType": "S"},
                    {"AttributeName": "version", "AttributeType": "N"},
                ],
                "KeySchema": [
                    {"AttributeName": "document", "KeyType": "HASH"},
                    {"AttributeName": "version", "KeyType": "RANGE"},
                ],
            },
        },
    },
    "Outputs": {
        "TargetsTableName": {"Value": {"Ref": "Targets"}},
        "WebhookSecretArn": {"Value": "ARN"},  # moto's CloudFormation makes no secrets
        "WebhookUrl": {"Value": URL},
    },
}


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        secret = {"tatango_token": "T" * 48, "trackly_signing_secret": ""}
        arn = session.client("secretsmanager").create_secret(
            Name="relay-hooks/webhooks", SecretString=json.dumps(secret)
        )
        body = json.dumps(TEMPLATE).replace('"ARN"', json.dumps(arn["ARN"]))
        session.client("cloudformation").create_stack(StackName=STACK, TemplateBody=body)
        yield session


def test_on_a_stack_the_urls_come_from_its_outputs(cli: Cli, aws: Any) -> None:
    stack = ("--stack-name", STACK, "--region", "us-east-1")
    plan = cli.json("webhooks", "show", *stack)
    shown = cli.json("webhooks", "show", "--show-secrets", *stack)
    human = cli("webhooks", "show", "--show-secrets", *stack)

    assert plan["webhook_url"] == URL
    assert plan["tatango"][0]["url"] == "https://app.tatango.com/api/v2/lists/{LIST_ID}/webhooks"
    assert plan["tatango"][0]["body"]["webhook"]["url"] == URL + "tatango/${TATANGO_WEBHOOK_TOKEN}"
    assert shown["tatango"][0]["body"]["webhook"]["url"] == URL + "tatango/" + "T" * 48
    assert shown["trackly"][0]["signing_secret"] is None
    assert "NOT SET" in human.stdout


def test_a_stack_without_the_receiver_says_so(cli: Cli, aws: Any) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "old-queue"}}},
        "Outputs": {"TargetsTableName": {"Value": "old-targets"}},
    }
    aws.client("cloudformation").create_stack(StackName="old-stack", TemplateBody=json.dumps(template))

    result = cli("webhooks", "show", "--stack-name", "old-stack", "--region", "us-east-1")

    assert result.exit_code == 1
    assert "WebhookUrl" in result.output
