"""``optout-relay status PHONE``: every ledger outcome for one number (a Query)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from optout_relay.domain.phone import InvalidPhone, normalise_phone

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.ledger_view import SETTLED, ledger_table, list_value, query_phone, sort_key
from optout_relay_dev.cli.publish import PhoneRegionOption
from optout_relay_dev.cli.target import TABLE, RegionOption, StackNameOption, resolve


def status(
    ctx: typer.Context,
    *,
    phone: Annotated[str, typer.Argument(help="The number: E.164, or national (see --phone-region).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the ledger items as JSON.")] = False,
    phone_region: PhoneRegionOption = "US",
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """Every ledger outcome for a phone number, at every provider and list.

    One DynamoDB Query on the ledger's partition key (never a Scan).
    """
    try:
        number = normalise_phone(phone, phone_region.upper(), field_name="the phone number")
    except InvalidPhone as error:
        raise CliError(str(error)) from None
    target = resolve(stack_name, region, state_dir_of(ctx), required=[TABLE])
    items = sorted(query_phone(target.client("dynamodb"), target.output(TABLE), number.e164), key=sort_key)
    if json_output:
        terminal.print_json({"phone_number": number.e164, "items": items})
        return
    out = terminal.stdout()
    if not items:
        out.print(
            f"No ledger entries for {number.e164} in {target.description}: no opt-out for it has been "
            "processed (it may still be in the queue)."
        )
        return
    out.print(ledger_table(items, title=f"{number.e164}: {len(items)} ledger item(s)"))
    latest: dict[tuple[str, str], str] = {}
    for item in items:  # oldest first: the last one per target is the latest
        latest[(str(item.get("provider")), list_value(item))] = str(item.get("status"))
    counts = Counter(latest.values())
    unsettled = sorted(f"{p} {lst} ({s})" for (p, lst), s in latest.items() if s not in SETTLED)
    if not unsettled:
        out.print(
            f"[green]Opted out everywhere it was sent:[/] {len(latest)} provider target(s), "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            + "."
        )
    else:
        out.print(
            f"[red]Not settled at {len(unsettled)} of {len(latest)} target(s):[/] {', '.join(unsettled)}. "
            "See `optout-relay dlq list`."
        )
