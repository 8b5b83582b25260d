"""What applying a targets document changes: accounts and lists added, removed, changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from optout_relay.domain.targets import Account, TargetList, TargetsDocument

Kind = Literal["added", "removed", "changed"]
ACCOUNT_FIELDS = ("provider", "secret_id", "base_url", "max_rps")


@dataclass(frozen=True)
class Change:
    kind: Kind
    account: str
    list: str | None  # None: the change is to the account itself
    detail: str

    def as_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "account": self.account, "list": self.list, "detail": self.detail}


@dataclass(frozen=True)
class Changes:
    items: tuple[Change, ...]

    def __bool__(self) -> bool:
        return bool(self.items)

    def count(self, kind: Kind, *, lists: bool) -> int:
        return sum(1 for c in self.items if c.kind == kind and (c.list is not None) == lists)

    def summary(self) -> str:
        if not self.items:
            return "no change"
        parts = []
        for noun, lists in (("account", False), ("list", True)):
            counts = [(kind, self.count(kind, lists=lists)) for kind in ("added", "removed", "changed")]
            shown = [f"{n} {kind}" for kind, n in counts if n]
            if shown:
                parts.append(f"{noun}s: {', '.join(shown)}")
        return "; ".join(parts)


def describe_rate(rate: float | None) -> str:
    return "unlimited" if rate is None else f"{rate:.6g}/s"


def _account_line(account: Account) -> str:
    return f"{account.provider}, {len(account.lists)} list(s), secret {account.secret_id}"


def _purposes(listed: TargetList) -> str:
    return ", ".join(sorted(listed.purposes)) or "no purposes"


def diff_documents(old: TargetsDocument | None, new: TargetsDocument) -> Changes:
    """From ``old`` (``None``: nothing stored) to ``new``, in ``new``'s order, removals last."""
    before = {account.id: account for account in (old.accounts if old else ())}
    after = {account.id: account for account in new.accounts}
    changes: list[Change] = []
    for account_id, account in after.items():
        previous = before.get(account_id)
        if previous is None:
            changes.append(Change("added", account_id, None, _account_line(account)))
            changes.extend(Change("added", account_id, t.ref.value, _purposes(t)) for t in account.lists)
        else:
            changes.extend(_account_changes(previous, account))
    for account_id, account in before.items():
        if account_id not in after:
            changes.append(Change("removed", account_id, None, _account_line(account)))
            changes.extend(Change("removed", account_id, t.ref.value, _purposes(t)) for t in account.lists)
    return Changes(tuple(changes))


def _account_changes(old: Account, new: Account) -> Iterable[Change]:
    fields = []
    for name in ACCOUNT_FIELDS:
        was, now = getattr(old, name), getattr(new, name)
        if was != now:
            shown = describe_rate if name == "max_rps" else str
            fields.append(f"{name} {shown(was)} -> {shown(now)}")
    if fields:
        yield Change("changed", new.id, None, "; ".join(fields))
    before = {listed.ref.value: listed for listed in old.lists}
    after = {listed.ref.value: listed for listed in new.lists}
    for value, listed in after.items():
        if value not in before:
            yield Change("added", new.id, value, _purposes(listed))
        elif before[value].purposes != listed.purposes:
            yield Change(
                "changed", new.id, value, f"purposes {_purposes(before[value])} -> {_purposes(listed)}"
            )
    for value, listed in before.items():
        if value not in after:
            yield Change("removed", new.id, value, _purposes(listed))
