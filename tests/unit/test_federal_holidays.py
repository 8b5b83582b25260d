"""US federal holidays come from the holidays library, loaded without its ~250 other countries."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import holidays
from optout_relay.domain.federal_holidays import federal_holidays, is_federal_holiday, load_united_states


def public_api(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("US", years=year))


def test_the_us_module_loaded_on_its_own_gives_the_public_api_calendar() -> None:
    for year in range(1995, 2061):
        assert federal_holidays(year) == public_api(year), year


def test_falls_back_to_the_public_api_when_the_module_file_is_not_where_expected(tmp_path: Path) -> None:
    calendar = load_united_states(tmp_path / "no_such_module.py")
    assert set(calendar(years=2026)) == set(holidays.country_holidays("US", years=2026))


def test_observed_dates_are_the_library_s() -> None:
    assert is_federal_holiday(date(2026, 7, 3))  # Independence Day (Saturday) observed on Friday
    assert not is_federal_holiday(date(2026, 7, 6))
    assert is_federal_holiday(date(2027, 12, 31))  # New Year's Day 2028 (Saturday), observed in 2027
    assert is_federal_holiday(date(2022, 12, 26))  # Christmas (Sunday) observed on Monday
    assert is_federal_holiday(date(2026, 6, 19))  # Juneteenth
    assert not is_federal_holiday(date(2020, 6, 19))  # before Juneteenth became a federal holiday


def test_only_statutory_holidays_not_executive_order_closures() -> None:
    assert not is_federal_holiday(date(2024, 12, 24))  # Christmas Eve 2024: offices closed by order
    assert not is_federal_holiday(date(2025, 1, 9))  # National Day of Mourning for President Carter
    assert not is_federal_holiday(date(2026, 11, 27))  # the day after Thanksgiving
    assert not is_federal_holiday(date(2021, 1, 20))  # Inauguration Day is a holiday in the DC area only


LOADED_MODULES = """
import json, sys
from datetime import UTC, datetime
from optout_relay.domain import deadline
loaded = {"at_import": sorted(sys.modules)}
deadline.deadline_at(datetime(2026, 11, 20, tzinfo=UTC))
loaded["after_a_deadline"] = sorted(sys.modules)
deadline.deadline_at(datetime(2075, 11, 20, tzinfo=UTC))
loaded["after_a_year_beyond_the_table"] = sorted(sys.modules)
print(json.dumps(loaded))
"""


def test_holidays_load_only_for_a_year_beyond_the_table_without_the_other_countries_or_aws() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOADED_MODULES], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    at_import, after = set(loaded["at_import"]), set(loaded["after_a_deadline"])
    beyond = set(loaded["after_a_year_beyond_the_table"])

    assert "holidays" not in at_import
    assert "holidays" not in after  # the generated table: a cold start pays no library import
    assert "holidays" in beyond
    assert not any(name.startswith("holidays.countries") for name in beyond)  # not ~250 countries
    assert not any(name == "boto3" or name.startswith("optout_relay.aws") for name in beyond)


def test_the_generated_table_is_what_the_library_says() -> None:
    from optout_relay.domain.federal_holidays import TABLE_YEARS, federal_holidays, library_holidays

    for year in (TABLE_YEARS[0], 2026, 2027, TABLE_YEARS[-1]):
        assert federal_holidays(year) == library_holidays(year)
