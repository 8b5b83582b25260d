"""A simulator for every provider the relay can reach, by the provider's registry name.

The local emulation, seeding and the demo go through this map, never a provider by name:
adding a provider is one simulator class here, next to its adapter in
``optout_relay.providers.registry`` (a test checks that both name the same providers).
"""

from __future__ import annotations

from collections.abc import Mapping

from optout_relay_dev.simulators.base import ProviderSimulator
from optout_relay_dev.simulators.tatango import TatangoSimulator
from optout_relay_dev.simulators.trackly import TracklySimulator

SIMULATORS: dict[str, type[ProviderSimulator]] = {
    simulator.name: simulator
    for simulator in (
        TracklySimulator,
        TatangoSimulator,
    )
}


def local_secrets() -> dict[str, Mapping[str, str]]:
    """Per provider, what the local emulation's secrets hold: credentials its simulator accepts."""
    return {name: simulator.local_credentials for name, simulator in SIMULATORS.items()}
