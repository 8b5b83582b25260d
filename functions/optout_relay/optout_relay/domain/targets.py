"""The targets document: the sender's provider accounts and their lists, and which of
them an opt-out reaches (its scope).

Pure: no boto3, no provider module. A provider's rules come in through the
``ProviderRules`` port. Parsing and validation are in ``targets_document.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from optout_relay.domain.model import ListRef
from optout_relay.domain.provider_rules import ProviderRules
from optout_relay.errors import PermanentError

# The version of the document built from the environment when none is stored.
DEFAULT_VERSION = 0


@dataclass(frozen=True)
class ProviderDefaults:
    """What an account of a provider gets when the document does not say: the settings'
    ``<NAME>_BASE_URL`` and ``<NAME>_MAX_RPS``, and the ``<NAME>_SECRET_ID`` of the
    provider's default account."""

    rules: ProviderRules
    base_url: str
    max_rps: float | None
    secret_id: str


@dataclass(frozen=True)
class TargetList:
    ref: ListRef
    purposes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Account:
    id: str
    provider: str
    secret_id: str
    base_url: str
    max_rps: float | None  # calls per second for this account; None: unlimited
    lists: tuple[TargetList, ...] = ()


@dataclass(frozen=True)
class Target:
    """One list at one account: what one provider call reaches."""

    account: Account
    list_ref: ListRef
    purposes: frozenset[str]
    name: str  # the provider contract's ``target_name``

    @property
    def provider(self) -> str:
        return self.account.provider


@dataclass(frozen=True)
class TargetsDocument:
    """A parsed, valid document. Immutable; ``version`` 0 is the default (none stored)."""

    version: int
    accounts: tuple[Account, ...]
    defaults: Mapping[str, ProviderDefaults] = field(compare=False, repr=False)
    _by_id: Mapping[str, Account] = field(init=False, compare=False, repr=False)
    _holders: Mapping[tuple[str, str], tuple[Account, TargetList]] = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        by_id = {account.id: account for account in self.fallback_accounts()}
        by_id.update({account.id: account for account in self.accounts})
        holders = {
            (account.provider, listed.ref.value): (account, listed)
            for account in self.accounts
            for listed in account.lists
        }
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))
        object.__setattr__(self, "_holders", MappingProxyType(holders))

    @property
    def is_stored(self) -> bool:
        return self.version != DEFAULT_VERSION

    @property
    def list_count(self) -> int:
        return sum(len(account.lists) for account in self.accounts)

    def fallback_accounts(self) -> tuple[Account, ...]:
        """The default account (id = provider name, from the settings) of every provider the
        document has no account of: its producers' single-list events keep working."""
        present = {account.provider for account in self.accounts}
        missing = [name for name in self.defaults if name not in present]
        return tuple(_default_account(name, self.defaults[name]) for name in missing)

    def all_accounts(self) -> tuple[Account, ...]:
        """Every account an opt-out can reach: the document's, then the fallbacks."""
        return self.accounts + self.fallback_accounts()

    def account(self, account_id: str) -> Account | None:
        return self._by_id.get(account_id)

    def holder(self, provider: str, list_ref: ListRef) -> tuple[Account, TargetList] | None:
        """The account of ``provider`` that lists ``list_ref`` (at most one: validation)."""
        return self._holders.get((provider, list_ref.value))

    def target(self, account: Account, list_ref: ListRef) -> Target:
        held = self.holder(account.provider, list_ref)
        purposes = held[1].purposes if held and held[0].id == account.id else frozenset()
        name = self.defaults[account.provider].rules.target_name(account.id, list_ref)
        return Target(account, list_ref, purposes, name)


def _default_account(provider: str, defaults: ProviderDefaults) -> Account:
    return Account(provider, provider, defaults.secret_id, defaults.base_url, defaults.max_rps)


def default_document(defaults: Mapping[str, ProviderDefaults]) -> TargetsDocument:
    """The document in force when none is stored: one account per provider, named after
    it, with the settings' secret, base URL and rate, and no lists (today's relay)."""
    return TargetsDocument(DEFAULT_VERSION, (), defaults)


class TargetsSource(Protocol):
    """Where the relay gets the document in force (``aws/targets_store.py`` on AWS)."""

    def current(self) -> TargetsDocument:
        """The latest valid version; raises ``TransientError`` if none can be read."""

    def version(self, number: int) -> TargetsDocument | None:
        """That version, or ``None`` if it does not exist (or no longer passes validation)."""


@dataclass(frozen=True)
class FixedTargets:
    """A source that always answers one document (no store configured; tests)."""

    document: TargetsDocument

    def current(self) -> TargetsDocument:
        return self.document

    def version(self, number: int) -> TargetsDocument | None:
        return self.document if number == self.document.version else None


# ------------------------------------------------------------------ scopes


class NoTargets(PermanentError):
    """The scope reaches no target: retrying cannot help, the operator must fix something.

    Codes: ``no_targets_document``, ``no_matching_targets``, ``unknown_account``,
    ``ambiguous_account``."""


