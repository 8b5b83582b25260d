"""Which targets a scope reaches, in a stored document and in the default one."""

from __future__ import annotations

from typing import Any

import pytest
from optout_relay.domain.model import ListRef
from optout_relay.domain.targets import (
    FixedTargets,
    NoTargets,
    Scope,
    ScopeKind,
    Target,
    TargetsDocument,
    default_document,
    select_targets,
)
from optout_relay.domain.targets_document import parse_targets_document
from optout_relay.errors import PermanentError

from tests.targets_samples import DEFAULTS, sample_document, thousand_lists

TATANGO_4242 = ListRef("list_id", "4242")
TRACKLY_LIST = ListRef("list_number", "+18005551234")


def stored(raw: dict[str, Any] | None = None) -> TargetsDocument:
    return parse_targets_document(raw or sample_document(), version=7, defaults=DEFAULTS)


def names(targets: tuple[Target, ...]) -> list[str]:
    return [target.name for target in targets]


def refusal(document: TargetsDocument, scope: Scope) -> NoTargets:
    with pytest.raises(NoTargets) as caught:
        select_targets(document, scope)
    assert isinstance(caught.value, PermanentError)  # to the DLQ, never retried
    return caught.value


# ------------------------------------------------------------------ no stored document


def test_default_document_is_one_account_per_provider_from_the_settings() -> None:
    document = default_document(DEFAULTS)
    assert document.version == 0
    assert not document.is_stored
    accounts = {a.id: a for a in document.all_accounts()}
    assert set(accounts) == {"trackly", "tatango"}
    assert accounts["tatango"].secret_id == "relay/tatango"
    assert accounts["tatango"].base_url == "https://app.tatango.com"
    assert accounts["tatango"].max_rps == pytest.approx(1200 / 3600)
    assert accounts["trackly"].lists == ()


def test_without_a_document_a_single_event_reaches_the_default_account_as_today() -> None:
    (target,) = select_targets(default_document(DEFAULTS), Scope.single("tatango", TATANGO_4242))
    assert (target.account.id, target.list_ref, target.purposes) == ("tatango", TATANGO_4242, frozenset())
    assert target.name == "tatango#4242"  # the ledger key prefix producers' events always had


@pytest.mark.parametrize("scope", [Scope.everywhere(), Scope.of_provider("tatango")])
def test_without_a_document_wider_scopes_say_what_to_fix(scope: Scope) -> None:
    error = refusal(default_document(DEFAULTS), scope)
    assert error.code == "no_targets_document"
    assert "optout-relay targets apply" in error.message


# ------------------------------------------------------------------ single


def test_single_reaches_the_account_that_holds_the_list() -> None:
    (target,) = select_targets(stored(), Scope.single("tatango", ListRef("list_id", "5000")))
    assert target.account.id == "tatango-brand-b"
    assert target.account.base_url == "https://tatango.example.com"
    assert target.name == "tatango-brand-b#5000"


def test_single_carries_the_lists_purposes() -> None:
    (target,) = select_targets(stored(), Scope.single("trackly", TRACKLY_LIST))
    assert target.purposes == frozenset({"marketing", "informational"})


def test_single_with_a_list_in_no_account_goes_to_the_account_named_after_the_provider() -> None:
    (target,) = select_targets(stored(), Scope.single("trackly", ListRef("list_number", "+18005559999")))
    assert target.account.id == "trackly"


def test_single_with_a_list_in_no_account_goes_to_the_providers_only_account() -> None:
    raw = sample_document()
    raw["accounts"] = raw["accounts"][1:]  # one Tatango account left, not named "tatango"
    (target,) = select_targets(stored(raw), Scope.single("tatango", ListRef("list_id", "1")))
    assert target.account.id == "tatango-brand-b"


def test_single_is_ambiguous_between_several_accounts_none_named_after_the_provider() -> None:
    error = refusal(stored(), Scope.single("tatango", ListRef("list_id", "1")))
    assert error.code == "ambiguous_account"
    assert "tatango-brand-a, tatango-brand-b" in error.message
    assert "name the `account`" in error.message


def test_single_for_a_provider_the_document_leaves_out_uses_its_default_account() -> None:
    raw = sample_document()
    raw["accounts"] = raw["accounts"][:2]  # no Trackly account in the document
    document = stored(raw)
    (target,) = select_targets(document, Scope.single("trackly", TRACKLY_LIST))
    assert (target.account.id, target.account.secret_id) == ("trackly", "relay/trackly")
    assert [a.id for a in document.fallback_accounts()] == ["trackly"]


