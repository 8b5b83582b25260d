"""Settings: read once, typed, every problem reported clearly at start-up."""

from __future__ import annotations

import pytest
from optout_relay.errors import ConfigurationError
from optout_relay.settings import Settings

REQUIRED = {
    "RESULTS_TABLE_NAME": "results",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq",
    "TRACKLY_SECRET_ID": "trackly",
    "TATANGO_SECRET_ID": "tatango",
}


def test_defaults() -> None:
    settings = Settings.from_env(REQUIRED)
    assert settings.results_table_name == "results"
    assert settings.providers["trackly"].base_url == "https://app.tracklysms.com"
    assert settings.providers["tatango"].base_url == "https://app.tatango.com"
    assert settings.providers["tatango"].secret_id == "tatango"
    assert settings.provider_timeout_seconds == 10
    assert settings.retry_max_delay_seconds == 30
    assert settings.default_phone_region == "US"
    assert settings.max_receive_count == 5
    assert settings.ledger_retention_days == 0


def test_overrides() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "TRACKLY_BASE_URL": "https://api.tracklysms.com/",
            "PROVIDER_TIMEOUT_SECONDS": "2.5",
            "RETRY_MAX_DELAY_SECONDS": "5",
            "DEFAULT_PHONE_REGION": "ca",
            "MAX_RECEIVE_COUNT": "8",
        }
    )
    assert settings.providers["trackly"].base_url == "https://api.tracklysms.com"
    assert settings.provider_timeout_seconds == 2.5
    assert settings.retry_max_delay_seconds == 5
    assert settings.default_phone_region == "CA"
    assert settings.max_receive_count == 8


def test_all_missing_settings_are_named_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({})
    for name in REQUIRED:
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROVIDER_TIMEOUT_SECONDS", "ten"),
        ("PROVIDER_TIMEOUT_SECONDS", "0"),
        ("RETRY_MAX_DELAY_SECONDS", "-1"),
        ("MAX_RECEIVE_COUNT", "many"),
        ("DEFAULT_PHONE_REGION", "USA"),
        ("TATANGO_BASE_URL", "http://app.tatango.com"),
        ("TRACKLY_BASE_URL", "ftp://127.0.0.1"),
        ("TRACKLY_BASE_URL", "https://user:pw@app.tracklysms.com"),
        ("TRACKLY_MAX_RPS", "101"),  # beyond what one budget item can take
    ],
)
def test_malformed_setting_is_a_clear_error(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({**REQUIRED, name: value})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:8000"])
def test_plain_http_only_for_loopback(url: str) -> None:
    assert Settings.from_env({**REQUIRED, "TATANGO_BASE_URL": url}).providers["tatango"].base_url == url


def test_targets_table_is_optional() -> None:
    assert Settings.from_env(REQUIRED).targets_table_name is None
    assert Settings.from_env({**REQUIRED, "TARGETS_TABLE_NAME": "  "}).targets_table_name is None
    settings = Settings.from_env({**REQUIRED, "TARGETS_TABLE_NAME": "relay-targets"})
    assert settings.targets_table_name == "relay-targets"


def test_provider_defaults_come_from_the_settings() -> None:
    settings = Settings.from_env(
        {**REQUIRED, "TATANGO_MAX_RPS": "unlimited", "TRACKLY_BASE_URL": "http://127.0.0.1:9"}
    )
    defaults = settings.provider_defaults()
    assert defaults["tatango"].max_rps is None
    assert defaults["tatango"].secret_id == "tatango"
    assert defaults["trackly"].base_url == "http://127.0.0.1:9"
    assert defaults["trackly"].rules.list_field == "list_number"
