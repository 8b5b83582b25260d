"""``optout-relay targets validate | apply | show | diff``: the targets document."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
import yaml
from optout_relay.aws.targets_store import LATEST_MAX_AGE_SECONDS
from optout_relay.domain.targets import TargetsDocument
from optout_relay.domain.targets_document import ACCOUNT_KEYS, InvalidTargetsDocument
from rich import box
from rich.markup import escape
from rich.table import Table

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.publish import PhoneRegionOption
from optout_relay_dev.cli.target import TARGETS_TABLE, RegionOption, StackNameOption, Target, resolve
from optout_relay_dev.cli.targets_access import (
    Versions,
    create_local_secrets,
    encoded_size,
    parse_document,
    put_version,
    read_document_file,
    read_versions,
    secrets_the_function_cannot_read,
    who_applies,
)
from optout_relay_dev.cli.targets_changes import Changes, diff_documents
from optout_relay_dev.simulators.registry import local_secrets

MAX_CHANGES_SHOWN = 60
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
FileArgument = Annotated[Path, typer.Argument(help="The document: a .yaml/.yml or .json file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]

targets_app = typer.Typer(
    help="The targets document: the provider accounts and lists an opt-out can reach.",
    no_args_is_help=True,
)


def load_valid(path: Path, phone_region: str) -> tuple[Any, TargetsDocument]:
    """The file's document, or every problem on stderr and a non-zero exit."""
    raw = read_document_file(path)
    try:
        document = parse_document(raw, phone_region)
    except InvalidTargetsDocument as error:
        err = terminal.stderr()
        for problem in error.problems:
            err.print(f"  {escape(problem)}", soft_wrap=True)
        raise CliError(f"{path} is not a valid targets document ({len(error.problems)} problem(s))") from None
    encoded_size(raw)
    return raw, document


def describe(document: TargetsDocument) -> str:
    by_provider: dict[str, tuple[int, int]] = {}
    for account in document.accounts:
        accounts, lists = by_provider.get(account.provider, (0, 0))
        by_provider[account.provider] = (accounts + 1, lists + len(account.lists))
    parts = [
        f"{name} {lists} on {accounts} account(s)" for name, (accounts, lists) in sorted(by_provider.items())
    ]
    return f"{len(document.accounts)} account(s), {document.list_count} list(s): {', '.join(parts)}"


