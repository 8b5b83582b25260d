"""US federal holidays, as the maintained ``holidays`` library reports them (no hand-kept table).

Which days: the library's ``PUBLIC`` category for the United States without a
subdivision, i.e. the legal public holidays of 5 U.S.C. 6103 (New Year's Day,
Martin Luther King Jr. Day, Washington's Birthday, Memorial Day, Juneteenth,
Independence Day, Labor Day, Columbus Day, Veterans Day, Thanksgiving Day, Christmas
Day), each on the day the library says it is observed: a holiday on a Saturday on
the Friday before, on a Sunday on the Monday after. Days federal offices close by
executive order (the library's ``GOVERNMENT`` category, e.g. Christmas Eve 2024) are
business days here: they are announced at short notice, so a deadline computed at
receipt would change afterwards, and counting them would only make deadlines later.

Cold start: ``holidays.US`` imports ``holidays.countries``, whose ``__init__`` imports
all ~250 country modules: about 50 ms more of a cold start than the US alone. So the US
module is loaded on its own from the installed package, on the first deadline
computed rather than at import; should the library move that file, the public
``country_holidays("US")`` is used instead, slower to load but the same calendar.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable
from datetime import date
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from holidays import HolidayBase

Calendar = Callable[..., "HolidayBase"]

_US_MODULE_NAME = "holidays.countries.united_states"
_US_MODULE_FILE = ("countries", "united_states.py")
_CATEGORIES = ("public",)
TABLE_PATH = Path(__file__).with_name("us_federal_holidays.json")
TABLE_YEARS = range(2020, 2051)


def is_federal_holiday(day: date) -> bool:
    return day in federal_holidays(day.year)


@lru_cache(maxsize=64)
def federal_holidays(year: int) -> frozenset[date]:
    """The federal holidays of ``year``, observed dates included (New Year's Day on a Saturday
    is observed on 31 December of the year before, and the library lists it in that year).

    From the table generated from the library (``optout_relay_dev.holiday_table``; a
    cold start reads it instead of importing the library), else from the library."""
    listed = _table().get(str(year))
    if listed is not None:
        return frozenset(date.fromisoformat(day) for day in listed)
    return library_holidays(year)


def library_holidays(year: int) -> frozenset[date]:
    return frozenset(_library.united_states()(years=year, categories=_CATEGORIES))


@lru_cache(maxsize=1)
def _table() -> dict[str, list[str]]:
    try:
        years = json.loads(TABLE_PATH.read_text(encoding="utf-8"))["years"]
    except (OSError, ValueError, KeyError):
        return {}
    return years if isinstance(years, dict) else {}


def load_united_states(source: Path | None = None) -> Calendar:
    """The library's US calendar class, from its own module file when it is where expected.

    ``source`` defaults to that file inside the installed package.
    """
    import holidays

    source = source or Path(holidays.__file__).parent.joinpath(*_US_MODULE_FILE)
    spec = importlib.util.spec_from_file_location(_US_MODULE_NAME, source) if source.is_file() else None
    if spec is None or spec.loader is None:
        return partial(holidays.country_holidays, "US")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Calendar, module.UnitedStates)


class _Library:
    """The calendar, loaded once by whichever record worker needs it first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calendar: Calendar | None = None

    def united_states(self) -> Calendar:
        with self._lock:
            if self._calendar is None:
                self._calendar = load_united_states()
            return self._calendar


_library = _Library()
