"""``optout-relay webhooks show``: what to register at each provider so that its STOPs
reach the webhook receiver (README, "Listening for STOPs").

Tatango: one webhook per list, made with ``POST /api/v2/lists/{ID}/webhooks``; the
callback URL holds the receiver's token. Trackly: one webhook per account, set in the
dashboard (Settings > Webhooks), with a signing secret. Secrets are shown only with
``--show-secrets`` (which reads the webhook secret); otherwise the commands name a shell
variable to set, and say how.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from optout_relay.providers.registry import CONTRACTS
from rich.console import Console
from rich.markup import escape

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.publish import PhoneRegionOption
from optout_relay_dev.cli.target import (
    TARGETS_TABLE,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    RegionOption,
    StackNameOption,
    Target,
    resolve,
)
from optout_relay_dev.cli.targets_access import read_versions

TOKEN_VARIABLE = "TATANGO_WEBHOOK_TOKEN"  # noqa: S105 - a shell variable's name
HIDDEN = "(hidden: --show-secrets shows it)"
NOT_SET = (
    "NOT SET: store the one Trackly shows (or a new one you enter there) as the secret's "
    "trackly_signing_secret; until then Trackly's webhooks are refused (401)"
)

webhooks_app = typer.Typer(
    help="The providers' unsubscribe webhooks: what to register so that STOPs reach the relay.",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class AccountLists:
    account: str
    provider: str
    base_url: str
    credentials: str  # the account's secret (never read here)
    lists: tuple[str, ...]
    in_document: bool


def _local_base_url(target: Target, provider: str, base_url: str) -> str:
    """Locally, an account at the provider's public URL is served by its simulator."""
    if target.local is None or base_url != CONTRACTS[provider].default_base_url:
        return base_url
    return target.local.function_environment.get(f"{provider.upper()}_BASE_URL", base_url)


def accounts(target: Target, phone_region: str) -> list[AccountLists]:
    """Every account an opt-out can reach: the targets document's, and each provider's
    default account where the document has none (its lists are not known here)."""
    versions = read_versions(target, phone_region)
    document = versions.in_force.document if versions.in_force else None
    found = []
    covered = set()
    for account in document.accounts if document else ():
        covered.add(account.provider)
        base = _local_base_url(target, account.provider, account.base_url)
        lists = tuple(item.ref.value for item in account.lists)
        found.append(AccountLists(account.id, account.provider, base, account.secret_id, lists, True))
    for name, contract in CONTRACTS.items():
        if name not in covered:
            base = _local_base_url(target, name, contract.default_base_url)
            found.append(AccountLists(name, name, base, f"the stack's {name} secret", (), False))
    return found


def _secret(target: Target) -> dict[str, str]:
    value = target.client("secretsmanager").get_secret_value(SecretId=target.output(WEBHOOK_SECRET))
    document = json.loads(value["SecretString"])
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}


def tatango_request(account: AccountLists, list_id: str, callback: str) -> dict[str, Any]:
    return {
        "account": account.account,
        "list_id": list_id,
        "method": "POST",
        "url": f"{account.base_url.rstrip('/')}/api/v2/lists/{list_id}/webhooks",
        "body": {
            "webhook": {"url": callback, "unsubscribe": True, "subscribe": False, "message_sent": False}
        },
    }


def curl(request: dict[str, Any]) -> str:
    """The call as a shell command: credentials from variables, the body in a here-document
    (so that ``${TATANGO_WEBHOOK_TOKEN}`` in it expands)."""
    return (
        f'curl -sS -u "$TATANGO_EMAIL:$TATANGO_API_KEY" -X POST {request["url"]} \\\n'
        "  -H 'Content-Type: application/json' --data @- <<EOF\n"
        f"{json.dumps(request['body'])}\nEOF"
    )


def plan(target: Target, show_secrets: bool, phone_region: str) -> dict[str, Any]:
    base = target.output(WEBHOOK_URL).rstrip("/")
    secret = _secret(target) if show_secrets else {}
    token = secret.get("tatango_token") or "${" + TOKEN_VARIABLE + "}"
    signing = secret.get("trackly_signing_secret", "") if show_secrets else HIDDEN
    tatango, trackly = [], []
    for account in accounts(target, phone_region):
        if account.provider == "tatango":
            for list_id in account.lists or ("{LIST_ID}",):
                request = tatango_request(account, list_id, f"{base}/tatango/{token}")
                tatango.append({**request, "credentials": account.credentials, "curl": curl(request)})
        elif account.provider == "trackly":
            trackly.append(
                {
                    "account": account.account,
                    "url": f"{base}/trackly",
                    "events": ["unsubscribe"],
                    "signing_secret": signing or None,
                    "lists": list(account.lists),
                    "credentials": account.credentials,
                }
            )
    return {
        "where": target.description,
        "webhook_url": base + "/",
        "webhook_secret": target.output(WEBHOOK_SECRET),
        "secrets_shown": show_secrets,
        "tatango": tatango,
        "trackly": trackly,
    }


@webhooks_app.command("show")
def show(
    ctx: typer.Context,
    *,
    show_secrets: Annotated[
        bool,
        typer.Option("--show-secrets", help="Read the webhook secret and show the token and signing secret."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the plan as JSON on stdout.")] = False,
    phone_region: PhoneRegionOption = "US",
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """Per account, the exact callback URL to register: Tatango's webhook API call per
    list (curl), Trackly's dashboard setting. Secrets only with --show-secrets."""
    target = resolve(
        stack_name, region, state_dir_of(ctx), required=[WEBHOOK_URL, WEBHOOK_SECRET, TARGETS_TABLE]
    )
    document = plan(target, show_secrets, phone_region)
    if json_output:
        terminal.print_json(document)
        return
    render(document)


def render(document: dict[str, Any]) -> None:
    out = Console(highlight=False, emoji=False, soft_wrap=True)  # ":secret:" is in every secret ARN
    out.print(f"[bold]Webhook receiver[/] of {escape(document['where'])}: {escape(document['webhook_url'])}")
    out.print(f"Its secret: {escape(document['webhook_secret'])}\n")
    out.print("[bold]Tatango[/]: one webhook per list, made with the account's login and API key.")
    if not document["secrets_shown"]:
        read = (
            f"aws secretsmanager get-secret-value --secret-id {document['webhook_secret']} "
            "--query SecretString --output text"
        )
        pick = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"tatango_token\"])'"
        out.print(
            f"Set {TOKEN_VARIABLE} to the secret's tatango_token first (or run this with --show-secrets):\n"
            f'  {TOKEN_VARIABLE}="$({read} | {pick})"',
            markup=False,
            soft_wrap=True,
        )
    for request in document["tatango"]:
        out.print(
            f"\n# account {request['account']}, list {request['list_id']} "
            f"(TATANGO_EMAIL and TATANGO_API_KEY: {request['credentials']})",
            markup=False,
            soft_wrap=True,
        )
        out.print(request["curl"], markup=False, soft_wrap=True)
    out.print("\n[bold]Trackly[/]: in each account's dashboard, Settings > Webhooks:")
    for setting in document["trackly"]:
        lists = ", ".join(setting["lists"]) or "the account's lists"
        secret = setting["signing_secret"] or NOT_SET
        out.print(f"  account {escape(setting['account'])} ({escape(lists)})", soft_wrap=True)
        out.print(f"    URL:            {setting['url']}", markup=False, soft_wrap=True)
        out.print("    events:         unsubscribe", markup=False)
        out.print(f"    signing secret: {secret}", markup=False, soft_wrap=True)
