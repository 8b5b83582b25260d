"""The targets document: what is valid, and every problem of what is not, with its path."""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import pytest
from optout_relay.domain.model import ListRef
from optout_relay.domain.targets import TargetsDocument
from optout_relay.domain.targets_document import (
    MAX_LISTS,
    InvalidTargetsDocument,
    parse_targets_document,
)
from optout_relay.providers.registry import CONTRACTS, contract_defaults

from tests.targets_samples import DEFAULTS, sample_document, thousand_lists


def parse(raw: Any, version: int = 3) -> TargetsDocument:
    return parse_targets_document(raw, version=version, defaults=DEFAULTS)


def problems(raw: Any) -> list[str]:
    with pytest.raises(InvalidTargetsDocument) as caught:
        parse(raw)
    return caught.value.problems


def test_a_valid_document_is_read_with_defaults_filled_in() -> None:
    document = parse(sample_document())
    assert document.version == 3
    assert document.is_stored
    assert [a.id for a in document.accounts] == ["tatango-brand-a", "tatango-brand-b", "trackly"]
    brand_b = document.accounts[1]
    assert brand_b.base_url == "https://tatango.example.com"
    assert brand_b.max_rps == pytest.approx(0.5)
    brand_a = document.accounts[0]
    # Not set: the provider's defaults (here the settings'; the contract's in the CLI).
    assert brand_a.base_url == DEFAULTS["tatango"].base_url
    assert brand_a.max_rps == pytest.approx(1200 / 3600)
    assert brand_a.lists[0].ref == ListRef("list_id", "4242")
    assert brand_a.lists[0].purposes == frozenset({"marketing"})
    trackly = document.accounts[2]
    assert trackly.max_rps is None
    # National format, normalised with the default region; purposes lower-cased.
    assert trackly.lists[0].ref == ListRef("list_number", "+18005551234")
    assert trackly.lists[0].purposes == frozenset({"marketing", "informational"})
    assert document.list_count == 5


def test_a_parsed_document_is_immutable() -> None:
    document = parse(sample_document())
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.version = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        document.defaults["tatango"] = DEFAULTS["trackly"]  # type: ignore[index]
    assert isinstance(document.accounts, tuple)
    assert isinstance(document.accounts[0].lists, tuple)


def test_every_problem_is_listed_with_its_path() -> None:
    raw = sample_document()
    raw["accounts"][0]["lists"][1]["list_id"] = "12a"
    raw["accounts"][1]["max_rps"] = "fast"
    raw["accounts"][1]["base_url"] = "http://tatango.example.com"
    raw["accounts"][2]["lists"][0]["list_number"] = "555"
    raw["accounts"][2]["secret_id"] = ""
    found = problems(raw)
    assert found == [
        "accounts[0].lists[1].list_id: must be a positive integer (or a string of digits)",
        "accounts[1].base_url: must use https:// (plain http:// is allowed only for a loopback host), "
        "got 'http://tatango.example.com'",
        "accounts[1].max_rps: must be calls per second up to 100 (e.g. 10, 0.5 or 1200/3600) or 'unlimited'",
        "accounts[2].secret_id: is required: the name or ARN of the Secrets Manager secret that holds the "
        "account's credentials (the document never holds a key)",
        "accounts[2].lists[0].list_number: is not a valid, assignable number (E.164, or national for US)",
    ]


def test_unknown_keys_are_refused_and_credentials_named_as_such() -> None:
    raw = sample_document()
    raw["acounts"] = []
    raw["accounts"][0]["list"] = []
    raw["accounts"][0]["api_key"] = "do-not"
    raw["accounts"][0]["lists"][0]["purpose"] = "marketing"
    found = problems(raw)
    assert "(document).acounts: unknown key (allowed: accounts)" in found
    assert any(p.startswith("accounts[0].list: unknown key (allowed: id, provider,") for p in found)
    assert any(p.startswith("accounts[0].api_key: the document never holds credentials") for p in found)
    assert "accounts[0].lists[0].purpose: unknown key (allowed: list_id, purposes)" in found
    assert not any("do-not" in p for p in found)