def test_single_with_an_explicit_account() -> None:
    scope = Scope.single("tatango", TATANGO_4242, account="tatango-brand-b")
    (target,) = select_targets(stored(), scope)
    assert (target.account.id, target.purposes) == ("tatango-brand-b", frozenset())


@pytest.mark.parametrize(
    ("account", "fragment"),
    [("tatango-brand-z", "not in targets document version 7"), ("trackly", "is a trackly account")],
)
def test_an_explicit_account_must_exist_and_be_of_the_provider(account: str, fragment: str) -> None:
    error = refusal(stored(), Scope.single("tatango", TATANGO_4242, account=account))
    assert error.code == "unknown_account"
    assert fragment in error.message


def test_an_unknown_provider_is_refused() -> None:
    assert refusal(stored(), Scope.of_provider("sendgrid")).code == "unknown_provider"


# ------------------------------------------------------------------ everywhere and provider


def test_everywhere_is_every_list_of_every_account_in_document_order() -> None:
    assert names(select_targets(stored(), Scope.everywhere())) == [
        "tatango-brand-a#4242",
        "tatango-brand-a#4243",
        "tatango-brand-b#5000",
        "trackly#+18005551234",
        "trackly#+18005550000",
    ]


def test_purposes_narrow_everywhere_to_lists_tagged_with_any_of_them() -> None:
    scope = Scope.everywhere(purposes=["Informational", "alerts"])
    assert names(select_targets(stored(), scope)) == ["tatango-brand-a#4243", "trackly#+18005551234"]


def test_provider_scope_is_every_list_of_its_accounts() -> None:
    assert names(select_targets(stored(), Scope.of_provider("tatango"))) == [
        "tatango-brand-a#4242",
        "tatango-brand-a#4243",
        "tatango-brand-b#5000",
    ]


def test_provider_scope_with_an_account_and_purposes() -> None:
    scope = Scope.of_provider("tatango", account="tatango-brand-a", purposes=["marketing"])
    assert names(select_targets(stored(), scope)) == ["tatango-brand-a#4242"]
    wrong_provider = Scope.of_provider("trackly", account="tatango-brand-a")
    assert refusal(stored(), wrong_provider).code == "unknown_account"


@pytest.mark.parametrize(
    "scope",
    [
        Scope.everywhere(purposes=["political"]),
        Scope.of_provider("tatango", account="tatango-brand-b", purposes=["marketing"]),
    ],
)
def test_a_scope_that_selects_nothing_says_what_to_fix(scope: Scope) -> None:
    error = refusal(stored(), scope)
    assert error.code == "no_matching_targets"
    assert "version 7" in error.message
    assert "widen the scope or its purposes" in error.message


def test_provider_scope_over_accounts_without_lists() -> None:
    raw = {"accounts": [{"id": "trackly", "provider": "trackly", "secret_id": "s"}]}
    assert refusal(stored(raw), Scope.of_provider("trackly")).code == "no_matching_targets"


# ------------------------------------------------------------------ scopes and sources


@pytest.mark.parametrize(
    "build",
    [
        lambda: Scope(ScopeKind.SINGLE, "tatango"),
        lambda: Scope(ScopeKind.EVERYWHERE, provider="tatango"),
        lambda: Scope(ScopeKind.EVERYWHERE, account="tatango"),
        lambda: Scope(ScopeKind.PROVIDER, "tatango", list_ref=TATANGO_4242),
        lambda: Scope(ScopeKind.SINGLE, "tatango", TATANGO_4242, purposes=frozenset({"marketing"})),
    ],
)
def test_a_scope_is_consistent(build: Any) -> None:
    with pytest.raises(ValueError, match="scope"):
        build()


def test_fixed_source_answers_its_one_version() -> None:
    document = stored()
    source = FixedTargets(document)
    assert source.current() is document
    assert source.version(7) is document
    assert source.version(6) is None


def test_everywhere_over_a_thousand_lists() -> None:
    document = stored(thousand_lists(1_000))
    targets = select_targets(document, Scope.everywhere())
    assert len(targets) == 1_000
    assert len({t.name for t in targets}) == 1_000
    marketing = select_targets(document, Scope.everywhere(purposes=["marketing"]))
    assert 0 < len(marketing) < 1_000
    assert all("marketing" in t.purposes for t in marketing)
