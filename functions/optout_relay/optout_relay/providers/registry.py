"""Every provider the relay can reach, by the name producers put in ``provider``.

One line per provider below; everything else (settings, targets document, CLI,
template checks) reads these two maps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from optout_relay.domain.targets import ProviderDefaults
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.contract import ProviderContract
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
