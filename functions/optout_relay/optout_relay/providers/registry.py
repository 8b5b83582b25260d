"""Every provider the relay can reach, by the name producers put in ``provider``.

One line per provider below; everything else (settings, targets document, CLI,
template checks) reads these two maps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from optout_relay.domain.targets import Account, ProviderDefaults
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.contract import ProviderContract
from optout_relay.providers.http import HttpClient
from optout_relay.providers.tatango import TatangoAdapter
from optout_relay.providers.trackly import TracklyAdapter

PROVIDERS: dict[str, type[ProviderAdapter]] = {
    adapter.name: adapter
    for adapter in (
        TracklyAdapter,
        TatangoAdapter,
    )
}


class _Contracts(Mapping[str, ProviderContract]):
    """The registered providers' contracts, always derived from ``PROVIDERS``."""

    def __getitem__(self, name: str) -> ProviderContract:
        return PROVIDERS[name].contract()

    def __iter__(self) -> Iterator[str]:
        return iter(PROVIDERS)

    def __len__(self) -> int:
        return len(PROVIDERS)


# The same providers' contracts: no HTTP pool, for anything that only validates.
CONTRACTS: Mapping[str, ProviderContract] = _Contracts()


def contract_defaults() -> dict[str, ProviderDefaults]:
    """Provider defaults from the contracts alone (no settings): what the tooling validates
    a targets document with. The function uses ``Settings.provider_defaults``."""
    return {
        name: ProviderDefaults(contract, contract.default_base_url, contract.default_max_rps, secret_id="")
        for name, contract in CONTRACTS.items()
    }


class AdapterPerAccount:
    """``domain.ports.AccountClients``: one adapter per provider and base URL, built on first
    use and shared by the accounts that have both (one HTTP pool for all of them)."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self._built: dict[tuple[str, str], ProviderAdapter] = {}
        self._lock = threading.Lock()

    def client_for(self, account: Account) -> ProviderAdapter:
        key = (account.provider, account.base_url)
        with self._lock:
            if key not in self._built:
                self._built[key] = PROVIDERS[account.provider](account.base_url, self.http)
            return self._built[key]