def test_account_ids_are_checked_and_unique() -> None:
    raw = sample_document()
    raw["accounts"][1]["id"] = "tatango-brand-a"
    raw["accounts"].append({"id": "Brand C", "provider": "tatango", "secret_id": "s"})
    raw["accounts"].append({"id": "trackly", "provider": "tatango", "secret_id": "s"})
    raw["accounts"].append({"id": "x", "provider": "sendgrid", "secret_id": "s"})
    found = problems(raw)
    assert "accounts[1].id: 'tatango-brand-a' is already the id of accounts[0]" in found
    assert any(p.startswith("accounts[3].id: is required: 1 to 64 lowercase letters") for p in found)
    # trackly is already the id of accounts[2], and names another provider anyway.
    assert "accounts[4].id: 'trackly' is already the id of accounts[2]" in found
    assert "accounts[5].provider: is not a known provider: one of tatango, trackly" in found


def test_an_account_named_after_another_provider_is_refused() -> None:
    found = problems({"accounts": [{"id": "trackly", "provider": "tatango", "secret_id": "s"}]})
    assert found == [
        "accounts[0].id: 'trackly' names provider trackly: only a trackly account may have that id"
    ]


def test_a_list_listed_twice_or_held_by_two_accounts_is_refused() -> None:
    raw = sample_document()
    raw["accounts"][0]["lists"].append({"list_id": "04242"})  # the same list as 4242
    raw["accounts"][1]["lists"].append({"list_id": 4243})
    found = problems(raw)
    assert found == [
        "accounts[0].lists[2].list_id: 4242 is already listed at accounts[0].lists[0]",
        "accounts[1].lists[1].list_id: 4243 is also held by accounts[0] (tatango-brand-a): a list belongs "
        "to one tatango account, or which one an opt-out reaches would be ambiguous",
    ]


def test_the_same_reference_at_two_providers_is_two_lists() -> None:
    # A Tatango list id and a Trackly list number never collide: different providers.
    document = parse(
        {
            "accounts": [
                {"id": "tatango", "provider": "tatango", "secret_id": "s", "lists": [{"list_id": 1}]},
                {
                    "id": "trackly",
                    "provider": "trackly",
                    "secret_id": "s",
                    "lists": [{"list_number": "+18005551234"}],
                },
            ]
        }
    )
    assert document.list_count == 2


def test_a_list_of_the_other_provider_is_named_as_such() -> None:
    raw = sample_document()
    raw["accounts"][0]["lists"].append({"list_number": "+18005551234"})
    assert problems(raw) == [
        "accounts[0].lists[2].list_number: names a trackly list; lists of this account are named by list_id",
        "accounts[0].lists[2]: list_id is required for a tatango list",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], ["(document): must be a mapping with an `accounts` list"]),
        ({}, ["accounts: must be a non-empty list of accounts"]),
        ({"accounts": []}, ["accounts: must be a non-empty list of accounts"]),
        ({"accounts": ["tatango"]}, ["accounts[0]: must be a mapping (id, provider, secret_id, lists, ...)"]),
    ],
)
def test_shapes(raw: Any, expected: list[str]) -> None:
    assert problems(raw) == expected


def test_purposes_and_yaml_numbers() -> None:
    raw = sample_document()
    raw["accounts"][0]["lists"][0]["purposes"] = "marketing"
    raw["accounts"][2]["lists"][0]["list_number"] = 18005551234  # YAML's reading of +18005551234
    found = problems(raw)
    assert found[0].startswith("accounts[0].lists[0].purposes: must be a list of at most 20 tags")
    assert found[1] == (
        "accounts[2].lists[0].list_number: must be a non-empty string (a number was given: quote it in YAML)"
    )


def test_an_account_without_lists_is_valid() -> None:
    document = parse({"accounts": [{"id": "trackly", "provider": "trackly", "secret_id": "relay/trackly"}]})
    assert document.accounts[0].lists == ()


def test_at_least_a_thousand_lists_fit_and_read_quickly() -> None:
    raw = thousand_lists(1_200)
    started = time.process_time()
    document = parse(raw)
    assert document.list_count == 1_200
    assert len({(a.provider, listed.ref.value) for a in document.accounts for listed in a.lists}) == 1_200
    # Generous: about 0.05 s here. A document is read once per version per environment.
    assert time.process_time() - started < 2.0


def test_more_lists_than_the_maximum_are_refused() -> None:
    raw = thousand_lists(4)
    raw["accounts"][1]["lists"] = [{"list_id": n} for n in range(1, MAX_LISTS + 2)]
    expected = f"accounts: {MAX_LISTS + 4:,} lists; a document holds at most {MAX_LISTS:,}"
    assert problems(copy.deepcopy(raw)) == [expected]


def test_contract_defaults_need_no_settings() -> None:
    document = parse_targets_document(sample_document(), version=1, defaults=contract_defaults())
    assert document.accounts[0].base_url == CONTRACTS["tatango"].default_base_url
