"""`optout-relay publish` with scopes: --everywhere, --scope provider, --account, --purposes,
and the CSV/JSONL columns scope, account and purposes (validated by the relay's parser)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import TATANGO_LIST, TRACKLY_LIST, Cli, Local, write_csv


def test_everywhere_from_flags(cli: Cli, local: Local) -> None:
    result = cli.json(
        "publish",
        "--everywhere",
        "--phone",
        "(206) 555-0100",
        "--purposes",
        "Marketing, informational",
        "--event-id",
        "revoke-1",
        "--source",
        "stop-keyword",
    )
    assert result["sent"][0]["event_id"] == "revoke-1"
    assert local.queue_bodies() == [
        {
            "scope": "everywhere",
            "phone_number": "+12065550100",
            "purposes": ["informational", "marketing"],
            "event_id": "revoke-1",
            "source": "stop-keyword",
        }
    ]


def test_every_list_of_one_provider_account(cli: Cli, local: Local) -> None:
    result = cli(
        "publish",
        "--scope",
        "provider",
        "--provider",
        "tatango",
        "--account",
        "tatango-brand-b",
        "--phone",
        "+12065550100",
        "--event-id",
        "brand-b-1",
    )
    assert result.exit_code == 0, result.output
    assert "every tatango list (account tatango-brand-b)" in result.stdout
    assert local.queue_bodies() == [
        {
            "scope": "provider",
            "provider": "tatango",
            "account": "tatango-brand-b",
            "phone_number": "+12065550100",
            "event_id": "brand-b-1",
        }
    ]


def test_a_one_list_event_keeps_its_account(cli: Cli, local: Local) -> None:
    cli.json(
        "publish",
        *("--provider", "tatango", "--account", "tatango-brand-b", "--list-id", str(TATANGO_LIST)),
        *("--phone", "+12065550100", "--event-id", "one-1"),
    )
    assert local.queue_bodies() == [
        {
            "provider": "tatango",
            "phone_number": "+12065550100",
            "list_id": TATANGO_LIST,
            "account": "tatango-brand-b",
            "event_id": "one-1",
        }
    ]


def test_scope_account_and_purposes_columns(cli: Cli, local: Local, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "scoped.csv",
        "scope,provider,account,phone_number,list_number,list_id,purposes,event_id",
        "everywhere,,,(206) 555-0100,,,,e-1",
        'provider,tatango,,(206) 555-0101,,,"marketing, Alerts",e-2',
        "provider,trackly,trackly-b,(206) 555-0102,,,marketing;informational,e-3",
        f",trackly,,(206) 555-0103,{TRACKLY_LIST},,,e-4",
    )
    result = cli.json("publish", "--file", str(path))
    assert result["invalid"] == [] and len(result["sent"]) == 4
    bodies = {body["event_id"]: body for body in local.queue_bodies()}
    assert bodies["e-1"] == {"scope": "everywhere", "phone_number": "+12065550100", "event_id": "e-1"}
    assert bodies["e-2"]["scope"] == "provider" and bodies["e-2"]["purposes"] == ["alerts", "marketing"]
    assert bodies["e-3"]["account"] == "trackly-b"
    assert bodies["e-3"]["purposes"] == ["informational", "marketing"]
    assert "scope" not in bodies["e-4"] and bodies["e-4"]["list_number"] == TRACKLY_LIST


def test_json_lines_scopes(cli: Cli, local: Local, tmp_path: Path) -> None:
    path = tmp_path / "scoped.jsonl"
    lines = [
        {"scope": "everywhere", "phone_number": "+12065550100", "purposes": ["marketing"]},
        {"scope": "provider", "provider": "trackly", "phone_number": "+12065550101"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = cli.json("publish", "--file", str(path))
    assert [sent["line"] for sent in result["sent"]] == [1, 2]
    assert [body.get("scope") for body in local.queue_bodies()] == ["everywhere", "provider"]


def test_dry_run_shows_what_each_event_reaches(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "dry.csv",
        "scope,provider,phone_number,list_id,purposes",
        "everywhere,,+12065550100,,marketing",
        f",tatango,+12065550101,{TATANGO_LIST},",
    )
    result = cli("publish", "--file", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "everywhere for marketing" in result.stdout
    assert f"tatango {TATANGO_LIST}" in result.stdout


def test_purposes_narrow_scopes_only(cli: Cli, local: Local) -> None:
    result = cli(
        "publish",
        *("--provider", "trackly", "--list-number", TRACKLY_LIST, "--phone", "+12065550100"),
        *("--purposes", "marketing"),
    )
    assert result.exit_code == 1
    assert "purposes" in result.output and "nothing was sent" in result.stderr
    assert local.depth(local.state.queue_url) == 0


def test_everywhere_names_no_provider(cli: Cli, local: Local) -> None:
    result = cli("publish", "--everywhere", "--provider", "trackly", "--phone", "+12065550100")
    assert result.exit_code == 1
    assert "nothing was sent" in result.stderr
    assert local.depth(local.state.queue_url) == 0


def test_everywhere_is_one_scope(cli: Cli, local: Local) -> None:
    result = cli("publish", "--everywhere", "--scope", "provider", "--phone", "+12065550100")
    assert result.exit_code == 1
    assert "--everywhere is --scope everywhere" in result.stderr
    assert local.depth(local.state.queue_url) == 0
