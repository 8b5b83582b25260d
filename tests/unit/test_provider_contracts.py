"""Each provider's contract (no I/O) apart from its client, and the adapter built on it."""

from __future__ import annotations

import pytest
from optout_relay.domain.model import ListRef
from optout_relay.domain.phone import normalise_phone
from optout_relay.domain.provider_rules import FieldProblem, ProviderRules
from optout_relay.errors import TransientError
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.contract import ProviderContract
from optout_relay.providers.http import HttpClient
from optout_relay.providers.registry import CONTRACTS, PROVIDERS


def test_every_registered_provider_has_a_contract_without_an_http_pool() -> None:
    assert set(CONTRACTS) == set(PROVIDERS)
    for name, contract in CONTRACTS.items():
        assert contract.name == name
        assert isinstance(contract, ProviderContract)
        assert not isinstance(contract, ProviderAdapter)
        assert not hasattr(contract, "http")
        assert contract.list_field
        assert contract.default_base_url.startswith("https://")


def test_per_account_rate_defaults() -> None:
    assert CONTRACTS["tatango"].default_max_rps == pytest.approx(1200 / 3600)
    assert CONTRACTS["trackly"].default_max_rps is None


def test_list_fields() -> None:
    assert CONTRACTS["trackly"].list_field == "list_number"
    assert CONTRACTS["tatango"].list_field == "list_id"


@pytest.mark.parametrize(
    ("provider", "value", "expected"),
    [
        ("tatango", 4242, "4242"),
        ("tatango", "0042", "42"),
        ("tatango", 42.0, "42"),
        ("trackly", "(800) 555-1234", "+18005551234"),
        ("trackly", "+18005551234", "+18005551234"),
    ],
)
def test_list_values_are_normalised(provider: str, value: object, expected: str) -> None:
    contract = CONTRACTS[provider]
    assert contract.parse_list_value(value, "US") == ListRef(contract.list_field, expected)


@pytest.mark.parametrize(
    ("provider", "value", "code"),
    [
        ("tatango", 0, "schema_violation"),
        ("tatango", True, "schema_violation"),
        ("tatango", "12a", "schema_violation"),
        ("trackly", "800555", "invalid_list_number"),
        ("trackly", 18005551234, "invalid_list_number"),
    ],
)
def test_invalid_list_values_leave_the_field_name_out(provider: str, value: object, code: str) -> None:
    contract = CONTRACTS[provider]
    with pytest.raises(FieldProblem) as caught:
        contract.parse_list_value(value, "US")
    assert caught.value.code == code
    assert not caught.value.message.startswith(contract.list_field)


def test_an_event_names_the_field_in_its_problem() -> None:
    with pytest.raises(FieldProblem) as caught:
        CONTRACTS["tatango"].parse_list({"list_id": "x"}, "US")
    assert caught.value.message == "list_id must be a positive integer (or a string of digits)"
    with pytest.raises(FieldProblem, match="list_number is required for provider 'trackly'"):
        CONTRACTS["trackly"].parse_list({}, "US")


def test_phone_rules_and_credentials_need_no_client() -> None:
    tatango = CONTRACTS["tatango"]
    tatango.check_phone(normalise_phone("+12065550123", "US"))
    with pytest.raises(FieldProblem, match="US and Canadian"):
        tatango.check_phone(normalise_phone("+442071838750", "US"))
    credentials = tatango.credentials_from({"email": "ops@example.com", "api_key": "k"})
    assert (credentials.login, credentials.api_key) == ("ops@example.com", "k")
    with pytest.raises(TransientError, match="api_key"):
        CONTRACTS["trackly"].credentials_from({"key": "k"})


def test_targets_are_named_account_then_list() -> None:
    ref = ListRef("list_id", "4242")
    assert CONTRACTS["tatango"].target_name("tatango-brand-b", ref) == "tatango-brand-b#4242"
    # The default account is named after its provider: the ledger's key prefix of old.
    assert CONTRACTS["tatango"].target_name("tatango", ref) == "tatango#4242"


def test_the_adapter_is_its_contract_plus_the_call() -> None:
    http = HttpClient(timeout_seconds=1)
    for name, adapter_class in PROVIDERS.items():
        adapter = adapter_class(adapter_class.default_base_url, http)
        contract = CONTRACTS[name]
        assert isinstance(adapter, type(contract))
        assert adapter.list_field == contract.list_field
        assert adapter.default_max_rps == contract.default_max_rps
        rules: ProviderRules = adapter  # the domain's port, as the targets document takes it
        assert rules.name == name
