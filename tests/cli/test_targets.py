"""`optout-relay targets validate | apply | show | diff` on the local emulation and a stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from optout_relay.aws.targets_store import DynamoTargetsStore
from optout_relay.domain.targets import Scope, select_targets
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.target import local_target, resolve_stack
from optout_relay_dev.cli.targets_access import parse_document, put_version

from tests.targets_samples import DEFAULTS, sample_document

from .conftest import Cli, Local


def write(path: Path, document: Any) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(document), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def document_file(tmp_path: Path) -> Path:
    return write(tmp_path / "targets.yaml", sample_document())


def test_validate_a_valid_file(cli: Cli, document_file: Path, tmp_path: Path) -> None:
    result = cli("targets", "validate", str(document_file))
    assert result.exit_code == 0, result.output
    assert "is valid: 3 account(s), 5 list(s): tatango 3 on 2 account(s), trackly 2 on 1 account(s)" in (
        result.stdout
    )
    as_json = write(tmp_path / "targets.json", sample_document())
    assert cli.json("targets", "validate", str(as_json)) == {"valid": True, "accounts": 3, "lists": 5}


def test_validate_lists_every_problem_and_fails(cli: Cli, tmp_path: Path) -> None:
    raw = sample_document()
    raw["accounts"][0]["lists"][1]["list_id"] = "12a"
    raw["accounts"][1]["secret"] = "x"
    raw["accounts"][2]["lists"][0]["list_number"] = "+18005551234"
    path = tmp_path / "bad.yaml"
    text = yaml.safe_dump(raw, sort_keys=False)
    assert "'+18005551234'" in text
    path.write_text(text.replace("'+18005551234'", "+18005551234"), encoding="utf-8")
    result = cli("targets", "validate", str(path))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"error: {path} is not a valid targets document (3 problem(s))"
    assert "accounts[0].lists[1].list_id: must be a positive integer (or a string of digits)" in lines[0]
    assert "accounts[1].secret: the document never holds credentials" in lines[1]
    assert (
        "accounts[2].lists[0].list_number: must be a non-empty string (a number was given: quote it"
        in (lines[2])
    )


def test_validate_unreadable_files(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    result = cli("targets", "validate", str(broken))
    assert result.exit_code == 1 and "is not valid JSON" in result.stderr
    missing = cli("targets", "validate", str(tmp_path / "none.yaml"))
    assert missing.exit_code == 1 and "cannot read" in missing.stderr


def test_apply_show_diff_on_the_local_emulation(cli: Cli, local: Local, document_file: Path) -> None:
    assert "No targets document in force" in cli("targets", "show").stdout

    applied = cli("targets", "apply", str(document_file))
    assert applied.exit_code == 0, applied.output
    assert "Applied version 1 (from no document): accounts: 3 added; lists: 5 added" in applied.stdout
    assert "within 50 s, no redeploy" in applied.stdout

    shown = cli.json("targets", "show")
    assert shown["version"] == 1
    assert shown["applied_by"].startswith("local:")
    assert shown["document"] == json.loads(json.dumps(sample_document()))
    text = cli("targets", "show").stdout
    assert "Version 1 in force" in text
    assert yaml.safe_load(text.split("\n", 1)[1]) == shown["document"]  # the YAML part re-applies
    assert "- id: tatango-brand-a\n  provider: tatango\n  secret_id: relay/accounts/tatango-brand-a\n" in text
    assert "  - list_id: 4242\n    purposes:\n" in text

    again = cli("targets", "apply", str(document_file))
    assert "No change: version 1 already says this; nothing was written." in again.stdout
    assert cli.json("targets", "show")["version"] == 1

    changed = sample_document()
    changed["accounts"][1]["max_rps"] = "2"
    changed["accounts"][0]["lists"][0]["purposes"] = ["marketing", "alerts"]
    changed["accounts"][0]["lists"].pop()
    del changed["accounts"][2]
    write(document_file, changed)
    diff = cli.json("targets", "diff", str(document_file))
    assert diff["in_force"] == 1
    assert diff["changes"] == [
        {
            "kind": "changed",
            "account": "tatango-brand-a",
            "list": "4242",
            "detail": "purposes marketing -> alerts, marketing",
        },
        {"kind": "removed", "account": "tatango-brand-a", "list": "4243", "detail": "informational"},
        {"kind": "changed", "account": "tatango-brand-b", "list": None, "detail": "max_rps 0.5/s -> 2/s"},
        {
            "kind": "removed",
            "account": "trackly",
            "list": None,
            "detail": "trackly, 2 list(s), secret relay/trackly",
        },
        {
            "kind": "removed",
            "account": "trackly",
            "list": "+18005551234",
            "detail": "informational, marketing",
        },
        {"kind": "removed", "account": "trackly", "list": "+18005550000", "detail": "no purposes"},
    ]
    assert cli.json("targets", "show")["version"] == 1  # diff writes nothing
    applied = cli.json("targets", "apply", str(document_file))
    assert (applied["version"], applied["applied"]) == (2, True)
    assert cli.json("targets", "show")["version"] == 2


def test_apply_refuses_an_invalid_document_and_the_old_one_stays(
    cli: Cli, local: Local, document_file: Path, tmp_path: Path
) -> None:
    assert cli("targets", "apply", str(document_file)).exit_code == 0
    raw = sample_document()
    raw["accounts"][1]["lists"].append({"list_id": 4242})
    raw["accounts"][1]["base_url"] = "http://tatango.example.com"
    bad = write(tmp_path / "bad.yaml", raw)
    result = cli("targets", "apply", str(bad))
    assert result.exit_code == 1
    assert "(2 problem(s))" in result.stderr
    assert "accounts[1].lists[1].list_id: 4242 is also held by accounts[0] (tatango-brand-a)" in result.stderr
    assert cli.json("targets", "show")["version"] == 1


def test_the_function_reads_what_the_cli_applied(cli: Cli, local: Local, document_file: Path) -> None:
    assert cli("targets", "apply", str(document_file)).exit_code == 0
    store = DynamoTargetsStore(
        local.state.targets_table_name, DEFAULTS, "US", dynamodb=local.state.client("dynamodb"), max_age=0
    )
    document = store.current()
    assert document.version == 1
    assert [t.name for t in select_targets(document, Scope.of_provider("tatango"))] == [
        "tatango-brand-a#4242",
        "tatango-brand-a#4243",
        "tatango-brand-b#5000",
    ]
    # The accounts' secrets now exist locally, with the simulators' credentials.
    secrets = local.state.client("secretsmanager")
    secret = json.loads(secrets.get_secret_value(SecretId="relay/accounts/tatango-brand-b")["SecretString"])
    assert set(secret) == {"email", "api_key"}


def test_two_applies_of_one_version_cannot_both_win(local: Local) -> None:
    target = local_target(local.state)
    put_version(target, 1, sample_document(), "first")
    with pytest.raises(CliError, match="version 1 was applied by someone else meanwhile"):
        put_version(target, 1, {"accounts": sample_document()["accounts"][:1]}, "second")
    store = DynamoTargetsStore(
        local.state.targets_table_name, DEFAULTS, "US", dynamodb=local.state.client("dynamodb"), max_age=0
    )
    assert store.current().list_count == 5


def test_show_names_a_refused_newer_version(cli: Cli, local: Local, document_file: Path) -> None:
    assert cli("targets", "apply", str(document_file)).exit_code == 0
    raw = sample_document()
    raw["accounts"][0]["lists"].append({"list_id": 0})
    put_version(local_target(local.state), 2, raw, "someone bypassing the CLI")
    shown = cli("targets", "show")
    assert "version 2 in the local emulation" in shown.stderr and "fails validation" in shown.stderr
    assert "Version 1 in force" in shown.stdout
    # Applying a valid document writes version 3, which is then in force.
    assert cli.json("targets", "apply", str(document_file))["version"] == 3


# ------------------------------------------------------------------ a deployed stack (moto)
STACK = "relay-test"
TRACKLY_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:relay-test/trackly-Ab"
TARGETS_TEMPLATE = {
    "Resources": {
        "Targets": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "relay-test-targets",
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
        "TracklySecretArn": {"Value": TRACKLY_SECRET_ARN},
    },
}


@pytest.fixture
def stack() -> Iterator[Any]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        session.client("cloudformation").create_stack(
            StackName=STACK, TemplateBody=json.dumps(TARGETS_TEMPLATE)
        )
        yield session


def test_apply_and_show_on_a_stack(cli: Cli, stack: Any, tmp_path: Path) -> None:
    raw = sample_document()
    raw["accounts"][0]["secret_id"] = f"{STACK}/accounts/tatango-brand-a"
    raw["accounts"][1]["secret_id"] = f"arn:aws:secretsmanager:us-east-1:1:secret:{STACK}/accounts/b-Xy"
    raw["accounts"][2]["secret_id"] = TRACKLY_SECRET_ARN
    path = write(tmp_path / "targets.yaml", raw)
    where = ("--stack-name", STACK, "--region", "us-east-1")
    applied = cli("targets", "apply", str(path), *where)
    assert applied.exit_code == 0, applied.output
    assert "warning" not in applied.stderr
    shown = cli.json("targets", "show", *where)
    assert shown["version"] == 1
    assert shown["applied_by"].startswith("arn:aws:")

    raw["accounts"][1]["secret_id"] = "other-stack/tatango"
    write(path, raw)
    diff = cli("targets", "diff", str(path), *where)
    assert "warning: tatango-brand-b: secret other-stack/tatango is not under relay-test/accounts/" in (
        diff.stderr
    )


def test_parse_document_uses_the_contracts(stack: Any) -> None:
    target = resolve_stack(STACK, "us-east-1", ["TargetsTableName"])
    assert target.output("TargetsTableName") == "relay-test-targets"
    assert parse_document(sample_document(), "us").accounts[0].base_url == "https://app.tatango.com"


def test_applying_locally_warns_about_a_base_url_off_this_machine(
    cli: Cli, local: Local, tmp_path: Path
) -> None:
    raw = sample_document()
    raw["accounts"][1]["base_url"] = "https://app.tatango.com"
    raw["accounts"][2]["base_url"] = local.simulator("trackly").base_url
    applied = cli("targets", "apply", str(write(tmp_path / "targets.yaml", raw)))
    assert applied.exit_code == 0, applied.output
    warnings = [line for line in applied.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {raw['accounts'][1]['id']}: base_url https://app.tatango.com is not the local "
        "simulator; its calls will fail. Leave base_url out to use the simulator."
    ]
