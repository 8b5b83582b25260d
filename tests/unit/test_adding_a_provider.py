"""The README's promise: adding a provider is one module and one registry line (plus its
variables in the template). Here the module is below, and the registry line is the
``setitem``: settings, contracts, the targets document, the event parser and the
template checks all pick the provider up from the registry alone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from optout_relay.domain.events import parse_optout
from optout_relay.domain.model import CallResult, Credentials, InboundMessage, ListRef, Phone, Status
from optout_relay.domain.targets import Scope, default_document, select_targets
from optout_relay.domain.targets_document import InvalidTargetsDocument, parse_targets_document
from optout_relay.errors import ConfigurationError
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.contract import FieldProblem, ProviderContract, require_secret_fields
from optout_relay.providers.http import HttpClient
from optout_relay.providers.registry import CONTRACTS, PROVIDERS, contract_defaults
from optout_relay.settings import Settings

from tests.infra import invariants as inv

REQUIRED = {
    "RESULTS_TABLE_NAME": "results",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq",
    "TRACKLY_SECRET_ID": "trackly",
    "TATANGO_SECRET_ID": "tatango",
}


# ------------------------------------------------------------------ the new provider's module
class FakeSmsContract(ProviderContract):
    name = "fakesms"
    default_base_url = "https://api.fakesms.example"
    default_max_rps = 5.0
    list_field = "campaign"

    def parse_list_value(self, value: object, default_region: str) -> ListRef:
        if not isinstance(value, str) or not value.isalnum():
            raise FieldProblem("schema_violation", "must be a campaign code (letters and digits)")
        return ListRef(self.list_field, value.upper())

    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        (token,) = require_secret_fields(self.name, secret, "token")
        return Credentials(api_key=token)


class FakeSmsAdapter(FakeSmsContract, ProviderAdapter):
    def unsubscribe(self, phone: Phone, list_ref: ListRef, credentials: Credentials) -> CallResult:
        return CallResult(Status.UNSUBSCRIBED, 200)


# ------------------------------------------------------------------ the registry line
@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS, FakeSmsAdapter.name, FakeSmsAdapter)


def test_its_contract_is_registered_without_a_client() -> None:
    contract = CONTRACTS["fakesms"]
    assert type(contract) is FakeSmsContract


def test_settings_read_its_variables() -> None:
    with pytest.raises(ConfigurationError, match="FAKESMS_SECRET_ID"):
        Settings.from_env(REQUIRED)
    settings = Settings.from_env({**REQUIRED, "FAKESMS_SECRET_ID": "relay/fakesms", "FAKESMS_MAX_RPS": "2"})
    assert settings.providers["fakesms"].base_url == "https://api.fakesms.example"
    assert settings.providers["fakesms"].max_rps == 2
    assert Settings.from_env({**REQUIRED, "FAKESMS_SECRET_ID": "s"}).providers["fakesms"].max_rps == 5.0


def test_the_default_document_has_its_default_account() -> None:
    settings = Settings.from_env({**REQUIRED, "FAKESMS_SECRET_ID": "relay/fakesms"})
    document = default_document(settings.provider_defaults())
    (target,) = select_targets(document, Scope.single("fakesms", ListRef("campaign", "SPRING")))
    assert (target.account.id, target.account.secret_id, target.name) == (
        "fakesms",
        "relay/fakesms",
        "fakesms#SPRING",
    )


def test_the_targets_document_validates_its_lists_with_its_contract() -> None:
    account = {"id": "fakesms-eu", "provider": "fakesms", "secret_id": "relay/fakesms-eu"}
    document = parse_targets_document(
        {"accounts": [{**account, "lists": [{"campaign": "spring", "purposes": ["marketing"]}]}]},
        version=1,
        defaults=contract_defaults(),
    )
    assert document.accounts[0].lists[0].ref == ListRef("campaign", "SPRING")
    assert document.accounts[0].max_rps == 5.0
    with pytest.raises(InvalidTargetsDocument) as caught:
        parse_targets_document(
            {"accounts": [{**account, "lists": [{"campaign": "no way"}, {"list_id": 4}]}]},
            version=1,
            defaults=contract_defaults(),
        )
    assert caught.value.problems == [
        "accounts[0].lists[0].campaign: must be a campaign code (letters and digits)",
        "accounts[0].lists[1].list_id: names a tatango list; lists of this account are named by campaign",
        "accounts[0].lists[1]: campaign is required for a fakesms list",
    ]


def test_events_name_it() -> None:
    http = HttpClient(timeout_seconds=1)
    adapters = {name: cls(cls.default_base_url, http) for name, cls in PROVIDERS.items()}
    body = json.dumps({"provider": "fakesms", "phone_number": "+14155559876", "campaign": "spring"})
    optout = parse_optout(InboundMessage("m-1", body, 1), adapters, "US")
    assert (optout.provider, optout.list_ref.value) == ("fakesms", "SPRING")


def test_the_template_checks_ask_for_its_variables() -> None:
    missing = inv.check_environment_defined(inv.load_template(), inv.env_vars_the_template_must_set())
    assert missing == [
        f"{name} is read by the code but not set on the function"
        for name in ("FAKESMS_BASE_URL", "FAKESMS_MAX_RPS", "FAKESMS_SECRET_ID")
    ]


def test_the_cli_validates_its_accounts(tmp_path: Path) -> None:
    from optout_relay_dev.cli import app
    from typer.testing import CliRunner

    path = tmp_path / "targets.json"
    account = {"id": "fakesms-eu", "provider": "fakesms", "secret_id": "relay/fakesms-eu"}
    path.write_text(json.dumps({"accounts": [{**account, "lists": [{"campaign": "spring"}]}]}))
    result = CliRunner().invoke(app, ["targets", "validate", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "fakesms 1 on 1 account(s)" in result.stdout
