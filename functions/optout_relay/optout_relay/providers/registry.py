"""Every provider the relay can reach, by the name producers put in ``provider``."""

from __future__ import annotations

from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.tatango import TatangoAdapter
from optout_relay.providers.trackly import TracklyAdapter

PROVIDERS: dict[str, type[ProviderAdapter]] = {
    TracklyAdapter.name: TracklyAdapter,
    TatangoAdapter.name: TatangoAdapter,
}
