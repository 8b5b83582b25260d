"""The local tooling's simulators follow the relay's provider registry: one per provider,
with credentials the provider's contract reads and list references it accepts."""

from __future__ import annotations

import pytest
from optout_relay.providers.registry import CONTRACTS, PROVIDERS
from optout_relay_dev.emulator import LOCAL_FUNCTION_OVERRIDES
from optout_relay_dev.simulators.registry import SIMULATORS, local_secrets


def test_every_provider_has_a_simulator_and_no_other() -> None:
    assert list(SIMULATORS) == list(PROVIDERS)
    assert set(local_secrets()) == set(PROVIDERS)
    assert {f"{name.upper()}_MAX_RPS" for name in PROVIDERS} <= set(LOCAL_FUNCTION_OVERRIDES)


@pytest.mark.parametrize("name", list(SIMULATORS))
def test_local_credentials_are_what_the_contract_reads(name: str) -> None:
    credentials = CONTRACTS[name].credentials_from(SIMULATORS[name].local_credentials)
    assert credentials.api_key


@pytest.mark.parametrize("name", list(SIMULATORS))
def test_sample_lists_are_valid_and_distinct(name: str) -> None:
    contract = CONTRACTS[name]
    values = [
        contract.parse_list_value(SIMULATORS[name].sample_list(index), "US").value for index in range(100)
    ]
    assert len(set(values)) == 100
