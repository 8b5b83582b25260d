"""Reads a targets document (a mapping from JSON or YAML) into a ``TargetsDocument``.

Every problem is reported at once, each with its path
(``accounts[1].lists[3].list_id: must be a positive integer ...``), and nothing is
ever half-read: a document with any problem is refused whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optout_relay.domain.provider_rules import FieldProblem
from optout_relay.domain.targets import (
    Account,
    ProviderDefaults,
    TargetList,
    TargetsDocument,
    normalise_purpose,
)
from optout_relay.setting_values import RATE_SYNTAX, base_url_problem, parse_rate

# At least 1,000 lists must fit. The store keeps the body compressed: 10,000 lists of
# random ids and numbers measured 490 KB as JSON (over DynamoDB's 400 KB item) and 59 KB
# compressed. Reading one costs about 45 ms per 1,000 lists here (phone number checks).
MAX_LISTS = 10_000
MAX_ACCOUNTS = 200
MAX_PURPOSES = 20
MAX_PURPOSE_LENGTH = 64
MAX_SECRET_ID_LENGTH = 2048
ACCOUNT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
SECRET_ID = re.compile(r"^[A-Za-z0-9/_+=.@:-]+$")
DOCUMENT_KEYS = ("accounts",)
ACCOUNT_KEYS = ("id", "provider", "secret_id", "base_url", "max_rps", "lists")
# Keys someone might add to hold a credential: the document names a secret, never holds one.
CREDENTIAL_KEYS = frozenset({"api_key", "apikey", "key", "password", "token", "secret", "email", "login"})


class InvalidTargetsDocument(ValueError):
    """The document is refused; ``problems`` lists every one, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"the targets document has {len(problems)} problem(s): " + "; ".join(problems))
        self.problems = problems


