"""``optout-relay status PHONE``: every ledger outcome for one number (a Query), by event."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from optout_relay.domain.phone import InvalidPhone, normalise_phone

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.event_groups import group_by_event, latest_outcomes, render_groups
from optout_relay_dev.cli.ledger_view import SETTLED, query_partition
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
    """Every ledger outcome for a phone number, at every account and list, by event.

    A fan-out event (everywhere, or every list of a provider) shows its summary: the
    targets it selected, the targets document version, how many have settled, and
    each target's outcome. One DynamoDB Query on the ledger's partition key (never a Scan).
    """
    try:
        number = normalise_phone(phone, phone_region.upper(), field_name="the phone number")
    except InvalidPhone as error:
        raise CliError(str(error)) from None
    target = resolve(stack_name, region, state_dir_of(ctx), required=[TABLE])
    groups = group_by_event(query_partition(target.client("dynamodb"), target.output(TABLE), number.e164))
    if json_output:
        terminal.print_json(
            {
                "phone_number": number.e164,
                "items": [row for group in groups for row in group.rows],
                "events": [group.to_json() for group in groups],
            }
        )
        return
    out = terminal.stdout()
    if not groups:
        out.print(
            f"No ledger entries for {number.e164} in {target.description}: no opt-out for it has been "
            "processed (it may still be in the queue)."
        )
        return
    rows = sum(len(group.rows) for group in groups)
    out.print(f"[bold]{number.e164}[/]: {len(groups)} event(s), {rows} target outcome(s)")
    out.print(render_groups(groups))
    fan_outs = [group for group in groups if group.fan_out]
    open_fan_outs = [group for group in fan_outs if not group.complete]
    if fan_outs:
        out.print(
            f"Fan-outs: {len(fan_outs) - len(open_fan_outs)} of {len(fan_outs)} complete"
            + (
                f"; not yet: {', '.join(f'{g.event_id} ({g.settled}/{g.targets})' for g in open_fan_outs)}"
                if open_fan_outs
                else ""
            )
            + "."
        )
    latest = latest_outcomes(groups)
    unsettled = sorted(f"{a} {lst} ({s})" for (a, lst), s in latest.items() if s not in SETTLED)
    if not unsettled:
        counts = Counter(latest.values())
        out.print(
            f"[green]Opted out everywhere it was sent:[/] {len(latest)} target(s), "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            + "."
        )
    else:
        out.print(
            f"[red]Not settled at {len(unsettled)} of {len(latest)} target(s):[/] {', '.join(unsettled)}. "
            "See `optout-relay dlq list`."
        )