class ScopeKind(StrEnum):
    SINGLE = "single"  # one list of one provider (an event naming provider + list)
    PROVIDER = "provider"  # every list of one provider's accounts (or of one account)
    EVERYWHERE = "everywhere"  # every list of every account (revoke-all)


def normalise_purpose(tag: str) -> str:
    return tag.strip().lower()


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    provider: str | None = None
    list_ref: ListRef | None = None
    account: str | None = None
    purposes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "purposes", frozenset(normalise_purpose(p) for p in self.purposes))
        single = self.kind is ScopeKind.SINGLE
        if (self.provider is None) != (self.kind is ScopeKind.EVERYWHERE):
            raise ValueError(f"a {self.kind} scope {'has no' if self.provider else 'needs a'} provider")
        if (self.list_ref is not None) != single:
            raise ValueError(f"a {self.kind} scope {'needs' if single else 'has no'} list reference")
        if self.account is not None and self.kind is ScopeKind.EVERYWHERE:
            raise ValueError("an everywhere scope names no account")
        if self.purposes and single:
            raise ValueError("purposes narrow provider and everywhere scopes only")

    @classmethod
    def single(cls, provider: str, list_ref: ListRef, account: str | None = None) -> Scope:
        return cls(ScopeKind.SINGLE, provider, list_ref, account)

    @classmethod
    def of_provider(cls, provider: str, account: str | None = None, purposes: Iterable[str] = ()) -> Scope:
        return cls(ScopeKind.PROVIDER, provider, None, account, frozenset(purposes))

    @classmethod
    def everywhere(cls, purposes: Iterable[str] = ()) -> Scope:
        return cls(ScopeKind.EVERYWHERE, purposes=frozenset(purposes))


def select_targets(document: TargetsDocument, scope: Scope) -> tuple[Target, ...]:
    """The targets ``scope`` reaches in ``document``, in document order; raises ``NoTargets``."""
    if scope.provider is not None and scope.provider not in document.defaults:
        raise NoTargets(
            "unknown_provider",
            f"provider {scope.provider!r} is not one of: {', '.join(sorted(document.defaults))}",
        )
    if scope.kind is ScopeKind.SINGLE:
        assert scope.provider is not None and scope.list_ref is not None
        return (document.target(_single_account(document, scope), scope.list_ref),)
    if not document.is_stored:
        raise NoTargets(
            "no_targets_document",
            f"a {scope.kind} scope needs a targets document, and none is stored: apply one with "
            "`optout-relay targets apply FILE`, or name the provider and list",
        )
    accounts = document.accounts
    if scope.kind is ScopeKind.PROVIDER:
        assert scope.provider is not None
        if scope.account is not None:
            accounts = (_named_account(document, scope.account, scope.provider),)
        accounts = tuple(account for account in accounts if account.provider == scope.provider)
    targets = tuple(
        document.target(account, listed.ref)
        for account in accounts
        for listed in account.lists
        if not scope.purposes or listed.purposes & scope.purposes
    )
    if not targets:
        raise NoTargets("no_matching_targets", _nothing_matched(document, scope))
    return targets


def _single_account(document: TargetsDocument, scope: Scope) -> Account:
    assert scope.provider is not None and scope.list_ref is not None
    if scope.account is not None:
        return _named_account(document, scope.account, scope.provider)
    held = document.holder(scope.provider, scope.list_ref)
    if held is not None:
        return held[0]
    named = document.account(scope.provider)
    if named is not None:
        return named
    candidates = [account for account in document.all_accounts() if account.provider == scope.provider]
    if len(candidates) == 1:
        return candidates[0]
    field_name = document.defaults[scope.provider].rules.list_field
    raise NoTargets(
        "ambiguous_account",
        f"{scope.provider} {field_name} {scope.list_ref.value} is in no account of targets document "
        f"version {document.version}, and {scope.provider} has {len(candidates)} accounts there "
        f"({', '.join(a.id for a in candidates)}) but none named {scope.provider!r}: name the `account`, "
        "or add the list to one of them",
    )


def _named_account(document: TargetsDocument, account_id: str, provider: str) -> Account:
    account = document.account(account_id)
    if account is None:
        known = ", ".join(a.id for a in document.all_accounts() if a.provider == provider) or "none"
        raise NoTargets(
            "unknown_account",
            f"account {account_id!r} is not in targets document version {document.version} "
            f"({provider} accounts: {known})",
        )
    if account.provider != provider:
        raise NoTargets(
            "unknown_account",
            f"account {account_id!r} is a {account.provider} account, not a {provider} one",
        )
    return account


def _nothing_matched(document: TargetsDocument, scope: Scope) -> str:
    where = "any account" if scope.kind is ScopeKind.EVERYWHERE else f"provider {scope.provider}"
    if scope.account is not None:
        where = f"account {scope.account}"
    wanted = f" tagged with any of the purposes {', '.join(sorted(scope.purposes))}" if scope.purposes else ""
    return (
        f"targets document version {document.version} lists no list{wanted} at {where}: add the lists "
        "to the document (`optout-relay targets apply FILE`), or widen the scope"
        + (" or its purposes" if scope.purposes else "")
    )