def changes_table(changes: Changes, title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("account", no_wrap=True)
    table.add_column("list", overflow="fold")
    table.add_column("detail", overflow="fold", ratio=1)
    marks = {"added": "[green]+[/]", "removed": "[red]-[/]", "changed": "[yellow]~[/]"}
    for change in changes.items[:MAX_CHANGES_SHOWN]:
        table.add_row(marks[change.kind], change.account, change.list or "(account)", escape(change.detail))
    if len(changes.items) > MAX_CHANGES_SHOWN:
        table.add_row("", f"... and {len(changes.items) - MAX_CHANGES_SHOWN} more", "", "(--json lists all)")
    return table


def _warn_about_versions(target: Target, versions: Versions) -> None:
    for number, problems in versions.refused:
        terminal.stderr().print(
            f"[yellow]note:[/] version {number} in {escape(target.description)} fails validation and is "
            f"not in force ({len(problems)} problem(s), first: {escape(problems[0])})",
            soft_wrap=True,
        )


def _warn_about_secrets(target: Target, document: TargetsDocument) -> None:
    unreadable = secrets_the_function_cannot_read(target, document)
    for line in unreadable:
        terminal.stderr().print(
            f"[yellow]warning:[/] {escape(line)}: the function's role cannot read it", soft_wrap=True
        )


def _warn_about_base_urls(target: Target, raw: Any) -> None:
    """The local emulation's function calls the simulators unless an account names another
    base URL; one off this machine would not answer (no network), so its targets time out
    and end in the DLQ as ``failed``. Read from the raw document: parsing fills in the
    default base URL, which is not the user's choice."""
    if not target.is_local:
        return
    for account in raw.get("accounts", []) if isinstance(raw, dict) else []:
        base_url = account.get("base_url") if isinstance(account, dict) else None
        if isinstance(base_url, str) and urlsplit(base_url).hostname not in LOOPBACK_HOSTS:
            terminal.stderr().print(
                f"[yellow]warning:[/] {escape(str(account.get('id')))}: base_url {escape(base_url)} is not "
                "the local simulator; its calls will fail. Leave base_url out to use the simulator.",
                soft_wrap=True,
            )


@targets_app.command("validate")
def validate(
    file: FileArgument, *, phone_region: PhoneRegionOption = "US", json_output: JsonOption = False
) -> None:
    """Check a document offline: every problem, each with its path. Exit 1 if any."""
    raw, document = load_valid(file, phone_region)
    if json_output:
        terminal.print_json({"valid": True, "accounts": len(document.accounts), "lists": document.list_count})
        return
    terminal.stdout().print(
        f"[green]{escape(str(file))} is valid:[/] {describe(document)}; {encoded_size(raw):,} bytes stored."
    )


@targets_app.command("diff")
def diff(
    ctx: typer.Context,
    file: FileArgument,
    *,
    phone_region: PhoneRegionOption = "US",
    json_output: JsonOption = False,
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """What `apply FILE` would change in the version in force (nothing is written)."""
    raw, document = load_valid(file, phone_region)
    target = resolve(stack_name, region, state_dir_of(ctx), required=[TARGETS_TABLE])
    versions = read_versions(target, phone_region)
    changes = diff_documents(versions.in_force.document if versions.in_force else None, document)
    in_force = versions.in_force.stored.version if versions.in_force else None
    if json_output:
        terminal.print_json({"in_force": in_force, "changes": [c.as_json() for c in changes.items]})
        return
    _warn_about_versions(target, versions)
    _warn_about_secrets(target, document)
    _warn_about_base_urls(target, raw)
    base = f"version {in_force}" if in_force else "no document (the default accounts)"
    out = terminal.stdout()
    if not changes:
        out.print(f"No change: {escape(str(file))} says what {base} says.")
        return
    out.print(changes_table(changes, f"From {base} to {file}: {changes.summary()}"))


@targets_app.command("apply")
def apply(
    ctx: typer.Context,
    file: FileArgument,
    *,
    phone_region: PhoneRegionOption = "US",
    json_output: JsonOption = False,
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """Validate FILE and store it as the next version; print what changed.

    An invalid document is refused whole, with every problem listed. Two applies at once
    cannot both win: the second is refused and writes nothing.
    """
    raw, document = load_valid(file, phone_region)
    target = resolve(stack_name, region, state_dir_of(ctx), required=[TARGETS_TABLE])
    result = apply_document(target, raw, document, phone_region, quiet=json_output)
    if json_output:
        terminal.print_json(result)


def apply_document(
    target: Target,
    raw: Any,
    document: TargetsDocument,
    phone_region: str,
    *,
    quiet: bool = False,
    verbose: bool = True,
) -> dict[str, Any]:
    """Store ``raw`` as the next version of ``target``'s table (the caller validated it);
    ``quiet``: nothing on stdout (the caller prints JSON); not ``verbose``: only warnings
    (the caller says what was applied)."""
    versions = read_versions(target, phone_region)
    in_force = versions.in_force
    changes = diff_documents(in_force.document if in_force else None, document)
    out = terminal.stderr() if quiet else terminal.stdout()
    _warn_about_versions(target, versions)
    _warn_about_secrets(target, document)
    _warn_about_base_urls(target, raw)
    if in_force is not None and in_force.stored.version == versions.latest and not changes:
        out.print(f"No change: version {versions.latest} already says this; nothing was written.")
        return {"version": versions.latest, "applied": False, "changes": []}
    version = versions.latest + 1
    put_version(target, version, raw, who_applies(target))
    if target.is_local:
        for secret in create_local_secrets(target, document, local_secrets()):
            if verbose:
                terminal.stderr().print(f"note: created the local secret {escape(secret)}")
    result = {"version": version, "applied": True, "changes": [c.as_json() for c in changes.items]}
    if not verbose:
        return result
    base = f"version {in_force.stored.version}" if in_force else "no document"
    out.print(changes_table(changes, f"Applied version {version} (from {base}): {changes.summary()}"))
    out.print(
        f"[green]Version {version} is stored[/] in {escape(target.description)}; the function uses it within "
        f"{LATEST_MAX_AGE_SECONDS} s, no redeploy. {describe(document)}."
    )
    return result


@targets_app.command("show")
def show(
    ctx: typer.Context,
    *,
    phone_region: PhoneRegionOption = "US",
    json_output: JsonOption = False,
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """The version in force: when and by whom it was applied, and the document itself."""
    target = resolve(stack_name, region, state_dir_of(ctx), required=[TARGETS_TABLE])
    versions = read_versions(target, phone_region)
    in_force = versions.in_force
    if json_output:
        terminal.print_json(
            {
                "version": in_force.stored.version if in_force else None,
                "applied_at": in_force.stored.applied_at if in_force else None,
                "applied_by": in_force.stored.applied_by if in_force else None,
                "document": in_force.stored.body if in_force else None,
                "refused_versions": [number for number, _ in versions.refused],
            }
        )
        return
    _warn_about_versions(target, versions)
    out = terminal.stdout()
    if in_force is None:
        out.print(
            f"No targets document in force in {escape(target.description)}: the relay uses one default "
            "account per provider and no lists, so only events that name a provider and list are "
            "relayed. Apply one with `optout-relay targets apply FILE`."
        )
        return
    stored = in_force.stored
    out.print(
        f"[bold]Version {stored.version}[/] in force in {escape(target.description)}, applied "
        f"{escape(stored.applied_at)} by {escape(stored.applied_by)}: {describe(in_force.document)}."
    )
    out.print(f"# optout-relay targets document, version {stored.version}", markup=False, highlight=False)
    text = yaml.safe_dump(readable(stored.body), sort_keys=False, allow_unicode=True)
    out.print(text.rstrip(), markup=False)


def readable(body: Any) -> Any:
    """The stored body (canonical JSON: sorted keys) with keys in the order people write
    them: id, provider, secret_id, ..., lists; a list's reference before its purposes."""

    def ordered(mapping: dict[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
        keys = [k for k in first if k in mapping] + [k for k in mapping if k not in first]
        return {k: mapping[k] for k in keys}

    if not isinstance(body, dict) or not isinstance(body.get("accounts"), list):
        return body
    accounts = []
    for entry in body["accounts"]:
        account = ordered(entry, ACCOUNT_KEYS) if isinstance(entry, dict) else entry
        if isinstance(account, dict) and isinstance(account.get("lists"), list):
            account["lists"] = [
                ordered(item, tuple(k for k in item if k != "purposes")) if isinstance(item, dict) else item
                for item in account["lists"]
            ]
        accounts.append(account)
    return {**body, "accounts": accounts}
