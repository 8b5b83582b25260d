"""Writes (or with ``--check``, verifies) the function's table of US federal holidays.

The table is generated from the maintained ``holidays`` library, never edited by hand:
the function reads it instead of importing the library on a cold start (about 40 ms),
and falls back to the library for a year outside it. ``make test`` fails when the table
and the installed library disagree, so a library update that changes the calendar (a new
federal holiday) shows up as a one-command regeneration: ``make holidays``.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version

from optout_relay.domain.federal_holidays import TABLE_PATH, TABLE_YEARS, library_holidays


def table() -> dict[str, object]:
    return {
        "generated_by": "python -m optout_relay_dev.holiday_table (from the holidays library)",
        "holidays_version": version("holidays"),
        "years": {
            str(year): sorted(day.isoformat() for day in library_holidays(year)) for year in TABLE_YEARS
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the table is not what the library says")
    args = parser.parse_args(argv)
    wanted = table()
    if args.check:
        current = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
        if current.get("years") != wanted["years"]:
            print(f"{TABLE_PATH} disagrees with the holidays library: run `make holidays`", file=sys.stderr)
            return 1
        print(f"{TABLE_PATH} agrees with the holidays library.")
        return 0
    TABLE_PATH.write_text(json.dumps(wanted, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
