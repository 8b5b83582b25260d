"""Reading and writing the targets table for the CLI, in the function's own format
(``optout_relay.aws.targets_store``) and with its own validation."""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError
from optout_relay.aws.targets_store import (
    DOCUMENT_NAME,
    LOOK_BACK_VERSIONS,
    PARTITION_KEY,
    SORT_KEY,
    StoredTargets,
    decode_item,
    encode_item,
)
from optout_relay.domain.targets import TargetsDocument
from optout_relay.domain.targets_document import InvalidTargetsDocument, parse_targets_document
from optout_relay.providers.registry import contract_defaults

from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.target import TARGETS_TABLE, Target

# template.yaml lets the function read the secrets named <stack>/accounts/...
ACCOUNT_SECRET_PREFIX = "accounts/"  # noqa: S105 - a name prefix, not a secret


@dataclass(frozen=True)
class StoredVersion:
    stored: StoredTargets
    document: TargetsDocument


@dataclass(frozen=True)
class Versions:
    """The table as the function sees it: the newest stored version number, the version in
    force (the newest valid one) and any newer versions that fail validation."""

    latest: int = 0
    in_force: StoredVersion | None = None
    refused: list[tuple[int, list[str]]] = field(default_factory=list)


def read_document_file(path: Path) -> Any:
    """A YAML or JSON file (JSON is YAML too, but its errors read better as JSON's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CliError(
            f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {first_line}"
        ) from None


def parse_document(raw: Any, phone_region: str, version: int = 0) -> TargetsDocument:
    """Validated with the providers' contracts (the CLI knows no function settings)."""
    return parse_targets_document(
        raw, version=version, defaults=contract_defaults(), default_region=phone_region.upper()
    )


def encoded_size(raw: Any) -> int:
    try:
        item = encode_item(1, raw, applied_at="", applied_by="")
    except ValueError as error:
        raise CliError(f"the document is too large to store: {error}") from None
    return len(item["body"]["B"])


def read_versions(target: Target, phone_region: str) -> Versions:
    dynamodb = target.client("dynamodb")
    items = dynamodb.query(
        TableName=target.output(TARGETS_TABLE),
        KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": PARTITION_KEY},
        ExpressionAttributeValues={":d": {"S": DOCUMENT_NAME}},
        ScanIndexForward=False,
        Limit=LOOK_BACK_VERSIONS,
        ConsistentRead=True,
    ).get("Items", [])
    if not items:
        return Versions()
    refused: list[tuple[int, list[str]]] = []
    for item in items:
        number = int(item[SORT_KEY]["N"])
        try:
            stored = decode_item(item)
            document = parse_document(stored.body, phone_region, version=number)
        except InvalidTargetsDocument as error:
            refused.append((number, error.problems))
            continue
        except ValueError as error:
            refused.append((number, [str(error)]))
            continue
        return Versions(int(items[0][SORT_KEY]["N"]), StoredVersion(stored, document), refused)
    return Versions(int(items[0][SORT_KEY]["N"]), None, refused)


def put_version(target: Target, version: int, raw: Any, applied_by: str) -> None:
    """Version ``version``, written whole, and only if no one wrote it first."""
    applied_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    item = encode_item(version, raw, applied_at=applied_at, applied_by=applied_by)
    try:
        target.client("dynamodb").put_item(
            TableName=target.output(TARGETS_TABLE),
            Item=item,
            ConditionExpression="attribute_not_exists(#v)",
            ExpressionAttributeNames={"#v": SORT_KEY},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise CliError(
                f"version {version} was applied by someone else meanwhile; nothing was written: "
                "run `optout-relay targets diff FILE` again and re-apply"
            ) from None
        raise


def who_applies(target: Target) -> str:
    if target.is_local:
        return f"local:{getpass.getuser()}"
    try:
        return str(target.client("sts").get_caller_identity()["Arn"])
    except ClientError:
        return f"unknown:{getpass.getuser()}"


def secrets_the_function_cannot_read(target: Target, document: TargetsDocument) -> list[str]:
    """Accounts whose secret is outside what the stack's role may read (template.yaml:
    the stack's own secrets and ``<stack>/accounts/*``)."""
    if target.stack_name is None:
        return []
    stack_secrets = {
        value
        for key, value in target.outputs.items()
        if key.endswith("SecretArn") and key != "WebhookSecretArn"  # the receiver's, not the relay's
    }
    prefix = f"{target.stack_name}/{ACCOUNT_SECRET_PREFIX}"
    unreadable = []
    for account in document.accounts:
        secret = account.secret_id
        name = secret.split(":secret:", 1)[1] if ":secret:" in secret else secret
        if secret in stack_secrets or name.startswith(prefix):
            continue
        unreadable.append(f"{account.id}: secret {secret} is not under {prefix}")
    return unreadable


def create_local_secrets(
    target: Target, document: TargetsDocument, credentials: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """On the local emulation: every account secret that does not exist yet, holding the
    credentials the provider's simulator accepts. Returns the ids created."""
    secretsmanager = target.client("secretsmanager")
    created = []
    for account in document.accounts:
        if account.provider not in credentials or ":secret:" in account.secret_id:
            continue
        try:
            secretsmanager.describe_secret(SecretId=account.secret_id)
            continue
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        secretsmanager.create_secret(
            Name=account.secret_id, SecretString=json.dumps(dict(credentials[account.provider]))
        )
        created.append(account.secret_id)
    return created