@dataclass
class _Reader:
    defaults: Mapping[str, ProviderDefaults]
    default_region: str
    problems: list[str] = field(default_factory=list)
    # (provider, list value) -> (path of the account, account id, path of the list)
    seen_lists: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def keys(self, document: Mapping[Any, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in document:
            if key in allowed:
                continue
            shown = key if isinstance(key, str) and len(key) <= 40 else "?"
            if shown.lower() in CREDENTIAL_KEYS:
                self.problem(
                    f"{path}.{shown}",
                    "the document never holds credentials: put them in Secrets Manager and name "
                    "the secret in secret_id",
                )
            else:
                self.problem(f"{path}.{shown}", f"unknown key (allowed: {', '.join(allowed)})")


def parse_targets_document(
    raw: object,
    *,
    version: int,
    defaults: Mapping[str, ProviderDefaults],
    default_region: str = "US",
) -> TargetsDocument:
    """``raw`` as a valid document of ``version``, or ``InvalidTargetsDocument``.

    ``defaults`` holds each known provider's rules and what its accounts get when the
    document does not say; ``default_region`` reads national-format list numbers.
    """
    reader = _Reader(defaults, default_region)
    if not isinstance(raw, Mapping):
        raise InvalidTargetsDocument(["(document): must be a mapping with an `accounts` list"])
    reader.keys(raw, "(document)", DOCUMENT_KEYS)
    entries = raw.get("accounts")
    accounts: list[Account] = []
    if not isinstance(entries, list) or not entries:
        reader.problem("accounts", "must be a non-empty list of accounts")
    elif len(entries) > MAX_ACCOUNTS:
        reader.problem("accounts", f"{len(entries)} accounts; a document holds at most {MAX_ACCOUNTS}")
    else:
        ids: dict[str, str] = {}
        for index, entry in enumerate(entries):
            account = _account(reader, entry, f"accounts[{index}]", ids)
            if account is not None:
                accounts.append(account)
    lists = sum(len(entry.get("lists") or ()) for entry in entries or () if isinstance(entry, Mapping))
    if lists > MAX_LISTS:
        reader.problem("accounts", f"{lists:,} lists; a document holds at most {MAX_LISTS:,}")
    if reader.problems:
        raise InvalidTargetsDocument(reader.problems)
    return TargetsDocument(version, tuple(accounts), defaults)


def _account(reader: _Reader, entry: object, path: str, ids: dict[str, str]) -> Account | None:
    if not isinstance(entry, Mapping):
        reader.problem(path, "must be a mapping (id, provider, secret_id, lists, ...)")
        return None
    reader.keys(entry, path, ACCOUNT_KEYS)
    before = len(reader.problems)
    provider = _provider(reader, entry.get("provider"), f"{path}.provider")
    account_id = _account_id(reader, entry.get("id"), f"{path}.id", provider, ids)
    secret_id = _secret_id(reader, entry.get("secret_id"), f"{path}.secret_id")
    defaults = reader.defaults.get(provider or "")
    base_url = defaults.base_url if defaults else ""
    if entry.get("base_url") is not None:
        base_url = _base_url(reader, entry["base_url"], f"{path}.base_url")
    max_rps = defaults.max_rps if defaults else None
    if entry.get("max_rps") is not None:
        max_rps = _max_rps(reader, entry["max_rps"], f"{path}.max_rps", max_rps)
    lists: tuple[TargetList, ...] = ()
    if defaults is not None:
        lists = _lists(reader, entry.get("lists"), path, account_id or path, defaults)
    if len(reader.problems) > before or provider is None or account_id is None:
        return None
    return Account(account_id, provider, secret_id, base_url.rstrip("/"), max_rps, lists)


def _provider(reader: _Reader, value: object, path: str) -> str | None:
    if isinstance(value, str) and value in reader.defaults:
        return value
    known = ", ".join(sorted(reader.defaults))
    reader.problem(path, f"{'is required' if value is None else 'is not a known provider'}: one of {known}")
    return None


def _account_id(
    reader: _Reader, value: object, path: str, provider: str | None, ids: dict[str, str]
) -> str | None:
    if not isinstance(value, str) or not ACCOUNT_ID.match(value):
        reader.problem(
            path,
            "is required: 1 to 64 lowercase letters, digits and dashes, starting and ending with a "
            "letter or digit (e.g. tatango-brand-b)",
        )
        return None
    if value in ids:
        reader.problem(path, f"{value!r} is already the id of {ids[value]}")
        return None
    ids[value] = path.removesuffix(".id")
    if value in reader.defaults and provider is not None and value != provider:
        reader.problem(path, f"{value!r} names provider {value}: only a {value} account may have that id")
    return value


def _secret_id(reader: _Reader, value: object, path: str) -> str:
    if isinstance(value, str) and 0 < len(value) <= MAX_SECRET_ID_LENGTH and SECRET_ID.match(value):
        return value
    reader.problem(
        path,
        "is required: the name or ARN of the Secrets Manager secret that holds the account's "
        "credentials (the document never holds a key)",
    )
    return ""


def _base_url(reader: _Reader, value: object, path: str) -> str:
    problem = base_url_problem(value) if isinstance(value, str) else "must be a string (an https:// URL)"
    if problem:
        reader.problem(path, problem)
        return ""
    assert isinstance(value, str)
    return value


def _max_rps(reader: _Reader, value: object, path: str, default: float | None) -> float | None:
    text = str(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else ""
    rate = parse_rate(text)
    if rate is None:
        reader.problem(path, f"must be {RATE_SYNTAX}")
        return default
    return rate.per_second


def _lists(
    reader: _Reader, value: object, account_path: str, account_id: str, defaults: ProviderDefaults
) -> tuple[TargetList, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        reader.problem(f"{account_path}.lists", "must be a list")
        return ()
    rules = defaults.rules
    lists = []
    for index, entry in enumerate(value):
        path = f"{account_path}.lists[{index}]"
        if not isinstance(entry, Mapping):
            reader.problem(path, f"must be a mapping with {rules.list_field} (and optionally purposes)")
            continue
        _list_keys(reader, entry, path, rules.list_field)
        if rules.list_field not in entry:
            reader.problem(path, f"{rules.list_field} is required for a {rules.name} list")
            continue
        listed = _list(reader, entry, path, rules.list_field, defaults)
        if listed is None:
            continue
        key = (rules.name, listed.ref.value)
        if key in reader.seen_lists:
            holder_path, holder_id, first_path = reader.seen_lists[key]
            reader.problem(
                f"{path}.{rules.list_field}",
                f"{listed.ref.value} is already listed at {first_path}"
                if holder_id == account_id
                else f"{listed.ref.value} is also held by {holder_path} ({holder_id}): a list belongs to "
                f"one {rules.name} account, or which one an opt-out reaches would be ambiguous",
            )
            continue
        reader.seen_lists[key] = (account_path, account_id, path)
        lists.append(listed)
    return tuple(lists)


def _list_keys(reader: _Reader, entry: Mapping[Any, Any], path: str, list_field: str) -> None:
    others = {d.rules.list_field: d.rules.name for d in reader.defaults.values()}
    for key in entry:
        if key not in (list_field, "purposes") and key in others:
            message = f"names a {others[key]} list; lists of this account are named by {list_field}"
            reader.problem(f"{path}.{key}", message)
        elif key not in (list_field, "purposes"):
            reader.keys({key: None}, path, (list_field, "purposes"))


def _list(
    reader: _Reader, entry: Mapping[Any, Any], path: str, list_field: str, defaults: ProviderDefaults
) -> TargetList | None:
    value = entry[list_field]
    try:
        ref = defaults.rules.parse_list_value(value, reader.default_region)
    except FieldProblem as problem:
        hint = " (a number was given: quote it in YAML)" if isinstance(value, int | float) else ""
        reader.problem(f"{path}.{list_field}", problem.message + hint)
        return None
    purposes = _purposes(reader, entry.get("purposes"), f"{path}.purposes")
    return None if purposes is None else TargetList(ref, purposes)


def _purposes(reader: _Reader, value: object, path: str) -> frozenset[str] | None:
    if value is None:
        return frozenset()
    if (
        not isinstance(value, list)
        or len(value) > MAX_PURPOSES
        or not all(isinstance(t, str) and 0 < len(t.strip()) <= MAX_PURPOSE_LENGTH for t in value)
    ):
        reader.problem(
            path,
            f"must be a list of at most {MAX_PURPOSES} tags, each 1 to {MAX_PURPOSE_LENGTH} characters "
            "(e.g. [marketing, informational])",
        )
        return None
    return frozenset(normalise_purpose(tag) for tag in value)
